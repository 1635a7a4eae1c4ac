"""Axis-aligned box geometry shared by relations, metrics and perception."""

from __future__ import annotations

import numpy as np


def box_iou(center_a, size_a, center_b, size_b) -> float:
    """3D IoU of two axis-aligned boxes given as centre + size (ScanRefer convention)."""
    ca, sa = np.asarray(center_a, float), np.abs(np.asarray(size_a, float))
    cb, sb = np.asarray(center_b, float), np.abs(np.asarray(size_b, float))
    lo = np.maximum(ca - sa / 2, cb - sb / 2)
    hi = np.minimum(ca + sa / 2, cb + sb / 2)
    inter = float(np.prod(np.clip(hi - lo, 0.0, None)))
    union = float(np.prod(sa) + np.prod(sb)) - inter
    return inter / union if union > 0 else 0.0


def pairwise_iou(centers_a, sizes_a, centers_b, sizes_b) -> np.ndarray:
    """IoU matrix [len(a), len(b)] for axis-aligned boxes (vectorised)."""
    ca = np.asarray(centers_a, float).reshape(-1, 1, 3)
    sa = np.abs(np.asarray(sizes_a, float)).reshape(-1, 1, 3)
    cb = np.asarray(centers_b, float).reshape(1, -1, 3)
    sb = np.abs(np.asarray(sizes_b, float)).reshape(1, -1, 3)
    lo = np.maximum(ca - sa / 2, cb - sb / 2)
    hi = np.minimum(ca + sa / 2, cb + sb / 2)
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=-1)
    union = np.prod(sa, axis=-1) + np.prod(sb, axis=-1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def ground_overlap_area(center_a, size_a, center_b, size_b) -> float:
    """Overlap area of the two boxes' footprints on the ground (x-y) plane."""
    ca, sa = np.asarray(center_a, float)[:2], np.asarray(size_a, float)[:2]
    cb, sb = np.asarray(center_b, float)[:2], np.asarray(size_b, float)[:2]
    lo = np.maximum(ca - sa / 2, cb - sb / 2)
    hi = np.minimum(ca + sa / 2, cb + sb / 2)
    return float(np.prod(np.clip(hi - lo, 0.0, None)))


def box_gap(center_a, size_a, center_b, size_b) -> float:
    """Euclidean distance between the closest points of two boxes (0 when touching)."""
    ca, sa = np.asarray(center_a, float), np.asarray(size_a, float)
    cb, sb = np.asarray(center_b, float), np.asarray(size_b, float)
    d = np.abs(ca - cb) - (sa + sb) / 2
    return float(np.linalg.norm(np.clip(d, 0.0, None)))


def horizontal_gap(center_a, size_a, center_b, size_b) -> float:
    """Like :func:`box_gap` but on the ground plane only."""
    return box_gap(np.asarray(center_a, float)[:2], np.asarray(size_a, float)[:2],
                   np.asarray(center_b, float)[:2], np.asarray(size_b, float)[:2])
