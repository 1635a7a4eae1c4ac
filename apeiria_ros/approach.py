"""Navigation goal for a grounded object: where a robot should stand to face it.

Pure numpy (no ROS). Candidate directions around the target's footprint are tried;
along each, the first spot at >= ``standoff`` from the target's footprint where a disc
of ``robot_radius`` overlaps no other object's footprint wins. The closest such spot
is chosen, preferring the side the target faces, then the observer's side. The pose
lies on the floor (z = 0) with its heading towards the target centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from apeiria_model.scene.model import Scene, SceneObject


@dataclass(frozen=True)
class ApproachPose:
    x: float
    y: float
    yaw: float
    distance: float  # from the target's footprint edge


def _footprint_exit(o: SceneObject, d: np.ndarray) -> float:
    """Distance from the centre to the footprint edge along unit direction d."""
    half = o.s[:2] / 2.0
    with np.errstate(divide="ignore"):
        t = np.where(np.abs(d) > 1e-9, half / np.abs(d), np.inf)
    return float(np.min(t))


def approach_pose(scene: Scene, target_id: int, standoff: float = 0.6, robot_radius: float = 0.3,
                  max_extra: float = 2.0, step: float = 0.05, directions: int = 16,
                  obstacle_max_bottom: float = 1.8) -> ApproachPose | None:
    """None when no free spot exists within ``standoff + max_extra`` on any side."""
    target = scene.get(target_id)
    c = target.c[:2]
    obstacles = [o for o in scene.objects if o.id != target_id and o.bottom < obstacle_max_bottom]
    lo = np.array([o.min_corner[:2] for o in obstacles]).reshape(-1, 2)
    hi = np.array([o.max_corner[:2] for o in obstacles]).reshape(-1, 2)
    front = None
    if target.front is not None:
        f = np.asarray(target.front[:2], float)
        front = f / np.linalg.norm(f) if np.linalg.norm(f) > 1e-9 else None
    v = np.asarray(scene.default_viewpoint().position[:2], float) - c
    view = v / np.linalg.norm(v) if np.linalg.norm(v) > 1e-9 else np.zeros(2)
    offsets = np.arange(0.0, max_extra + 1e-9, step)          # [K] distances beyond the standoff
    best: tuple | None = None
    for k in range(directions):
        a = 2.0 * math.pi * k / directions
        d = np.array([math.cos(a), math.sin(a)])
        exit_t = _footprint_exit(target, d)
        ts = exit_t + standoff + offsets                        # [K]
        pts = c[None, :] + ts[:, None] * d[None, :]             # [K, 2]
        if len(obstacles):
            nearest = np.clip(pts[:, None, :], lo[None], hi[None])  # [K, M, 2]
            hit = (np.linalg.norm(pts[:, None, :] - nearest, axis=2) < robot_radius).any(axis=1)
        else:
            hit = np.zeros(len(ts), bool)
        free = np.flatnonzero(~hit)
        if not free.size:
            continue
        i = int(free[0])
        # Closest free spot first; then the side the target faces; then the observer's.
        cost = (round(float(offsets[i]), 6), round(-float(d @ front), 6) if front is not None else 0.0,
                -float(d @ view))
        p = pts[i]
        yaw = math.atan2(c[1] - p[1], c[0] - p[0])
        cand = ApproachPose(float(p[0]), float(p[1]), yaw, float(ts[i] - exit_t))
        if best is None or cost < best[0]:
            best = (cost, cand)
    return None if best is None else best[1]
