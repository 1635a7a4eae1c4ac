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

import math
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
    wall_min_width: float = 1.2      # a vertical plane is a wall only if at least this wide...
    wall_min_height: float = 1.0     # ...and this tall...
    wall_behind: float = 0.15        # ...and (almost) nothing is seen more than this behind it...
    wall_behind_share: float = 0.03  # ...(at most this share of its inlier count)
    wall_tolerance: float = 0.012    # points within abs + rel * depth of a wall plane are wall
    wall_tolerance_rel: float = 0.003
    max_walls: int = 6               # RANSAC rounds for walls per frame
    max_remembered_walls: int = 16   # wall planes kept across frames
    wall_same_gap: float = 0.03      # a parallel wall fit this close to a remembered one is that wall
    manhattan_snap_deg: float = 5.0  # wall normals this close to the room's axes snap to them (0 = off)
    jump_abs: float = 0.04           # depth-discontinuity threshold: abs + rel * depth (m)
    jump_rel: float = 0.04
    normal_break_deg: float = 35.0   # orientation change that, together with...
    color_break: float = 0.06        # ...this chromaticity change, separates two surfaces
    color_break_alone: float = 0.12  # a chromaticity change this large separates on its own
    brightness_break: float = 1.6    # brightness ratio that separates equally oriented surfaces
    part_brightness_break: float = math.inf  # proposals only: a brightness ratio that, with a chromaticity
                                     # change over color_break, marks a possible seam at any orientation;
                                     # each segment carries the parts these seams cut it into, for the
                                     # learned segmenter to split when it confidently disagrees (inf = off)
    part_min_pixels: int = 20        # smaller proposed parts join the largest part of their segment
    min_pixels: int = 10             # smaller components (on the grid) are noise
    extend_to_walls: bool = True     # thin segments right in front of a wall reach back to it...
    wall_hung_depth: float = 0.25    # ...when all their points are within this of the wall
    wall_hung_merge_gap: float = 0.05  # pieces hanging on one wall this close on it are one object (< 0 = off)...
    wall_hung_merge_depth: float = math.inf  # ...when both are at most this deep (metres, before reaching the wall)
    support_split: bool = True       # split things standing on a surface off that surface...
    support_min_height: float = 0.012  # ...when they rise this far above it (smoothed z, metres)
    stack_merge: bool = True         # merge vertically stacked pieces of one object...
    stack_gap: float = 0.35          # ...up to this far apart in z (office chair seat over its base)
    merge_contained: bool = True     # a piece whose 3D box lies inside another's belongs to it
    merge_underneath: bool = True    # pieces lying under another segment's footprint belong to it
                                     # (legs, star bases; assumes nothing is stored under furniture)
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


