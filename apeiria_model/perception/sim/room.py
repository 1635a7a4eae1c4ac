"""The room around a scene: a tiled floor and four walls (background, instance id -1).

Scenes carry no room outline, so it is inferred: the objects' footprint plus a margin,
except on sides where a thin flat object (window, picture, radiator, wall shelf, flat TV),
or large furniture facing away from that side, sits at the edge of the footprint -- there the
wall goes right behind it, as in the real room; and an observer (the scene's viewpoint)
standing in the margin marks the wall there (the door of a generated room). When the room
is known (the room generator knows it), pass ``Room.from_size``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apeiria_model.perception.sim.mesh import ObjectMesh, Part, box, merge_parts
from apeiria_model.scene.model import Scene, SceneObject

FLOOR_RGB = ((0.74, 0.62, 0.46), (0.68, 0.56, 0.41))  # two tones of light oak, checkered
WALL_RGB = (0.86, 0.84, 0.79)
SKIRTING_RGB = (0.55, 0.5, 0.45)


@dataclass(frozen=True)
class Room:
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    floor_z: float = 0.0
    height: float = 2.6

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.xmin + self.xmax) / 2, (self.ymin + self.ymax) / 2, self.floor_z])

    @property
    def half_extent(self) -> np.ndarray:
        return np.array([(self.xmax - self.xmin) / 2, (self.ymax - self.ymin) / 2])

    @classmethod
    def from_size(cls, width: float, depth: float, height: float = 2.6, origin=(0.0, 0.0, 0.0)) -> "Room":
        """A room spanning [0, width] x [0, depth] from ``origin`` (the generator's convention)."""
        vals = np.array([width, depth, height, *origin], dtype=float)
        if vals.shape != (6,) or not np.all(np.isfinite(vals)) or min(width, depth, height) <= 0:
            raise ValueError(f"room size must be finite and > 0, got {width} x {depth} x {height}")
        x0, y0, z0 = (float(v) for v in origin)
        return cls(x0, y0, x0 + float(width), y0 + float(depth), z0, float(height))

    def contains_xy(self, xy, inset: float = 0.0) -> np.ndarray:
        p = np.atleast_2d(np.asarray(xy, float))
        return ((p[:, 0] >= self.xmin + inset) & (p[:, 0] <= self.xmax - inset)
                & (p[:, 1] >= self.ymin + inset) & (p[:, 1] <= self.ymax - inset))


def _wall_hung(o: SceneObject) -> bool:
    """Thin and flat against something (window, picture, radiator, wall shelf, flat TV)."""
    thin, wide = sorted((float(o.size[0]), float(o.size[1])))
    return thin <= 0.16 and wide >= 1.8 * thin


def infer_room(scene: Scene, margin: float = 0.8, min_height: float = 2.5) -> Room:
    """Room rectangle around the scene (see module doc); a 4 x 4 m room for an empty scene.

    On 120 generated rooms (data.rooms, seeds 0-119) this put 463 of 480 walls within
    10 cm of the generator's (14 further out, 3 further in); pass ``Room.from_size`` when
    the room is known.
    """
    if not scene.objects:
        return Room(-2.0, -2.0, 2.0, 2.0, 0.0, min_height)
    lo, hi = scene.bounds()
    floor_z = float(lo[2])
    sides = {"xmin": lo[0] - margin, "xmax": hi[0] + margin, "ymin": lo[1] - margin, "ymax": hi[1] + margin}
    tol = 0.05
    for o in scene.objects:
        mn, mx = o.min_corner, o.max_corner
        if _wall_hung(o):
            if o.size[0] <= o.size[1]:  # thin along x: hangs on an x wall
                if mn[0] - lo[0] < tol:
                    sides["xmin"] = lo[0]
                if hi[0] - mx[0] < tol:
                    sides["xmax"] = hi[0]
            else:
                if mn[1] - lo[1] < tol:
                    sides["ymin"] = lo[1]
                if hi[1] - mx[1] < tol:
                    sides["ymax"] = hi[1]
        if o.front is not None and max(o.size[0], o.size[1]) >= 0.8:
            # Large furniture at the edge of the footprint with its back to that edge (a
            # wardrobe facing into the room) stands against a wall. (Small things like chairs
            # around a table often face away from an open edge, so they do not count.)
            f = np.asarray(o.front[:2], float)
            n = float(np.hypot(*f))
            if n < 1e-9:
                continue
            f /= n
            for side, axis, sign, gap in (("xmin", 0, -1, mn[0] - lo[0]), ("xmax", 0, 1, hi[0] - mx[0]),
                                          ("ymin", 1, -1, mn[1] - lo[1]), ("ymax", 1, 1, hi[1] - mx[1])):
                if gap < tol and f[axis] * sign < -0.7:
                    sides[side] = lo[axis] if sign < 0 else hi[axis]
    if scene.viewpoint is not None:
        # The observer stands in the room: an observer in the margin band marks the wall
        # there (generated rooms put it in the doorway).
        p = scene.viewpoint.position
        for side, axis, sign in (("xmin", 0, -1), ("xmax", 0, 1), ("ymin", 1, -1), ("ymax", 1, 1)):
            b = lo[axis] if sign < 0 else hi[axis]
            if 0.0 <= (p[axis] - b) * sign <= margin:
                sides[side] = float(p[axis])
    height = max(min_height, float(hi[2] - floor_z) + 0.3)
    return Room(float(sides["xmin"]), float(sides["ymin"]), float(sides["xmax"]), float(sides["ymax"]),
                floor_z, height)


def room_mesh(room: Room, walls: bool = True, tile: float = 0.6) -> ObjectMesh:
    """Floor tiles (+ walls with a skirting board) as one background mesh, id -1."""
    parts: list[Part] = []
    z = room.floor_z
    # Floor tiles: a checker pattern gives depth cues in colour images; capped count.
    nx = max(1, min(64, int(np.ceil((room.xmax - room.xmin) / tile))))
    ny = max(1, min(64, int(np.ceil((room.ymax - room.ymin) / tile))))
    xs = np.linspace(room.xmin, room.xmax, nx + 1)
    ys = np.linspace(room.ymin, room.ymax, ny + 1)
    for i in range(nx):
        for j in range(ny):
            parts.append(_quad_z(xs[i], xs[i + 1], ys[j], ys[j + 1], z, FLOOR_RGB[(i + j) % 2]))
    if walls:
        t = 0.02  # walls are thin boxes just outside the rectangle: the room inside stays free
        h = room.height
        x0, x1, y0, y1 = room.xmin, room.xmax, room.ymin, room.ymax
        parts += [
            box(x0 - t, x1 + t, y1, y1 + t, z, z + h, WALL_RGB),
            box(x0 - t, x1 + t, y0 - t, y0, z, z + h, WALL_RGB),
            box(x0 - t, x0, y0, y1, z, z + h, WALL_RGB),
            box(x1, x1 + t, y0, y1, z, z + h, WALL_RGB),
            box(x0, x1, y1 - 0.012, y1, z, z + 0.08, SKIRTING_RGB),
            box(x0, x1, y0, y0 + 0.012, z, z + 0.08, SKIRTING_RGB),
            box(x0, x0 + 0.012, y0, y1, z, z + 0.08, SKIRTING_RGB),
            box(x1 - 0.012, x1, y0, y1, z, z + 0.08, SKIRTING_RGB),
        ]
    return merge_parts(parts, -1, "room")


def _quad_z(x0: float, x1: float, y0: float, y1: float, z: float, rgb) -> Part:
    v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], dtype=float)
    tri = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32)  # counter-clockwise: normal +z
    return Part(v, tri, np.asarray(rgb, float))
