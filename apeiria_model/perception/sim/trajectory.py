"""Camera trajectories through a scene: an orbit around it and a walk through free space.

Both return camera-to-world 4x4 poses (optical frame) aimed at the objects, so most of
them are in view in most frames. The walk plans on a 2-D occupancy grid (object
footprints inflated by a body radius, inside the room), so it never passes through
furniture taller than the knees.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from apeiria_model.perception.sim.camera import look_at_pose
from apeiria_model.perception.sim.room import Room, infer_room
from apeiria_model.scene.model import Scene

EYE_HEIGHT = 1.5
BODY_RADIUS = 0.3
GRID = 0.1  # metres per occupancy cell
MAX_FRAMES = 100_000


def _check_n(n_frames) -> int:
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)):
        raise TypeError(f"n_frames must be an integer, got {type(n_frames).__name__}")
    if not 1 <= n_frames <= MAX_FRAMES:
        raise ValueError(f"n_frames must be between 1 and {MAX_FRAMES}, got {n_frames}")
    return int(n_frames)


def _check_height(height) -> float:
    if isinstance(height, bool) or not isinstance(height, (int, float, np.floating)) or not np.isfinite(height):
        raise ValueError(f"height must be a finite number, got {height!r}")
    return float(height)


def _target(scene: Scene) -> np.ndarray:
    """Where the camera looks: the scene centre, at about table height."""
    lo, hi = scene.bounds()
    c = (lo + hi) / 2.0
    c[2] = lo[2] + min(0.7, 0.5 * (hi[2] - lo[2]) + 0.1)
    return c


def _blocked(scene: Scene, room: Room, height: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupancy grid (True = camera may not stand there) over the room, with its axes."""
    xs = np.arange(room.xmin + GRID / 2, room.xmax, GRID)
    ys = np.arange(room.ymin + GRID / 2, room.ymax, GRID)
    occ = np.zeros((len(xs), len(ys)), dtype=bool)
    for o in scene.objects:
        # Low things (rugs, books on the floor) do not block a walking person's camera
        # path only if they are tiny; anything between knee and head height does.
        if o.top - room.floor_z < 0.15 or o.bottom - room.floor_z > height + 0.2:
            continue
        lo, hi = o.min_corner, o.max_corner
        occ |= ((xs[:, None] >= lo[0]) & (xs[:, None] <= hi[0]) & (ys[None, :] >= lo[1]) & (ys[None, :] <= hi[1]))
    # Inflate by the body radius, and keep off the walls.
    r = int(np.ceil(BODY_RADIUS / GRID))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    occ = ndimage.binary_dilation(occ, structure=(xx ** 2 + yy ** 2) <= r * r)
    margin = int(np.ceil(0.25 / GRID))
    occ[:margin] = occ[-margin:] = True
    occ[:, :margin] = occ[:, -margin:] = True
    return occ, xs, ys


