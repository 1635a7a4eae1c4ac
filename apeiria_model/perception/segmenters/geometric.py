"""Class-agnostic segmentation from geometry (+ colour edges), in image space for speed.

Steps, all on a strided pixel grid (about 160 columns whatever the camera):
1. back-project the grid to world points, estimate per-pixel normals from neighbours;
2. remove structure: the floor (lowest well-supported horizontal level, refined by a
   least-squares plane), the ceiling, and walls (RANSAC on the vertical-normal points,
   accepted only when wide and tall);
3. cut links between neighbouring pixels at depth discontinuities and where both the
   surface orientation and the colour change (a mug standing on a desk);
4. connected components (scipy.ndimage.label) of the remaining pixels, then per
   segment its pixels, world points and colours.
Whole-cloud DBSCAN / RANSAC on 300k points costs ~1 s; this whole pass is ~10-20 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from apeiria_model.perception.frame import RGBDFrame
from apeiria_model.perception.projection import depth_to_world_grid
from apeiria_model.perception.segment import Segment


@dataclass
class GeometricConfig:
    grid_width: int = 160            # columns of the working grid (stride = width // this)
    floor_mode: str = "estimate"     # "estimate" (lowest horizontal level) or "known"
    floor_height: float = 0.0        # used when floor_mode == "known" (metres, world z)
    floor_tolerance: float = 0.03    # points this close to the floor plane are floor
    ceiling_min_height: float = 2.0  # horizontal levels above this, seen from below, are ceiling
    remove_walls: bool = True
    wall_min_width: float = 1.5      # a vertical plane is a wall only if at least this wide...
    wall_min_height: float = 1.2     # ...and this tall (furniture is narrower or lower)
    wall_tolerance: float = 0.03     # points this close to a wall plane are wall
    max_walls: int = 4               # RANSAC rounds for walls per frame
    jump_abs: float = 0.04           # depth-discontinuity threshold: abs + rel * depth (m)
    jump_rel: float = 0.04
    normal_break_deg: float = 35.0   # orientation change that, together with...
    color_break: float = 0.06        # ...this chromaticity change, separates two surfaces
    color_break_alone: float = 0.12  # a chromaticity change this large separates on its own
    min_pixels: int = 10             # smaller components (on the grid) are noise
    max_extent: float = 3.5          # larger components are leftover structure (m)
    seed: int = 0                    # RANSAC randomness, fixed for repeatable maps


def _grid_normals(p: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel unit normals from central differences; ok=False where neighbours are missing."""
    dx = np.zeros_like(p)
    dy = np.zeros_like(p)
    dx[:, 1:-1] = p[:, 2:] - p[:, :-2]
    dy[1:-1, :] = p[2:, :] - p[:-2, :]
    ok = np.zeros_like(valid)
    ok[1:-1, 1:-1] = (valid[1:-1, 2:] & valid[1:-1, :-2] & valid[2:, 1:-1] & valid[:-2, 1:-1]
                      & valid[1:-1, 1:-1])
    n = np.cross(dy, dx)  # image y down x right: this order points towards the camera
    norm = np.linalg.norm(n, axis=-1)
    ok &= norm > 1e-12
    n = n / np.where(norm > 1e-12, norm, 1.0)[..., None]
    return n.astype(np.float32), ok


