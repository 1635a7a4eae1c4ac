"""Simulated RGB-D camera: ray-cast a scene's meshes with Open3D (CPU, no GPU/Vulkan).

One ray per pixel through Open3D's ``RaycastingScene`` gives the hit distance, the mesh
(= object instance) and the triangle; depth is the z-depth along the optical axis, the
instance image comes from the mesh id, and colour is the hit triangle's albedo with
Lambertian shading (a key light from above plus a weak head light), so objects look like
objects and not flat masks.

When the camera stands outside the room (an orbit wider than the walls) the walls facing
it are cut away: rays start where they enter the room, like a dollhouse view.
"""

from __future__ import annotations

import os
import time
from typing import Sequence

import numpy as np
import open3d as o3d

from apeiria_model.perception.frame import CameraIntrinsics, RGBDFrame
from apeiria_model.perception.sim.camera import check_pose, pixel_rays
from apeiria_model.perception.sim.mesh import ObjectMesh
from apeiria_model.perception.sim.noise import SensorNoise
from apeiria_model.perception.sim.room import Room, infer_room, room_mesh
from apeiria_model.perception.sim.shapes import object_mesh, shape_name
from apeiria_model.scene.model import Scene

BACKGROUND_RGB = (0.80, 0.84, 0.88)
LIGHT_DIR = np.array([0.35, 0.25, 1.0]) / np.linalg.norm([0.35, 0.25, 1.0])
AMBIENT, KEY, HEAD = 0.38, 0.42, 0.28
MAX_PIXELS = 4096 * 4096
# Shapes with a meaningful front; when the scene gives none they face the room centre.
_FACING_SHAPES = {"chair", "office_chair", "sofa", "bed", "cabinet", "drawers", "counter", "shelf_unit",
                  "screen", "fridge", "appliance", "washer", "toilet", "sink", "desk", "picture", "mirror",
                  "whiteboard", "window", "clock", "door"}


def check_intrinsics(k: CameraIntrinsics) -> CameraIntrinsics:
    if not isinstance(k, CameraIntrinsics):
        raise TypeError(f"intrinsics must be a CameraIntrinsics, got {type(k).__name__}")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (k.width, k.height)):
        raise ValueError(f"image size must be integers, got {k.width!r} x {k.height!r}")
    if k.width < 1 or k.height < 1 or k.width * k.height > MAX_PIXELS:
        raise ValueError(f"image size {k.width}x{k.height} must be between 1x1 and {MAX_PIXELS} pixels")
    vals = np.array([k.fx, k.fy, k.cx, k.cy], dtype=float)
    if not np.all(np.isfinite(vals)) or k.fx <= 0 or k.fy <= 0:
        raise ValueError(f"focal lengths must be finite and > 0 (fx={k.fx}, fy={k.fy})")
    return k


def _guess_front(center: np.ndarray, room: Room | None, scene_center: np.ndarray) -> tuple[float, float, float]:
    """Face the room centre along the nearest axis (rooms are axis-aligned boxes)."""
    c = room.center if room is not None else scene_center
    d = c[:2] - center[:2]
    if np.hypot(*d) < 1e-6:
        return (0.0, -1.0, 0.0)
    if abs(d[0]) > abs(d[1]):
        return (float(np.sign(d[0])), 0.0, 0.0)
    return (0.0, float(np.sign(d[1])), 0.0)