def _nearest_free(points: np.ndarray, occ: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Move each xy point that lies in a blocked cell to the centre of the nearest free cell."""
    if occ.all():
        return points
    _, (ni, nj) = ndimage.distance_transform_edt(occ, return_indices=True)
    out = points.copy()
    for k, p in enumerate(points):
        i = int(np.clip(np.rint((p[0] - xs[0]) / GRID), 0, len(xs) - 1))  # the cell whose centre is nearest
        j = int(np.clip(np.rint((p[1] - ys[0]) / GRID), 0, len(ys) - 1))
        if occ[i, j]:
            out[k] = (xs[ni[i, j]], ys[nj[i, j]])
    return out


def orbit(scene: Scene, n_frames: int, radius: float | None = None, height: float = EYE_HEIGHT,
          room: Room | None = None) -> list[np.ndarray]:
    """Poses on a loop around the scene centre, all looking at it.

    radius=None: a rounded rectangle inside the room, 0.35 m off the walls (the camera
    stays in the room and out of tall furniture). A radius gives a circle instead.
    """
    n = _check_n(n_frames)
    height = _check_height(height)
    room = room or infer_room(scene)
    target = _target(scene)
    centre = np.array([target[0], target[1]])
    angles = -np.pi / 2 + np.linspace(0.0, 2 * np.pi, n, endpoint=False)  # start on the -y side
    if radius is not None:
        if (isinstance(radius, bool) or not isinstance(radius, (int, float, np.floating))
                or not np.isfinite(radius) or radius <= 0):
            raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
        xy = centre + radius * np.column_stack([np.cos(angles), np.sin(angles)])
    else:
        a, b = np.maximum(room.half_extent - 0.35, 0.2)
        rc = room.center[:2]
        c, s = np.cos(angles), np.sin(angles)
        # Superellipse (p = 4): hugs the walls more than an ellipse, so corners stay outside.
        xy = rc + np.column_stack([a * np.sign(c) * np.abs(c) ** 0.5, b * np.sign(s) * np.abs(s) ** 0.5])
        xy = _nearest_free(xy, *_blocked(scene, room, height))
    z = room.floor_z + height
    return [look_at_pose((p[0], p[1], z), target) for p in xy]


def _plan_loop(occ: np.ndarray, waypoints: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Shortest 8-connected grid paths visiting ``waypoints`` in order and back to the first."""
    nx, ny = occ.shape
    idx = -np.ones(occ.shape, dtype=np.int64)
    free = np.argwhere(~occ)
    idx[free[:, 0], free[:, 1]] = np.arange(len(free))
    rows, cols, w = [], [], []
    for di, dj in ((1, 0), (0, 1), (1, 1), (1, -1)):
        a = free
        b = a + [di, dj]
        ok = (b[:, 0] >= 0) & (b[:, 0] < nx) & (b[:, 1] >= 0) & (b[:, 1] < ny)
        a, b = a[ok], b[ok]
        ok = ~occ[b[:, 0], b[:, 1]]
        a, b = a[ok], b[ok]
        rows.append(idx[a[:, 0], a[:, 1]])
        cols.append(idx[b[:, 0], b[:, 1]])
        w.append(np.full(len(a), np.hypot(di, dj)))
    g = coo_matrix((np.concatenate(w), (np.concatenate(rows), np.concatenate(cols))),
                   shape=(len(free), len(free))).tocsr()
    path: list[tuple[int, int]] = []
    cur = waypoints[0]
    for t in waypoints[1:] + waypoints[:1]:
        si, ti = idx[cur], idx[t]
        _, pred = dijkstra(g, directed=False, indices=si, return_predecessors=True)
        if pred[ti] < 0 and si != ti:
            continue  # unreachable from here (a closed-off pocket): skip it, no teleporting
        seg = [ti]
        while seg[-1] != si:
            seg.append(pred[seg[-1]])
        path += [tuple(free[k]) for k in reversed(seg)][1 if path else 0:]
        cur = t
    return path


def walkthrough(scene: Scene, n_frames: int, height: float = EYE_HEIGHT,
                room: Room | None = None) -> list[np.ndarray]:
    """A walk around the room through free space at eye height, looking at the objects.

    At each step the camera looks the way that shows the most objects (with a slight
    preference for the walking direction), smoothed along the path, like a person looking
    around while walking. Falls back to :func:`orbit` if the room has no free space.
    """
    n = _check_n(n_frames)
    height = _check_height(height)
    room = room or infer_room(scene)
    occ, xs, ys = _blocked(scene, room, height)
    free = np.argwhere(~occ)
    if len(free) < 4:
        return orbit(scene, n, height=height, room=room)
    target = _target(scene)
    rc = room.center[:2]
    a, b = np.maximum(room.half_extent - 0.5, 0.2)
    # Eight waypoints on an ellipse inside the room, each snapped to the nearest free cell.
    pts = free * GRID + [room.xmin + GRID / 2, room.ymin + GRID / 2]
    wps: list[tuple[int, int]] = []
    for ang in -np.pi / 2 + np.linspace(0, 2 * np.pi, 8, endpoint=False):
        p = rc + [a * np.cos(ang) * 0.85, b * np.sin(ang) * 0.85]
        k = int(np.argmin(np.linalg.norm(pts - p, axis=1)))
        cell = tuple(free[k])
        if not wps or cell != wps[-1]:
            wps.append(cell)
    cells = _plan_loop(occ, wps)
    if len(cells) < 2:
        return orbit(scene, n, height=height, room=room)
    path = np.array([[xs[i], ys[j]] for i, j in cells])
    # Smooth the staircase of grid steps (circular moving average), then resample evenly.
    k = 7
    if len(path) > 2 * k:
        ker = np.ones(k) / k
        path = np.column_stack([ndimage.convolve1d(path[:, d], ker, mode="wrap") for d in range(2)])
    closed = np.vstack([path, path[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] < 1e-6:
        return orbit(scene, n, height=height, room=room)
    q = np.linspace(0.0, s[-1], n, endpoint=False)
    xy = np.column_stack([np.interp(q, s, closed[:, 0]), np.interp(q, s, closed[:, 1])])
    ahead = np.column_stack([np.interp((q + 0.5) % s[-1], s, closed[:, 0]),
                             np.interp((q + 0.5) % s[-1], s, closed[:, 1])])
    z = room.floor_z + height
    yaws = _gaze_yaws(scene, xy, ahead - xy)
    poses = []
    for p, yaw in zip(xy, yaws):
        d = np.array([np.cos(yaw), np.sin(yaw)])
        look = p + 2.0 * d
        poses.append(look_at_pose((p[0], p[1], z), (look[0], look[1], target[2])))
    return poses


def _gaze_yaws(scene: Scene, xy: np.ndarray, headings: np.ndarray, half_fov_deg: float = 28.0) -> np.ndarray:
    """Per position, the viewing direction (yaw) that sees the most object centres.

    Candidate yaws every 15 degrees score (objects within +-half_fov_deg, nearer than 6 m)
    + a small bonus for looking where one walks; the chosen yaws are then smoothed along
    the path so the camera turns like a head, not a dial.
    """
    cands = np.radians(np.arange(0, 360, 15))
    cdir = np.column_stack([np.cos(cands), np.sin(cands)])
    cos_half = np.cos(np.radians(half_fov_deg))
    centres = scene.centers()[:, :2]
    yaws = np.zeros(len(xy))
    for k, (p, h) in enumerate(zip(xy, headings)):
        v = centres - p
        dist = np.linalg.norm(v, axis=1)
        ok = (dist > 0.4) & (dist < 6.0)
        u = v[ok] / dist[ok, None]
        score = ((u @ cdir.T) >= cos_half).sum(axis=0).astype(float) if len(u) else np.zeros(len(cands))
        hn = np.linalg.norm(h)
        if hn > 1e-9:
            score += 0.5 * (cdir @ (h / hn))
        yaws[k] = cands[int(np.argmax(score))]
    # Circular moving average over a short window.
    w = 2
    sm = np.zeros_like(yaws)
    n = len(yaws)
    for k in range(n):
        idx = [(k + j) % n for j in range(-w, w + 1)]
        sm[k] = np.arctan2(np.sin(yaws[idx]).sum(), np.cos(yaws[idx]).sum())
    return sm


def sweep(scene: Scene, n_frames: int, kind: str = "orbit", **kwargs) -> list[np.ndarray]:
    """``orbit`` or ``walk`` (``walkthrough``) by name."""
    if kind == "orbit":
        return orbit(scene, n_frames, **kwargs)
    if kind in ("walk", "walkthrough"):
        return walkthrough(scene, n_frames, **kwargs)
    raise ValueError(f"unknown trajectory kind {kind!r}; use 'orbit' or 'walk'")