def _fit_plane(pts: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane n.p = d through points (n unit)."""
    c = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - c, full_matrices=False)
    n = vt[-1]
    return n, float(n @ c)


class GeometricSegmenter:
    name = "geometric"

    def __init__(self, config: GeometricConfig | None = None):
        self.config = config or GeometricConfig()
        self._rng = np.random.default_rng(self.config.seed)

    # -- structure -----------------------------------------------------------------
    def _floor_mask(self, p, valid, n, nok) -> np.ndarray:
        cfg = self.config
        z = p[..., 2]
        if cfg.floor_mode == "known":
            return valid & (np.abs(z - cfg.floor_height) < cfg.floor_tolerance)
        up = valid & nok & (n[..., 2] > 0.9)
        if up.sum() < 50:
            return np.zeros_like(valid)
        zs = z[up]
        lo = float(zs.min())
        hist, edges = np.histogram(zs, bins=np.arange(lo - 0.01, lo + 3.0, 0.02))
        # Lowest level holding at least 3% of the upward points (or 300 pixels): the floor.
        need = min(300, 0.03 * len(zs))
        idx = np.nonzero(hist >= need)[0]
        if len(idx) == 0:
            return np.zeros_like(valid)
        level = float((edges[idx[0]] + edges[idx[0] + 1]) / 2)
        near = up & (np.abs(z - level) < 0.05)
        pts = p[near]
        if len(pts) > 2000:
            pts = pts[self._rng.choice(len(pts), 2000, replace=False)]
        nrm, d = _fit_plane(pts.astype(np.float64))
        if nrm[2] < 0:
            nrm, d = -nrm, -d
        if nrm[2] < 0.97:  # not horizontal after all: fall back to the level itself
            return valid & (np.abs(z - level) < cfg.floor_tolerance)
        dist = p.reshape(-1, 3) @ nrm - d
        return valid & (np.abs(dist.reshape(z.shape)) < cfg.floor_tolerance)

    def _ceiling_mask(self, p, valid, n, nok) -> np.ndarray:
        z = p[..., 2]
        down = valid & nok & (n[..., 2] < -0.9) & (z > self.config.ceiling_min_height)
        if down.sum() < 200:
            return np.zeros_like(valid)
        level = float(np.median(z[down]))
        return valid & (np.abs(z - level) < self.config.floor_tolerance * 2) & (z > self.config.ceiling_min_height)

    def _wall_mask(self, p, valid, n, nok, taken) -> np.ndarray:
        cfg = self.config
        cand = valid & nok & ~taken & (np.abs(n[..., 2]) < 0.2)
        out = np.zeros_like(valid)
        flat_p = p.reshape(-1, 3)
        for _ in range(cfg.max_walls):
            idx = np.flatnonzero(cand)
            if len(idx) < 200:
                break
            pts = flat_p[idx]
            best_inl, best = None, None
            for _ in range(40):  # 2-point RANSAC of vertical planes (normal is horizontal)
                a, b = pts[self._rng.choice(len(pts), 2, replace=False)]
                t = b[:2] - a[:2]
                tn = float(np.hypot(*t))
                if tn < 0.2:
                    continue
                nrm = np.array([-t[1] / tn, t[0] / tn, 0.0])
                d = float(nrm @ a)
                inl = np.abs(pts @ nrm - d) < cfg.wall_tolerance
                if best_inl is None or inl.sum() > best_inl.sum():
                    best_inl, best = inl, (nrm, d)
            if best_inl is None or best_inl.sum() < 150:
                break
            nrm, d = best
            ip = pts[best_inl]
            along = ip[:, :2] @ np.array([-nrm[1], nrm[0]])
            width = np.percentile(along, 98) - np.percentile(along, 2)
            height = np.percentile(ip[:, 2], 98) - np.percentile(ip[:, 2], 2)
            # Remove the tested inliers from candidates whether or not they form a wall.
            cand.flat[idx[best_inl]] = False
            if width < cfg.wall_min_width or height < cfg.wall_min_height:
                continue
            dist = np.abs(flat_p @ nrm - d).reshape(valid.shape)
            out |= valid & (dist < cfg.wall_tolerance)
            cand &= ~out
        return out

    # -- segmentation ----------------------------------------------------------------
    def segment(self, frame: RGBDFrame) -> list[Segment]:
        """Segments of a validated frame (see projection.validate_frame)."""
        cfg = self.config
        intr = frame.intrinsics
        stride = max(1, intr.width // cfg.grid_width)
        p, valid = depth_to_world_grid(frame.depth, intr, frame.camera_to_world, stride)
        if not valid.any():
            return []
        n, nok = _grid_normals(p, valid)
        structure = self._floor_mask(p, valid, n, nok)
        structure |= self._ceiling_mask(p, valid, n, nok)
        if cfg.remove_walls:
            structure |= self._wall_mask(p, valid, n, nok, structure)
        keep = valid & ~structure

        rgb = frame.color[::stride, ::stride].astype(np.float32)
        chroma = rgb / (rgb.sum(axis=-1, keepdims=True) + 30.0)  # +30: dark pixels are unstable
        depth = frame.depth[::stride, ::stride]
        cos_break = np.cos(np.radians(cfg.normal_break_deg))

        def broken(a: tuple, b: tuple) -> np.ndarray:
            """True where the link between grid pixels a (slice) and b (shifted slice) is cut."""
            gap = np.linalg.norm(p[a] - p[b], axis=-1)
            thr = cfg.jump_abs + cfg.jump_rel * np.maximum(depth[a], depth[b])
            cut = gap > thr
            turn = (np.sum(n[a] * n[b], axis=-1) < cos_break) & nok[a] & nok[b]
            dc = np.linalg.norm(chroma[a] - chroma[b], axis=-1)
            return cut | (turn & (dc > cfg.color_break)) | (dc > cfg.color_break_alone)

        # A pixel whose link to a neighbour is cut becomes a boundary if it is the farther
        # one (or equally far): the nearer surface keeps its outline.
        boundary = np.zeros_like(keep)
        h_a, h_b = (slice(None), slice(None, -1)), (slice(None), slice(1, None))
        v_a, v_b = (slice(None, -1), slice(None)), (slice(1, None), slice(None))
        for a, b in ((h_a, h_b), (v_a, v_b)):
            cut = broken(a, b) & keep[a] & keep[b]
            far_b = depth[b] >= depth[a]
            boundary[b] |= cut & far_b
            boundary[a] |= cut & ~far_b
        core = keep & ~boundary
        labels, count = ndimage.label(core)
        if count == 0:
            return []
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        order = np.argsort(labels.ravel(), kind="stable")
        starts = np.cumsum(sizes)[:-1]
        flat_p = p.reshape(-1, 3)
        rows_all, cols_all = np.divmod(np.arange(labels.size), labels.shape[1])
        segments: list[Segment] = []
        for k in range(1, count + 1):
            if sizes[k] < cfg.min_pixels:
                continue
            idx = order[starts[k - 1]:starts[k - 1] + sizes[k]]
            pts = flat_p[idx]
            if float(np.max(pts.max(axis=0) - pts.min(axis=0))) > cfg.max_extent:
                continue
            r, c = rows_all[idx] * stride, cols_all[idx] * stride
            segments.append(Segment(pixels=np.stack([r, c], -1).astype(np.int32),
                                    points=pts.astype(np.float32),
                                    colors=frame.color[r, c], label=None, confidence=None))
        return segments
