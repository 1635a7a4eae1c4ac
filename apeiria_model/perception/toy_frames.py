"""Analytic RGB-D frames of a floor plus axis-aligned boxes (exact, no dependencies).

The full simulator lives in ``perception.sim``; this tiny ray caster exists so the
perception math can be tested against frames whose every pixel is known in closed
form, independently of the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apeiria_model.perception.frame import CameraIntrinsics, RGBDFrame


@dataclass(frozen=True)
class ToyBox:
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    rgb: tuple[int, int, int] = (200, 40, 40)


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """camera_to_world of an optical frame (x right, y down, z forward) at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(v, float) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, eye
    return m


def render_boxes(boxes: list[ToyBox], intr: CameraIntrinsics, camera_to_world: np.ndarray,
                 floor_rgb=(120, 120, 120), floor: bool = True, max_depth: float = 10.0) -> RGBDFrame:
    """Ray-cast the floor (z = 0) and the boxes; pixels hitting nothing get depth 0."""
    pose = np.asarray(camera_to_world, float)
    us, vs = np.meshgrid(np.arange(intr.width), np.arange(intr.height))
    # Unnormalised ray with unit optical-axis component: the hit parameter t is z-depth.
    d_cam = np.stack([(us - intr.cx) / intr.fx, (vs - intr.cy) / intr.fy, np.ones_like(us, float)], -1)
    d = d_cam @ pose[:3, :3].T
    o = pose[:3, 3]
    best = np.full(us.shape, np.inf)
    ids = np.full(us.shape, -1, np.int32)
    color = np.zeros(us.shape + (3,), np.uint8)
    if floor:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = -o[2] / d[..., 2]
        hit = (t > 0) & np.isfinite(t)
        best[hit] = t[hit]
        color[hit] = floor_rgb
    for k, b in enumerate(boxes):
        lo = np.asarray(b.center) - np.asarray(b.size) / 2
        hi = np.asarray(b.center) + np.asarray(b.size) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (lo - o) / d
            t2 = (hi - o) / d
        tn = np.nanmax(np.minimum(t1, t2), axis=-1)
        tf = np.nanmin(np.maximum(t1, t2), axis=-1)
        hit = (tn <= tf) & (tf > 0) & (tn > 0) & (tn < best)
        best[hit] = tn[hit]
        ids[hit] = k
        color[hit] = b.rgb
    depth = np.where(np.isfinite(best) & (best <= max_depth), best, 0.0).astype(np.float32)
    color[depth == 0] = 0
    ids[depth == 0] = -1
    return RGBDFrame(color=color, depth=depth, intrinsics=intr, camera_to_world=pose, instance_ids=ids)