class SceneRenderer:
    """Renders RGB-D frames of a :class:`Scene` (category shapes) or of given meshes.

    scene: the objects (ids become instance ids). intrinsics: camera (default 640x480,
    69 deg hfov). noise: optional :class:`SensorNoise`. meshes: render these instead of
    category shapes (SDF worlds). room: True = infer floor + walls, a :class:`Room` to
    use one, False/None = no room. walls: draw walls (False: floor only).
    max_range / min_range: depth beyond them reads 0, like a real sensor.

    Build once, render many (the BVH is built in the constructor). The frame counter
    behind the default noise draw and ``last_timing_ms`` are per renderer, so give each
    thread its own renderer (or pass ``frame_index``) for reproducible noise.
    """

    def __init__(self, scene: Scene, intrinsics: CameraIntrinsics | None = None,
                 noise: SensorNoise | None = None, *, meshes: Sequence[ObjectMesh] | None = None,
                 room: bool | Room | None = True, walls: bool = True,
                 max_range: float = 10.0, min_range: float = 0.05):
        if not isinstance(scene, Scene):
            raise TypeError(f"scene must be a Scene, got {type(scene).__name__}")
        if scene.objects and max(scene.ids) > np.iinfo(np.int32).max:
            raise ValueError(f"object ids must fit the int32 instance image, got {max(scene.ids)}")
        self.scene = scene
        self.intrinsics = check_intrinsics(intrinsics or CameraIntrinsics.from_fov(640, 480))
        if noise is not None and not isinstance(noise, SensorNoise):
            raise TypeError(f"noise must be a SensorNoise or None, got {type(noise).__name__}")
        self.noise = noise
        if not (np.isfinite(max_range) and np.isfinite(min_range) and 0 <= min_range < max_range):
            raise ValueError(f"need 0 <= min_range < max_range, got {min_range}, {max_range}")
        self.max_range, self.min_range = float(max_range), float(min_range)
        if room is True:
            self.room: Room | None = infer_room(scene)
        elif isinstance(room, Room):
            self.room = room
        else:
            self.room = None
        self.walls = bool(walls) and self.room is not None

        if meshes is None:
            lo, hi = scene.bounds()
            mid = (lo + hi) / 2
            meshes = []
            for o in scene.objects:
                front = o.front
                if front is None and shape_name(o.label) in _FACING_SHAPES:
                    front = _guess_front(o.c, self.room, mid)
                meshes.append(object_mesh(o, front))
        all_meshes = [m for m in meshes if m.n_triangles > 0]
        if self.room is not None:
            all_meshes.append(room_mesh(self.room, walls=self.walls))
        self.meshes = all_meshes

        self._raycast = o3d.t.geometry.RaycastingScene()
        instance, offsets, colors = [], [], []
        n_tri = 0
        for m in all_meshes:
            tm = o3d.t.geometry.TriangleMesh()
            tm.vertex.positions = o3d.core.Tensor(m.vertices.astype(np.float32))
            tm.triangle.indices = o3d.core.Tensor(m.triangles.astype(np.int32))
            gid = self._raycast.add_triangles(tm)
            assert gid == len(instance)  # ids are dense in insertion order
            instance.append(m.instance_id)
            offsets.append(n_tri)
            colors.append(m.triangle_colors)
            n_tri += m.n_triangles
        self._instance = np.asarray(instance + [-1], dtype=np.int32)  # last = miss
        self._offsets = np.asarray(offsets + [0], dtype=np.int64)
        self._colors = (np.concatenate(colors) if colors else np.zeros((0, 3), np.float32)).astype(np.float32)
        self._colors = np.vstack([self._colors, np.asarray(BACKGROUND_RGB, np.float32)])  # miss colour
        k = self.intrinsics
        self._k_o3d = o3d.core.Tensor(np.array([[k.fx, 0.0, k.cx + 0.5], [0.0, k.fy, k.cy + 0.5], [0.0, 0.0, 1.0]]))
        self._inv_norm = (1.0 / np.linalg.norm(pixel_rays(k).reshape(-1, 3), axis=1)).astype(np.float32)
        self._light = LIGHT_DIR.astype(np.float32)
        self._n_rendered = 0
        self.last_timing_ms: dict[str, float] = {}

    @classmethod
    def from_sdf(cls, path: str | os.PathLike, intrinsics: CameraIntrinsics | None = None,
                 noise: SensorNoise | None = None, search_paths: Sequence[str | os.PathLike] = (),
                 walls: bool = False, skip_missing: bool = False, **kwargs) -> "SceneRenderer":
        """Renderer for a Gazebo SDF world: its own meshes, a floor, walls only if asked."""
        from apeiria_model.perception.sim.sdf import load_sdf_world

        scene, meshes = load_sdf_world(path, search_paths=search_paths, skip_missing=skip_missing)
        # Without walls the floor can extend further, so trajectories can stand back and
        # keep the whole world in view (pass ``room=renderer.room`` to ``sweep``).
        room = infer_room(scene, margin=2.5 if not walls else 1.0)
        return cls(scene, intrinsics, noise, meshes=meshes, room=room, walls=walls, **kwargs)

    @property
    def n_triangles(self) -> int:
        return int(len(self._colors) - 1)

    def _room_entry(self, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-ray distance where it enters the room's xy rectangle, and whether it does."""
        r = self.room
        assert r is not None
        t_in = np.zeros(dirs.shape[0])
        t_out = np.full(dirs.shape[0], np.inf)
        for a, (lo, hi) in enumerate(((r.xmin, r.xmax), (r.ymin, r.ymax))):
            d = dirs[:, a].astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                t1 = (lo - origin[a]) / d
                t2 = (hi - origin[a]) / d
            inside = lo <= origin[a] <= hi
            par = np.abs(d) < 1e-12
            tmin = np.where(par, -np.inf if inside else np.inf, np.minimum(t1, t2))
            tmax = np.where(par, np.inf if inside else -np.inf, np.maximum(t1, t2))
            t_in = np.maximum(t_in, tmin)
            t_out = np.minimum(t_out, tmax)
        return t_in, t_in < t_out

    def render(self, camera_to_world, stamp: float = 0.0, frame_index: int | None = None) -> RGBDFrame:
        """One frame from the optical-frame pose ``camera_to_world`` (4x4, map frame).

        ``frame_index`` picks the noise draw (default: a running counter), so a seeded
        renderer gives the same sequence every time.
        """
        t_begin = time.perf_counter()
        pose = check_pose(camera_to_world)
        k = self.intrinsics
        h, w = k.height, k.width
        origin = pose[:3, 3]
        # Open3D builds the rays in C++ (multi-threaded). Its directions are
        # R K^-1 (u + 0.5, v + 0.5, 1): with cx, cy shifted by half a pixel (see __init__)
        # they are ours, R K^-1 (u, v, 1), whose optical-axis component is 1, so the hit
        # distance t is the z-depth.
        extrinsic = np.eye(4)
        extrinsic[:3, :3] = pose[:3, :3].T
        extrinsic[:3, 3] = -pose[:3, :3].T @ origin
        rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
            self._k_o3d, o3d.core.Tensor(extrinsic), w, h).numpy().reshape(-1, 6)
        dirs = rays[:, 3:]
        t0 = None
        enters = None
        if self.walls and not bool(self.room.contains_xy(origin[:2])[0]):
            t_in, enters = self._room_entry(origin, dirs)
            t0 = np.where(enters, t_in + 1e-4, 0.0).astype(np.float32)
            rays[:, :3] += t0[:, None] * dirs
        t_start = time.perf_counter()
        hit = self._raycast.cast_rays(o3d.core.Tensor.from_numpy(np.ascontiguousarray(rays)))
        t_cast = time.perf_counter()
        t_hit = hit["t_hit"].numpy()
        gid = hit["geometry_ids"].numpy()
        ok = gid != o3d.t.geometry.RaycastingScene.INVALID_ID
        if enters is not None:
            ok &= enters
        depth = np.where(ok, t_hit if t0 is None else t_hit + t0, np.float32(0.0))

        # np.take is several times faster than fancy indexing for these gathers.
        gi = np.where(ok, gid, len(self._instance) - 1).astype(np.intp)
        instance = np.take(self._instance, gi)
        tri = np.where(ok, np.take(self._offsets, gi) + hit["primitive_ids"].numpy(), len(self._colors) - 1)
        albedo = np.take(self._colors, tri, axis=0)
        # Lambertian: normals turned towards the camera (thin parts are seen from both sides),
        # so the key term uses |n.L| with the sign of the camera-facing normal.
        normals = hit["primitive_normals"].numpy()
        facing = np.einsum("ij,ij->i", normals, dirs) * self._inv_norm
        n_dot_l = normals @ self._light
        np.negative(n_dot_l, out=n_dot_l, where=facing > 0)
        light = AMBIENT * 255.0 + (KEY * 255.0) * np.maximum(n_dot_l, 0.0) + (HEAD * 255.0) * np.abs(facing)
        light[~ok] = 255.0  # misses show the background colour unshaded
        rgb = albedo * light[:, None]
        rgb += 0.5
        np.clip(rgb, 0.0, 255.0, out=rgb)
        color = rgb.astype(np.uint8).reshape(h, w, 3)

        depth = depth.reshape(h, w)
        depth[(depth > self.max_range) | (depth < self.min_range)] = 0.0
        t_shade = time.perf_counter()
        index = self._n_rendered if frame_index is None else int(frame_index)
        self._n_rendered += 1
        if self.noise is not None:
            color, depth = self.noise.apply(color, depth, frame_index=index)
        # Where the time went (benchmarks read this): ray casting vs shading vs noise.
        self.last_timing_ms = {"rays": 1e3 * (t_start - t_begin), "cast": 1e3 * (t_cast - t_start),
                               "shade": 1e3 * (t_shade - t_cast), "noise": 1e3 * (time.perf_counter() - t_shade)}
        return RGBDFrame(color=color, depth=depth, intrinsics=k, camera_to_world=pose.copy(), stamp=float(stamp),
                         instance_ids=instance.reshape(h, w).astype(np.int32))

    def render_many(self, poses: Sequence[np.ndarray], dt: float = 1.0 / 15.0) -> list[RGBDFrame]:
        return [self.render(p, stamp=i * dt, frame_index=i) for i, p in enumerate(poses)]
