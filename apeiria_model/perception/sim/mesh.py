"""Coloured triangle meshes for the simulator, and the primitives shapes are built from.

An :class:`ObjectMesh` is plain numpy (vertices, triangles, one RGB per triangle) tagged
with the instance id the renderer writes into its instance image (-1 = background).
Primitives come from Open3D's mesh factories (box / cylinder / sphere / cone) so the
tessellation is the well-tested one; we only move, scale and colour them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import open3d as o3d

# Tessellation: enough facets to look round at 640x480, few enough for fast BVH builds.
CYLINDER_RESOLUTION = 16
SPHERE_RESOLUTION = 8


@dataclass
class ObjectMesh:
    """One renderable object: ``instance_id`` is its scene id, or -1 for background."""

    instance_id: int
    vertices: np.ndarray        # float64 [N, 3], world metres
    triangles: np.ndarray       # int32 [M, 3]
    triangle_colors: np.ndarray  # float32 [M, 3] albedo in [0, 1]
    name: str = ""

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        self.triangles = np.asarray(self.triangles, dtype=np.int32).reshape(-1, 3)
        self.triangle_colors = np.asarray(self.triangle_colors, dtype=np.float32).reshape(-1, 3)
        if len(self.triangle_colors) != len(self.triangles):
            raise ValueError(
                f"mesh {self.name or self.instance_id}: {len(self.triangle_colors)} colours for "
                f"{len(self.triangles)} triangles")
        if len(self.triangles) and (self.triangles.min() < 0 or self.triangles.max() >= len(self.vertices)):
            raise ValueError(f"mesh {self.name or self.instance_id}: triangle index out of range")
        if not np.all(np.isfinite(self.vertices)):
            raise ValueError(f"mesh {self.name or self.instance_id}: non-finite vertex coordinates")

    @property
    def n_triangles(self) -> int:
        return int(len(self.triangles))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned (min, max) of the vertices actually used by triangles."""
        used = self.vertices[np.unique(self.triangles)] if len(self.triangles) else self.vertices
        if len(used) == 0:
            return np.zeros(3), np.zeros(3)
        return used.min(axis=0), used.max(axis=0)

    def transformed(self, matrix: np.ndarray) -> "ObjectMesh":
        m = np.asarray(matrix, dtype=float)
        v = np.einsum("nj,ij->ni", self.vertices, m[:3, :3]) + m[:3, 3]  # not BLAS: see camera.rotate
        return ObjectMesh(self.instance_id, v, self.triangles.copy(), self.triangle_colors.copy(), self.name)

    def to_legacy(self) -> o3d.geometry.TriangleMesh:
        """An Open3D TriangleMesh (vertex colours averaged from the triangle colours)."""
        m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(self.vertices),
                                      o3d.utility.Vector3iVector(self.triangles))
        vc = np.zeros_like(self.vertices)
        cnt = np.zeros(len(self.vertices))
        for k in range(3):
            np.add.at(vc, self.triangles[:, k], self.triangle_colors)
            np.add.at(cnt, self.triangles[:, k], 1.0)
        m.vertex_colors = o3d.utility.Vector3dVector(vc / np.maximum(cnt, 1)[:, None])
        return m


@dataclass
class Part:
    """A primitive in an object's local frame with its albedo."""

    vertices: np.ndarray
    triangles: np.ndarray
    rgb: np.ndarray


def _from_legacy(mesh: o3d.geometry.TriangleMesh, rgb) -> Part:
    return Part(np.asarray(mesh.vertices, dtype=float).copy(),
                np.asarray(mesh.triangles, dtype=np.int32).copy(),
                np.asarray(rgb, dtype=float))


def box(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, rgb) -> Part:
    """Axis-aligned box between two corners (any order); degenerate sides get 1 mm."""
    lo = np.minimum([x0, y0, z0], [x1, y1, z1])
    ext = np.maximum(np.abs(np.subtract([x1, y1, z1], [x0, y0, z0])), 1e-3)
    p = _from_legacy(o3d.geometry.TriangleMesh.create_box(*ext), rgb)
    p.vertices += lo
    return p


def cylinder(cx: float, cy: float, z0: float, z1: float, r0: float, rgb, r1: float | None = None,
             axis: str = "z") -> Part:
    """Cylinder (or frustum when ``r1`` differs) from z0 to z1 around (cx, cy).

    ``axis="y"`` lays it along y instead (z0/z1 are then y limits and cy is the height),
    for round things that face forward (clock faces, washing-machine doors).
    """
    h = max(abs(z1 - z0), 1e-3)
    r0 = max(r0, 1e-3)
    m = o3d.geometry.TriangleMesh.create_cylinder(radius=r0, height=h, resolution=CYLINDER_RESOLUTION, split=1)
    p = _from_legacy(m, rgb)
    v = p.vertices
    if r1 is not None and r1 != r0:
        top = v[:, 2] > 0
        v[top, :2] *= max(r1, 1e-3) / r0
    v[:, 2] += h / 2.0  # open3d centres it; we want the base at z = 0
    if axis == "y":
        v[:] = np.column_stack([v[:, 0], v[:, 2], v[:, 1]])
        v += [cx, min(z0, z1), cy]
        # Swapping two axes mirrors the mesh: flip winding so normals stay outward.
        p.triangles = p.triangles[:, ::-1].copy()
    else:
        v += [cx, cy, min(z0, z1)]
    return p


def ellipsoid(center: Sequence[float], radii: Sequence[float], rgb) -> Part:
    m = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=SPHERE_RESOLUTION)
    p = _from_legacy(m, rgb)
    p.vertices = p.vertices * np.maximum(np.asarray(radii, float), 1e-3) + np.asarray(center, float)
    return p


def cone(cx: float, cy: float, z0: float, z1: float, r: float, rgb) -> Part:
    m = o3d.geometry.TriangleMesh.create_cone(radius=max(r, 1e-3), height=max(z1 - z0, 1e-3),
                                              resolution=CYLINDER_RESOLUTION)
    p = _from_legacy(m, rgb)
    p.vertices += [cx, cy, z0]
    return p


def merge_parts(parts: Iterable[Part], instance_id: int, name: str = "") -> ObjectMesh:
    verts, tris, cols = [], [], []
    offset = 0
    for p in parts:
        verts.append(p.vertices)
        tris.append(p.triangles + offset)
        cols.append(np.broadcast_to(np.asarray(p.rgb, dtype=np.float32), (len(p.triangles), 3)))
        offset += len(p.vertices)
    if not verts:
        return ObjectMesh(instance_id, np.zeros((0, 3)), np.zeros((0, 3), np.int32), np.zeros((0, 3)), name)
    return ObjectMesh(instance_id, np.concatenate(verts), np.concatenate(tris), np.concatenate(cols), name)


def merge_meshes(meshes: Sequence[ObjectMesh], instance_id: int, name: str = "") -> ObjectMesh:
    """Concatenate meshes into one (e.g. all visuals of one SDF model)."""
    parts = [Part(m.vertices, m.triangles, np.zeros(3)) for m in meshes]
    merged = merge_parts(parts, instance_id, name)
    if meshes:
        merged.triangle_colors = np.concatenate([m.triangle_colors for m in meshes]).astype(np.float32)
    return merged