def _smooth_grid(p: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """3x3 mean of the valid neighbours: normals from raw points are dominated by depth
    noise at grid spacing (1 cm noise vs 2.5 cm spacing at 3 m)."""
    w = valid.astype(np.float32)
    num = ndimage.uniform_filter(p * w[..., None], size=(3, 3, 1), mode="nearest")
    den = ndimage.uniform_filter(w, size=3, mode="nearest")
    return np.where(den[..., None] > 0, num / np.maximum(den, 1e-6)[..., None], p)


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
        self.walls: list[tuple[np.ndarray, float]] = []
        self._wall_fits: list[int] = []  # fits averaged into each remembered wall
        # Proposed parts (Segment.parts) cost ~3 ms a frame: only when a consumer asks
        # (LearnedSegmenter with split_overlap > 0 turns this on).
        self.propose_parts = False

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

    def _wall_mask(self, p, valid, n, nok, taken, depth, camera) -> np.ndarray:
        """Walls: planes remembered from earlier frames, plus new RANSAC finds this frame.

        Remembering matters: a wall seen whole once is recognised later when only a
        strip of it is in view (too small to pass the width/height test on its own).
        """
        cfg = self.config
        flat_p = p.reshape(-1, 3)
        tol = (cfg.wall_tolerance + cfg.wall_tolerance_rel * depth).ravel()
        out = np.zeros(valid.size, bool)
        for nrm, d in self.walls:
            out |= np.abs(flat_p @ nrm - d) < tol
        out = out.reshape(valid.shape) & valid
        cand = valid & nok & ~taken & ~out & (np.abs(n[..., 2]) < 0.25)
        for _ in range(cfg.max_walls):
            idx = np.flatnonzero(cand)
            if len(idx) < 200:
                break
            if len(idx) > 2500:  # score hypotheses on a subsample: same answer, much faster
                idx = idx[self._rng.choice(len(idx), 2500, replace=False)]
            pts = flat_p[idx]
            ptol = 0.5 * tol[idx]  # score hypotheses tightly: a tilted plane through the wall
            # and a whiteboard on it must not beat the wall itself
            best_inl, best = None, None
            for _ in range(30):  # 2-point RANSAC of vertical planes (normal is horizontal)
                a, b = pts[self._rng.choice(len(pts), 2, replace=False)]
                t = b[:2] - a[:2]
                tn = float(np.hypot(*t))
                if tn < 0.2:
                    continue
                nrm = np.array([-t[1] / tn, t[0] / tn, 0.0], np.float32)
                d = float(nrm @ a)
                inl = np.abs(pts @ nrm - d) < ptol
                if best_inl is None or inl.sum() > best_inl.sum():
                    best_inl, best = inl, (nrm, d)
            if best_inl is None or best_inl.sum() < 100:
                break
            nrm, d = best
            tested = best_inl
            ip = pts[best_inl]
            for _ in range(2):  # refine on the tight inliers (least squares, kept vertical)
                if len(ip) < 3:
                    break
                c = ip[:, :2].mean(axis=0)
                _, _, vt = np.linalg.svd(ip[:, :2] - c, full_matrices=False)
                n2 = vt[-1] / np.linalg.norm(vt[-1])
                nrm = np.array([n2[0], n2[1], 0.0], np.float32)
                d = float(n2 @ c)
                nrm = self._snap(nrm)
                d = float(np.median(ip @ nrm))
                best_inl = np.abs(pts @ nrm - d) < ptol
                ip = pts[best_inl]
            if len(ip) < 3:
                # The refit snapped away from every point (a slanted surface): no plane
                # here; drop the RANSAC inliers so they are not tried again.
                cand.flat[idx[tested]] = False
                continue
            # Remove the tested inliers from candidates whether or not they form a wall.
            cand.flat[idx[best_inl]] = False
            along = ip[:, :2] @ np.array([-nrm[1], nrm[0]])
            a0, a1 = _robust_range(along)
            z0, z1 = _robust_range(ip[:, 2])
            width, height = a1 - a0, z1 - z0
            if width < cfg.wall_min_width or height < cfg.wall_min_height:
                continue
            # Nothing is seen through a wall: a plane with many points behind it is the
            # front of a wardrobe or a bathtub, not a wall (rooms are convex).
            side = np.sign(float(nrm @ camera) - d) or 1.0
            behind = int(np.count_nonzero(side * (flat_p[valid.ravel()] @ nrm - d) < -cfg.wall_behind))
            if behind > cfg.wall_behind_share * len(ip) * (valid.sum() / max(len(pts), 1)):
                continue
            self._remember_wall(nrm, d, camera)
            mask = (np.abs(flat_p @ nrm - d) < tol).reshape(valid.shape) & valid
            out |= mask
            cand &= ~mask
        return out

    def _remember_wall(self, nrm: np.ndarray, d: float, camera: np.ndarray) -> None:
        """Keep a wall plane; of two near-parallel planes within 15 cm (a wall and a
        whiteboard on it), keep the one farther from the camera: nothing is seen
        through a wall, so the real wall is always the farther plane."""
        nrm = nrm.astype(np.float32)
        far = abs(float(nrm @ camera) - d)
        for i, (n0, d0) in enumerate(self.walls):
            dot = float(n0 @ nrm)
            gap = abs(d0 - np.sign(dot) * d)
            if abs(dot) > 0.995 and gap < 0.15:
                if gap < self.config.wall_same_gap:
                    # The same wall again: average the offsets (each fit is biased by
                    # this frame's depth noise; always keeping the farther fit walked
                    # the plane 2 cm behind the wall, out of its own tolerance).
                    w = self._wall_fits[i] if i < len(self._wall_fits) else 1
                    self.walls[i] = (n0, float((w * d0 + np.sign(dot) * d) / (w + 1)))
                    self._wall_fits[i] = w + 1
                elif far > abs(float(n0 @ camera) - d0):
                    self.walls[i] = (nrm, float(d))
                    self._wall_fits[i] = 1
                return
        self.walls.append((nrm, float(d)))
        self._wall_fits.append(1)
        del self.walls[:-self.config.max_remembered_walls]
        del self._wall_fits[:-self.config.max_remembered_walls]

    def _snap(self, nrm: np.ndarray) -> np.ndarray:
        """Snap a wall normal to the room's rectangular (Manhattan) frame -- the first
        remembered wall's directions, else the world axes -- when within
        ``manhattan_snap_deg``: a 1 degree tilt moves a 2 m wall by 3.5 cm, enough to
        swallow a whiteboard hanging on it."""
        lim = np.sin(np.radians(self.config.manhattan_snap_deg))
        if lim <= 0:
            return nrm
        ref = self.walls[0][0] if self.walls else np.array([1.0, 0.0, 0.0], np.float32)
        perp = np.array([-ref[1], ref[0], 0.0], np.float32)
        for axis in (ref, perp):
            c = float(nrm @ axis)
            if np.sqrt(max(0.0, 1 - c * c)) < lim:
                return (np.sign(c) * axis).astype(np.float32)
        return nrm

    def reset(self) -> None:
        """Forget remembered walls (a new environment)."""
        self.walls = []
        self._wall_fits = []
        self._rng = np.random.default_rng(self.config.seed)

    # -- segmentation ----------------------------------------------------------------
    def segment(self, frame: RGBDFrame) -> list[Segment]:
        """Segments of a validated frame (see projection.validate_frame)."""
        cfg = self.config
        intr = frame.intrinsics
        stride = max(1, intr.width // cfg.grid_width)
        p, valid = depth_to_world_grid(frame.depth, intr, frame.camera_to_world, stride)
        if not valid.any():
            return []
        ps = _smooth_grid(p, valid)
        n, nok = _grid_normals(ps, valid)
        structure = self._floor_mask(p, valid, n, nok)
        structure |= self._ceiling_mask(p, valid, n, nok)
        if cfg.remove_walls:
            structure |= self._wall_mask(p, valid, n, nok, structure, frame.depth[::stride, ::stride],
                                         frame.camera_to_world[:3, 3].astype(np.float32))
        keep = valid & ~structure

        rgb = frame.color[::stride, ::stride].astype(np.float32)
        chroma = rgb / (rgb.sum(axis=-1, keepdims=True) + 30.0)  # +30: dark pixels are unstable
        depth = frame.depth[::stride, ::stride]
        cos_break = np.cos(np.radians(cfg.normal_break_deg))
        cos_same = np.cos(np.radians(20.0))
        bright = rgb.sum(axis=-1)

        def broken(a: tuple, b: tuple) -> np.ndarray:
            """True where the link between grid pixels a (slice) and b (shifted slice) is cut."""
            gap = np.linalg.norm(p[a] - p[b], axis=-1)
            thr = cfg.jump_abs + cfg.jump_rel * np.maximum(depth[a], depth[b])
            cut = gap > thr
            turn = (np.sum(n[a] * n[b], axis=-1) < cos_break) & nok[a] & nok[b]
            dc = np.linalg.norm(chroma[a] - chroma[b], axis=-1)
            # Same orientation = same shading, so a brightness step is a material change
            # (black chair against a white desk: same chromaticity, very different albedo).
            same = (np.sum(n[a] * n[b], axis=-1) > cos_same) & nok[a] & nok[b]
            ratio = (bright[a] + 20.0) / (bright[b] + 20.0)
            step = np.maximum(ratio, 1.0 / ratio)
            strong = (cut | (turn & (dc > cfg.color_break)) | (dc > cfg.color_break_alone)
                      | (same & (step > cfg.brightness_break)))
            # Shading alone changes brightness, not chromaticity: both changing together may be
            # a material edge even where the surfaces are slightly turned (a black speaker's side
            # beside a brown table, 20-30 degrees apart: neither "same" nor "turn"). Cutting there
            # outright lost as many objects as it found (a bed's frame from its mattress), so
            # it only proposes parts (see LearnedSegmenter.split_confidence).
            return strong, (dc > cfg.color_break) & (step > cfg.part_brightness_break)

        # A pixel whose link to a neighbour is cut becomes a boundary if it is the farther
        # one (or equally far): the nearer surface keeps its outline.
        boundary = np.zeros_like(keep)
        seam = np.zeros_like(keep)  # weaker cuts that only propose parts
        h_a, h_b = (slice(None), slice(None, -1)), (slice(None), slice(1, None))
        v_a, v_b = (slice(None, -1), slice(None)), (slice(1, None), slice(None))
        for a, b in ((h_a, h_b), (v_a, v_b)):
            strong, weak = broken(a, b)
            cut = strong & keep[a] & keep[b]
            far_b = depth[b] >= depth[a]
            boundary[b] |= cut & far_b
            boundary[a] |= cut & ~far_b
            weak &= keep[a] & keep[b]
            seam[b] |= weak & far_b
            seam[a] |= weak & ~far_b
        core = keep & ~boundary
        labels, count = ndimage.label(core)
        if count == 0:
            return []
        parts_img = _part_image(core, seam) if self.propose_parts and math.isfinite(cfg.part_brightness_break) else None
        labels, count, support_of = _split_and_merge(labels, count, ps, n, nok, chroma, bright, cfg)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        order = np.argsort(labels.ravel(), kind="stable")
        starts = np.cumsum(sizes)[:-1]  # start of label k is starts[k - 1]
        flat_p = p.reshape(-1, 3)
        rows_all, cols_all = np.divmod(np.arange(labels.size), labels.shape[1])
        segments: list[Segment] = []
        hung: list[tuple[int, int, np.ndarray]] = []  # (segment index, wall index, in-wall rectangle)
        for k in range(1, count + 1):
            if sizes[k] < cfg.min_pixels:
                continue
            idx = order[starts[k - 1]:starts[k - 1] + sizes[k]]
            pts = flat_p[idx]
            if float(np.max(pts.max(axis=0) - pts.min(axis=0))) > cfg.max_extent:
                continue
            r, c = rows_all[idx] * stride, cols_all[idx] * stride
            pix = np.stack([r, c], -1).astype(np.int32)
            cols = frame.color[r, c]
            if cfg.extend_to_walls:
                wall = self._hanging_on(pts)
                if wall is not None:
                    nrm, d = self.walls[wall]
                    along = pts @ np.array([-nrm[1], nrm[0], 0.0], np.float32)
                    # How far it stands out of the wall, robust to the depth noise at range.
                    dlo, dhi = _robust_range(pts @ nrm - d)
                    hung.append((len(segments), wall, np.array([along.min(), along.max(), pts[:, 2].min(),
                                                                pts[:, 2].max(), dhi - dlo])))
                    pts, pix, cols = self._extend_to_wall(pts, pix, cols, wall)
            parts = None
            if parts_img is not None and len(pts) == len(idx):  # not for wall-hung pieces (points added)
                parts = _segment_parts(parts_img.ravel()[idx], cfg.part_min_pixels)
            segments.append(Segment(pixels=pix, points=pts.astype(np.float32), colors=cols,
                                    label=None, confidence=None, segment_id=k, support_id=support_of.get(k),
                                    parts=parts))
        if cfg.wall_hung_merge_gap >= 0 and len(hung) > 1:
            segments = _merge_hung(segments, hung, cfg.wall_hung_merge_gap, cfg.wall_hung_merge_depth)
        return segments

    def _hanging_on(self, pts) -> int | None:
        """Index of the known wall a thin segment hangs on (all its points within
        ``wall_hung_depth`` of it), or None."""
        lim = self.config.wall_hung_depth
        for i, (nrm, d) in enumerate(self.walls):
            dist = pts @ nrm - d
            lo, hi = float(dist.min()), float(dist.max())
            if hi - lo <= lim and min(abs(lo), abs(hi)) <= lim:
                return i
        return None

    def _extend_to_wall(self, pts, pix, cols, wall: int):
        """A thin segment just in front of a known wall (picture, whiteboard, window, tv)
        hangs on it: add its points projected onto the wall, so its box reaches the wall
        (the back of a wall-hung object is never visible)."""
        nrm, d = self.walls[wall]
        dist = pts @ nrm - d
        lo, hi = float(dist.min()), float(dist.max())
        if np.sign(lo) != np.sign(hi) or min(abs(lo), abs(hi)) < 0.01:
            return pts, pix, cols  # already touching the wall
        proj = pts - dist[:, None] * nrm[None, :]
        return np.concatenate([pts, proj]), np.concatenate([pix, pix]), np.concatenate([cols, cols])


def _merge_hung(segments: list[Segment], hung, gap: float, max_depth: float = math.inf) -> list[Segment]:
    """Join pieces hanging on the same wall whose rectangles on it touch (within
    ``gap``): a window's frame and glass, a door's panel and its upper half, split by
    colour or by a chair in front of them. Wall-hung objects are never stacked
    against each other, so touching pieces on a wall are one object."""
    parent = list(range(len(hung)))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a in range(len(hung)):
        for b in range(a + 1, len(hung)):
            (_, wa, ra), (_, wb, rb) = hung[a], hung[b]
            if wa != wb:
                continue
            da = max(ra[0] - rb[1], rb[0] - ra[1])  # separation along the wall
            dz = max(ra[2] - rb[3], rb[2] - ra[3])  # and vertically (negative = overlap)
            if max(ra[4], rb[4]) > max_depth and not (da < 0 and dz >= -gap):
                # Something deep (a shelf, a lamp in front of the wall) joins only what it
                # is stacked on or under (a sill under a window), never what it overlaps
                # or stands beside on the wall.
                continue
            if da <= gap and dz <= gap:
                parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for a in range(len(hung)):
        groups.setdefault(find(a), []).append(hung[a][0])
    drop: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort()
        parts = [segments[i] for i in members]
        segments[members[0]] = Segment(
            pixels=np.concatenate([s.pixels for s in parts]), points=np.concatenate([s.points for s in parts]),
            colors=np.concatenate([s.colors for s in parts]), segment_id=parts[0].segment_id,
            support_id=parts[0].support_id)
        drop.update(members[1:])
    return [s for i, s in enumerate(segments) if i not in drop]


def _part_image(core: np.ndarray, seam: np.ndarray) -> np.ndarray:
    """Components of ``core`` with the seams cut too; seam pixels take the label of the
    nearest labelled pixel (so every pixel of a segment belongs to some part)."""
    fine, m = ndimage.label(core & ~seam)
    if m == 0:
        return fine
    _, (ri, ci) = ndimage.distance_transform_edt(fine == 0, return_indices=True)
    return np.where(core, fine[ri, ci], 0)


def _segment_parts(fine: np.ndarray, min_pixels: int) -> np.ndarray | None:
    """Per-pixel part index (0..P-1) of one segment from the fine labels of its pixels,
    parts under ``min_pixels`` joined to the largest; None when fewer than 2 parts remain."""
    ids, inv, counts = np.unique(fine, return_inverse=True, return_counts=True)
    big = counts >= min_pixels
    if big.sum() < 2:
        return None
    order = np.cumsum(big) - 1  # index among the big parts
    largest = int(order[np.argmax(counts)])
    part_of = np.where(big, order, largest)
    return part_of[inv].astype(np.int32)


def _robust_range(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2nd and 98th percentile per column via np.partition (np.percentile's per-call
    overhead dominated the frame time with hundreds of small segments)."""
    n = len(x)
    if n < 50:
        return x.min(axis=0), x.max(axis=0)
    k0, k1 = int(0.02 * (n - 1)), int(0.98 * (n - 1))
    part = np.partition(x, (k0, k1), axis=0)
    return part[k0], part[k1]


def _footprint(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _robust_range(pts[:, :2])


def _split_and_merge(labels, count, p, n, nok, chroma, bright, cfg):
    """Support split + stack merge on the component image (see module doc).

    Split: in a component with a horizontal top (table, desk, shelf), a part standing
    above the top, inside its footprint, much smaller than it, and either away from its
    edges or of another colour, is a separate object (mug, monitor, lamp).
    Merge: two components stacked vertically (touching in z, one footprint inside the
    other, comparable footprint areas), the lower one not a support surface, are one
    object (office chair seat on its base, plant leaves on the pot).
    """
    flat = labels.ravel()
    zs_all = p[..., 2].ravel()
    up_all = (nok & (n[..., 2] > 0.9)).ravel()
    flat_p = p.reshape(-1, 3)
    flat_c = chroma.reshape(-1, 3)
    flat_b = bright.ravel()
    no_merge: set[tuple[int, int]] = set()
    if cfg.support_split:
        order = np.argsort(flat, kind="stable")
        sizes = np.bincount(flat, minlength=count + 1)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        for k in range(1, count + 1):
            if sizes[k] < 60:
                continue
            idx = order[starts[k]:starts[k + 1]]
            zs = zs_all[idx]
            up = up_all[idx]
            if up.sum() < 20:
                continue
            hist, edges = np.histogram(zs[up], bins=np.arange(zs[up].min() - 0.01, zs[up].max() + 0.03, 0.02))
            h = float(edges[np.argmax(hist)] + 0.01)
            top = up & (np.abs(zs - h) < 0.03)
            if top.sum() < 20:
                continue
            h = float(np.median(zs[top]))  # the 2 cm histogram bin only locates the top roughly
            top = up & (np.abs(zs - h) < 0.02)
            tlo, thi = _footprint(flat_p[idx[top]])
            top_area = float(np.prod(np.maximum(thi - tlo, 1e-3)))
            above = zs > h + cfg.support_min_height
            if above.sum() < cfg.min_pixels:
                continue
            sub = np.zeros(labels.size, bool)
            sub[idx[above]] = True
            parts, m = ndimage.label(sub.reshape(labels.shape))
            if m == 0:
                continue
            # Grow each part over its own lower rim (the front face of a laptop is below
            # the cut height but above the top surface), never into the top itself.
            rim = np.zeros(labels.size, bool)
            rim[idx[(zs > h + 0.004) & ~top]] = True
            rim = rim.reshape(labels.shape)
            for _ in range(2):
                grown = ndimage.grey_dilation(parts, size=(3, 3))
                parts = np.where((parts == 0) & rim & (grown > 0), grown, parts)
            pflat = parts.ravel()
            top_c = flat_c[idx[top]].mean(axis=0)
            top_b = float(flat_b[idx[top]].mean())
            for j in range(1, m + 1):
                pidx = np.flatnonzero(pflat == j)
                if len(pidx) < cfg.min_pixels:
                    continue
                plo, phi = _footprint(flat_p[pidx])
                area = float(np.prod(np.maximum(phi - plo, 1e-3)))
                inside = bool(np.all(plo >= tlo - 0.03) and np.all(phi <= thi + 0.03))
                if not inside or area > 0.5 * top_area:
                    continue
                c = flat_p[pidx, :2].mean(axis=0)
                interior = bool(np.all(c - tlo > 0.08) and np.all(thi - c > 0.08))
                dc = float(np.linalg.norm(flat_c[pidx].mean(axis=0) - top_c))
                ratio = float(flat_b[pidx].mean()) / max(top_b, 1.0)
                if interior or dc > 0.04 or not (0.75 < ratio < 1.33):
                    count += 1
                    flat[pidx] = count
                    no_merge.add((k, count))
    if cfg.stack_merge and count > 1:
        sizes = np.bincount(flat, minlength=count + 1)
        order = np.argsort(flat, kind="stable")
        starts = np.concatenate([[0], np.cumsum(sizes)])
        info = {}
        for k in range(1, count + 1):
            if sizes[k] < cfg.min_pixels:
                continue
            idx = order[starts[k]:starts[k + 1]]
            pts = flat_p[idx]
            lo, hi = _footprint(pts)
            zlo, zhi = _robust_range(pts[:, 2])
            up = up_all[idx] & (zs_all[idx] > zhi - 0.03)
            info[k] = (lo, hi, float(zlo), float(zhi), float(np.prod(np.maximum(hi - lo, 1e-3))), int(up.sum()) >= 30)
        parent = list(range(count + 1))

        def find(a):
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        keys = sorted(info)
        if len(keys) > 1:
            # All pair tests at once (broadcasting); only the merging pairs loop in Python.
            lo = np.array([info[k][0] for k in keys])
            hi = np.array([info[k][1] for k in keys])
            z0 = np.array([info[k][2] for k in keys])
            z1 = np.array([info[k][3] for k in keys])
            area = np.array([info[k][4] for k in keys])
            sup = np.array([info[k][5] for k in keys])
            inter_xy = np.prod(np.clip(np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None]), 0, None),
                               axis=-1)
            inter_z = np.clip(np.minimum(z1[:, None], z1[None]) - np.maximum(z0[:, None], z0[None]), 0, None)
            vol = area * np.maximum(z1 - z0, 1e-3)
            # Contained: a piece whose 3D box lies inside another's (books in a bookshelf).
            contained = inter_xy * inter_z >= 0.8 * np.minimum(vol[:, None], vol[None])
            lower_i = z1[:, None] <= z1[None]
            l_z1 = np.where(lower_i, z1[:, None], z1[None])
            u_z0 = np.where(lower_i, z0[None], z0[:, None])
            l_area = np.where(lower_i, area[:, None], area[None])
            u_area = np.where(lower_i, area[None], area[:, None])
            l_sup = np.where(lower_i, sup[:, None], sup[None])
            gap = np.maximum(z0[:, None], z0[None]) - np.minimum(z1[:, None], z1[None])
            # Underneath: legs / a chair's star base lie under the top they carry.
            under = (l_z1 <= u_z0 + 0.05) & (gap <= 0.5) & (l_area <= u_area) & (inter_xy >= 0.8 * l_area)
            # Stacked pieces touching (pot under leaves) or, with a gap, of matching size.
            a_small = np.minimum(area[:, None], area[None])
            a_big = np.maximum(area[:, None], area[None])
            need = np.where(gap < 0.06, 0.25, 0.5)
            stacked = ((gap <= cfg.stack_gap) & (gap >= -0.05) & ~l_sup & (inter_xy >= 0.7 * a_small)
                       & (a_small >= need * a_big))
            merge = stacked | (contained if cfg.merge_contained else False) | (under if cfg.merge_underneath else False)
            for i, j in zip(*np.nonzero(np.triu(merge, 1))):
                a, b = keys[i], keys[j]
                if (a, b) in no_merge or (b, a) in no_merge:
                    continue
                parent[find(a)] = find(b)
        roots = np.array([find(k) for k in range(count + 1)])
        flat = roots[flat]
    else:
        roots = np.arange(count + 1)
    labels = flat.reshape(labels.shape)
    # Which final component each split-off part stands on (the map must not fuse them).
    support_of = {int(roots[new]): int(roots[k]) for k, new in no_merge if roots[new] != roots[k]}
    return labels, count, support_of
