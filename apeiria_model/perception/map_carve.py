"""Which voxels of a map object a frame contradicts.

Segments only ever add voxels to the map, so whatever an under-segmented view fused
into an object stays there: a neighbour's side (a kettle in the stove's segment), or
walls the segmenter did not know yet in the first view (a chair joined to two strips of
wall, 2.7 m wide). A later frame contradicts such a voxel when the camera sees the
voxel's spot (depth at or behind it) and the pixel belongs to something else:

* another object's segment at the voxel's depth (``by_objects``): checked at the
  voxel's own pixel, so the voxels along the seam between two objects, fused in from
  views where the two were one segment, are taken back one frame at a time. Only a
  surface *at* the voxel counts, not one behind it: the voxel's pixel on the 4-pixel
  grid may lie just past the object's outline, on what stands behind it (a chair's edge
  over the desk), and seeing that is no evidence against the chair;
* structure, i.e. no segment at all (floor, walls, ceiling; ``by_structure``): checked
  on the 3x3 grid pixels around it, all of which must agree, because a single pixel
  off the object is common at its silhouette (depth noise, 4 cm voxels, the grid's
  stride) and the object's own outline must not erode.

Nearer depth means occluded: no evidence. Pixels of segments the map ignored (too few
points) are no evidence either. Pure functions; ``ObjectMap`` halves the hits of what
they return.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apeiria_model.perception.frame import RGBDFrame
from apeiria_model.perception.projection import point_to_pixel

NO_SEGMENT = -1   # owner of a pixel no segment holds (structure, invalid depth)
IGNORED = -2      # owner of a pixel of a segment the map skipped


@dataclass
class OwnerImage:
    """Per pixel, the map object whose segment holds it this frame (or NO_SEGMENT /
    IGNORED), and the segmenter's sampling grid (segments hold grid pixels only)."""

    owner: np.ndarray        # int64 [H, W]
    stride: tuple[int, int]  # rows, cols
    offset: tuple[int, int]  # first grid row, first grid col


def owner_image(owners: list[tuple[np.ndarray, int]], shape: tuple[int, int]) -> OwnerImage | None:
    """From (pixels [N, 2] (row, col), object id or IGNORED) per segment. None when no
    segment holds a usable pixel. Pixel rows outside the image are skipped."""
    h, w = shape
    owner = np.full((h, w), NO_SEGMENT, np.int64)
    used = []
    for pix, oid in owners:
        p = np.asarray(pix)
        if p.ndim != 2 or p.shape[1] != 2 or len(p) == 0 or not np.issubdtype(p.dtype, np.integer):
            continue
        p = p[(p[:, 0] >= 0) & (p[:, 0] < h) & (p[:, 1] >= 0) & (p[:, 1] < w)]
        if len(p):
            owner[p[:, 0], p[:, 1]] = oid
            used.append(p)
    if not used:
        return None
    allp = np.concatenate(used)
    rows, cols = np.unique(allp[:, 0]), np.unique(allp[:, 1])
    sr = int(np.min(np.diff(rows))) if len(rows) > 1 else 1
    sc = int(np.min(np.diff(cols))) if len(cols) > 1 else 1
    return OwnerImage(owner, (sr, sc), (int(rows[0]) % sr, int(cols[0]) % sc))


def contradicted(points: np.ndarray, oid: np.ndarray | int, frame: RGBDFrame, img: OwnerImage, margin: float,
                 by_objects: bool, by_structure: bool) -> np.ndarray:
    """[N] bool: the voxels (mean points [N, 3]) this frame contradicts; ``oid``: the
    object each belongs to ([N], or one id for all: one projection for every object)."""
    out = np.zeros(len(points), bool)
    if len(points) == 0 or not (by_objects or by_structure):
        return out
    h, w = frame.depth.shape
    (sr, sc), (r0, c0) = img.stride, img.offset
    u, v, z = point_to_pixel(points, frame.intrinsics, frame.camera_to_world)
    u, v = np.nan_to_num(u, nan=-1.0), np.nan_to_num(v, nan=-1.0)
    ok = (z > 0.1) & (u > -0.5) & (u < w - 0.5) & (v > -0.5) & (v < h - 0.5)
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return out
    # the nearest grid pixel, kept inside the grid at the image border
    ci = np.clip(np.round((u[idx] - c0) / sc), 0, (w - 1 - c0) // sc).astype(np.int64)
    ri = np.clip(np.round((v[idx] - r0) / sr), 0, (h - 1 - r0) // sr).astype(np.int64)
    zi = z[idx]
    own = np.broadcast_to(np.asarray(oid, np.int64), (len(points),))[idx]
    max_ci, max_ri = (w - 1 - c0) // sc, (h - 1 - r0) // sr

    def cell(dr: int, dc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rr = np.clip(ri + dr, 0, max_ri) * sr + r0
        cc = np.clip(ci + dc, 0, max_ci) * sc + c0
        d = frame.depth[rr, cc].astype(np.float64)
        ok = np.isfinite(d) & (d > 0)
        return ok & (d >= zi - margin), ok & (np.abs(d - zi) <= margin), img.owner[rr, cc]

    hit = np.zeros(len(idx), bool)
    if by_objects:
        _, at, who = cell(0, 0)
        hit |= at & (who >= 0) & (who != own)
    if by_structure:
        allgone = np.ones(len(idx), bool)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                seen, _, who = cell(dr, dc)
                allgone &= seen & (who == NO_SEGMENT)
        hit |= allgone
    out[idx] = hit
    return out
