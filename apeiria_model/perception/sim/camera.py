"""Camera poses and the pinhole projection, in the optical-frame convention.

Optical frame: x right, y down, z forward (OpenCV / ROS ``*_optical_frame``). A pose is
the 4x4 camera-to-world transform, world = map frame (z up). Pixel (u, v) has its centre
at integer coordinates, so ``project_points`` and ``backproject`` are exact inverses and
match the rays the renderer casts.
"""

from __future__ import annotations

import numpy as np

from apeiria_model.perception.frame import CameraIntrinsics


def rotate(points: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """``points @ rot.T`` for [N, 3] points.

    Written as einsum on purpose: once open3d is imported, numpy's BLAS matrix-matrix
    product runs ~50x slower here (thread contention), while einsum's own loop does not.
    """
    return np.einsum("nj,ij->ni", points, rot)


def _vec3(v, name: str) -> np.ndarray:
    a = np.asarray(v, dtype=float).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be 3 finite numbers, got {v!r}")
    return a


def look_at_pose(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world 4x4 for a camera at ``eye`` looking at ``target``.

    The image's up direction follows ``up`` (world z by default); when the view is
    (nearly) parallel to ``up`` the world y axis stands in so the pose stays defined.
    """
    eye, target, up = _vec3(eye, "eye"), _vec3(target, "target"), _vec3(up, "up")
    fwd = target - eye
    n = np.linalg.norm(fwd)
    if n < 1e-9:
        raise ValueError("look_at_pose: eye and target must differ")
    fwd /= n
    right = np.cross(fwd, up)
    if np.linalg.norm(right) < 1e-6:
        right = np.cross(fwd, [0.0, 1.0, 0.0] if abs(fwd[1]) < 0.9 else [1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, fwd, eye
    return pose


def check_pose(camera_to_world) -> np.ndarray:
    """Validate a 4x4 rigid transform; ValueError naming the problem."""
    try:
        m = np.asarray(camera_to_world, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("camera_to_world must be a 4x4 array of numbers") from None
    if m.shape != (4, 4):
        raise ValueError(f"camera_to_world must be 4x4, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("camera_to_world must be finite (no NaN/inf)")
    r = m[:3, :3]
    if not np.allclose(r.T @ r, np.eye(3), atol=1e-3) or np.linalg.det(r) < 0:
        raise ValueError("camera_to_world rotation must be orthonormal and right-handed")
    if not np.allclose(m[3], [0, 0, 0, 1], atol=1e-9):
        raise ValueError("camera_to_world last row must be [0, 0, 0, 1]")
    return m


def pixel_rays(intrinsics: CameraIntrinsics) -> np.ndarray:
    """[H, W, 3] camera-frame ray directions with z = 1 (so ray length t = z-depth)."""
    k = intrinsics
    u = (np.arange(k.width, dtype=np.float64) - k.cx) / k.fx
    v = (np.arange(k.height, dtype=np.float64) - k.cy) / k.fy
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu, vv, np.ones_like(uu)], axis=-1)


def project_points(points_world, intrinsics: CameraIntrinsics, camera_to_world) -> tuple[np.ndarray, np.ndarray]:
    """World points [N, 3] -> (pixel coordinates [N, 2] as (u, v), z-depth [N]).

    Points behind the camera get z <= 0 and NaN pixel coordinates.
    """
    p = np.asarray(points_world, dtype=float).reshape(-1, 3)
    m = check_pose(camera_to_world)
    pc = rotate(p - m[:3, 3], m[:3, :3].T)  # world -> camera: R^T (p - t)
    z = pc[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(z > 0, intrinsics.fx * pc[:, 0] / z + intrinsics.cx, np.nan)
        v = np.where(z > 0, intrinsics.fy * pc[:, 1] / z + intrinsics.cy, np.nan)
    return np.column_stack([u, v]), z


def backproject(u, v, depth, intrinsics: CameraIntrinsics, camera_to_world) -> np.ndarray:
    """Pixel coordinates + z-depth (metres) -> world points [N, 3]."""
    u = np.asarray(u, dtype=float).reshape(-1)
    v = np.asarray(v, dtype=float).reshape(-1)
    z = np.asarray(depth, dtype=float).reshape(-1)
    if not (len(u) == len(v) == len(z)):
        raise ValueError(f"u, v, depth must have equal lengths, got {len(u)}, {len(v)}, {len(z)}")
    m = check_pose(camera_to_world)
    pc = np.column_stack([(u - intrinsics.cx) * z / intrinsics.fx, (v - intrinsics.cy) * z / intrinsics.fy, z])
    return rotate(pc, m[:3, :3]) + m[:3, 3]


def depth_to_points(depth: np.ndarray, intrinsics: CameraIntrinsics, camera_to_world,
                    stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Valid depth pixels -> (world points [N, 3], flat pixel indices [N]) (``stride`` subsamples)."""
    d = np.asarray(depth, dtype=float)
    if d.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(f"depth shape {d.shape} does not match intrinsics {intrinsics.height}x{intrinsics.width}")
    vv, uu = np.mgrid[0:d.shape[0]:stride, 0:d.shape[1]:stride]
    z = d[vv, uu]
    ok = np.isfinite(z) & (z > 0)
    pts = backproject(uu[ok], vv[ok], z[ok], intrinsics, camera_to_world)
    return pts, (vv[ok] * d.shape[1] + uu[ok]).astype(np.int64)
