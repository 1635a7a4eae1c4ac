"""Segment -> fixed-size classifier input (shared by training, torch and ONNX inference).

Per point: xyz relative to the segment centroid, divided by the segment radius (shape
without scale), plus RGB in [-0.5, 0.5]. Per segment: the scale the normalisation
removed, as 6 numbers (horizontal extents sorted, so rotation about z does not change
them; height; bottom and top above the floor; log point count).
"""

from __future__ import annotations

import numpy as np

N_POINTS = 128
POINT_DIM = 6
EXTRA_DIM = 6


def segment_tensors(points: np.ndarray, colors: np.ndarray, n_points: int = N_POINTS,
                    rng: np.random.Generator | None = None,
                    floor_height: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(point features [n_points, 6], extra features [6]) of one segment, float32.

    Without ``rng`` the point subset is deterministic (evenly spaced indices), so the
    same segment always gets the same prediction; training passes an rng to augment.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    cols = np.asarray(colors, dtype=np.float64).reshape(-1, 3)
    m = len(pts)
    if m == 0:
        raise ValueError("segment has no points")
    if rng is None:
        idx = np.linspace(0, m - 1, n_points).round().astype(int) if m >= n_points else np.arange(n_points) % m
    else:
        idx = rng.choice(m, n_points, replace=m < n_points)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = pts.mean(axis=0)
    rel = pts[idx] - centre
    radius = max(float(np.linalg.norm(pts - centre, axis=1).max()), 1e-3)
    feat = np.empty((n_points, POINT_DIM), np.float32)
    feat[:, :3] = rel / radius
    feat[:, 3:] = cols[idx] / 255.0 - 0.5
    ext = hi - lo
    horiz = sorted((float(ext[0]), float(ext[1])), reverse=True)
    extra = np.array([horiz[0], horiz[1], ext[2], lo[2] - floor_height, hi[2] - floor_height,
                      np.log1p(m) / 10.0], np.float32)
    return feat, extra


def batch_tensors(segments, n_points: int = N_POINTS, floor_height: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Stack deterministic inputs for a list of Segments: ([B, N, 6], [B, 6])."""
    if not segments:
        return np.zeros((0, n_points, POINT_DIM), np.float32), np.zeros((0, EXTRA_DIM), np.float32)
    pairs = [segment_tensors(s.points, s.colors, n_points, None, floor_height) for s in segments]
    return np.stack([p for p, _ in pairs]), np.stack([e for _, e in pairs])
