"""Depth image <-> world points, and the input checks every perception entry point runs.

Conventions (see frame.py): optical frame x right, y down, z forward; ``camera_to_world``
maps optical-frame points into the map frame (z up). Depth is z-depth (distance along
the optical axis), float metres, or uint16 millimetres (ROS 16UC1), 0 / NaN = missing.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from apeiria_model.perception.frame import CameraIntrinsics, RGBDFrame

# Depth readings outside this range are sensor garbage for indoor RGB-D cameras.
DEFAULT_MIN_DEPTH = 0.1
DEFAULT_MAX_DEPTH = 10.0
MAX_IMAGE_PIXELS = 4096 * 4096  # refuse absurd images before allocating point clouds
# The camera must be inside this box (metres, |x|, |y|, |z| in the map frame): a
# translation of 1e30 is a broken pose, and boxes that far out collapse to size 0 in
# float arithmetic. Well inside the Scene JSON coordinate bound (scene/io.py MAX_COORD).
DEFAULT_WORKSPACE = 1000.0
# Plausible pinhole focal lengths, relative to the image's larger side: a field of view
# between ~0.06 and ~179.4 degrees. 1e-30 or 1e30 pixels is no camera.
MIN_FOCAL_PER_SIDE = 1.0 / 200.0
MAX_FOCAL_PER_SIDE = 1000.0
# Tolerance of the rotation checks (orthonormality, det = +1).
ROTATION_TOLERANCE = 1e-3


class FrameError(ValueError):
    """A frame that perception cannot use; the message says exactly what is wrong.

    Callers (the ROS node, the CLI) report it as a status and carry on with the next
    frame: it is never a reason to crash.
    """


def depth_to_metres(depth: np.ndarray) -> np.ndarray:
    """float32 metres from float (metres) or uint16 (millimetres) depth; NaN/inf -> 0."""
    if not isinstance(depth, np.ndarray):
        raise FrameError(f"depth must be a numpy array, got {type(depth).__name__}")
    if depth.dtype == np.uint16:
        return depth.astype(np.float32) * np.float32(0.001)
    if depth.dtype in (np.float32, np.float64, np.float16):
        d = depth.astype(np.float32, copy=True)
        d[~np.isfinite(d)] = 0.0
        return d
    raise FrameError(f"depth must be float32/float64 metres or uint16 millimetres, got dtype {depth.dtype}")


MAX_IMAGE_SIDE = 100_000  # pixels


def _short(v: object) -> str:
    text = repr(v) if not isinstance(v, int) or abs(v) < 10 ** 30 else f"an integer of {len(str(abs(v)))} digits"
    return text if len(text) <= 40 else text[:37] + "..."


def check_intrinsics(intr: CameraIntrinsics) -> None:
    if not isinstance(intr, CameraIntrinsics):
        raise FrameError(f"intrinsics must be CameraIntrinsics, got {type(intr).__name__}")
    for name in ("width", "height"):
        v = getattr(intr, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 < v <= MAX_IMAGE_SIDE:
            raise FrameError(f"intrinsics.{name} must be an integer in [1, {MAX_IMAGE_SIDE}], got {_short(v)}")
    for name in ("fx", "fy", "cx", "cy"):
        v = getattr(intr, name)
        try:
            finite = not isinstance(v, bool) and isinstance(v, (int, float, np.floating, np.integer)) \
                and math.isfinite(float(v))
        except OverflowError:
            finite = False
        if not finite:
            raise FrameError(f"intrinsics.{name} must be a finite number, got {_short(v)}")
    if intr.fx <= 0 or intr.fy <= 0:
        raise FrameError(f"intrinsics focal lengths must be > 0, got fx={intr.fx} fy={intr.fy}")
    if intr.width <= 0 or intr.height <= 0:
        raise FrameError(f"intrinsics size must be positive, got {intr.width}x{intr.height}")
    side = float(max(intr.width, intr.height))
    for name in ("fx", "fy"):
        v = float(getattr(intr, name))
        if not MIN_FOCAL_PER_SIDE * side <= v <= MAX_FOCAL_PER_SIDE * side:
            raise FrameError(f"intrinsics.{name} = {v:g} is not a plausible focal length for a "
                             f"{intr.width}x{intr.height} image (expected {MIN_FOCAL_PER_SIDE * side:g} .. "
                             f"{MAX_FOCAL_PER_SIDE * side:g} pixels)")
    if not (-intr.width <= intr.cx <= 2 * intr.width and -intr.height <= intr.cy <= 2 * intr.height):
        raise FrameError(f"intrinsics principal point ({intr.cx:g}, {intr.cy:g}) is far outside the "
                         f"{intr.width}x{intr.height} image")


def check_pose(pose: object, name: str = "camera_to_world", workspace: float | None = None) -> np.ndarray:
    """A finite 4x4 rigid transform: rotation part orthonormal with det +1 (a proper
    rotation, not a reflection) within 1e-3, translation within +-``workspace`` m."""
    try:
        m = np.asarray(pose, dtype=np.float64)
    except (TypeError, ValueError):
        raise FrameError(f"{name} must be a 4x4 numeric matrix") from None
    if m.shape != (4, 4):
        raise FrameError(f"{name} must have shape (4, 4), got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise FrameError(f"{name} contains NaN or inf")
    r = m[:3, :3]
    if not np.allclose(r @ r.T, np.eye(3), atol=ROTATION_TOLERANCE) or not np.allclose(m[3], [0, 0, 0, 1], atol=1e-6):
        raise FrameError(f"{name} is not a rigid transform (rotation not orthonormal or bad last row)")
    if abs(np.linalg.det(r) - 1.0) > ROTATION_TOLERANCE:
        raise FrameError(f"{name} is not a proper rotation (det {np.linalg.det(r):+.3f}, a reflection)")
    if workspace is not None and float(np.max(np.abs(m[:3, 3]))) > workspace:
        raise FrameError(f"{name} translation {np.array2string(m[:3, 3], precision=3)} is outside the "
                         f"workspace (+-{workspace:g} m)")
    return m


def validate_frame(frame: RGBDFrame, min_depth: float = DEFAULT_MIN_DEPTH,
                   max_depth: float = DEFAULT_MAX_DEPTH, workspace: float = DEFAULT_WORKSPACE) -> RGBDFrame:
    """Check a frame and return a normalised copy (float32 metres depth, float64 pose).

    Raises :class:`FrameError` naming the problem: wrong types/dtypes, colour and depth
    sizes that differ from each other or from the intrinsics, implausible intrinsics, a
    pose that is not finite, not a proper rotation (a reflection) or outside the
    workspace, or a depth image with no usable reading at all.
    """
    if not isinstance(frame, RGBDFrame):
        raise FrameError(f"expected an RGBDFrame, got {type(frame).__name__}")
    check_intrinsics(frame.intrinsics)
    color = frame.color
    if not isinstance(color, np.ndarray):
        raise FrameError(f"color must be a numpy array, got {type(color).__name__}")
    if color.ndim != 3 or color.shape[2] != 3:
        raise FrameError(f"color must have shape (H, W, 3), got {color.shape}")
    if color.dtype != np.uint8:
        raise FrameError(f"color must be uint8 RGB, got dtype {color.dtype}")
    if not isinstance(frame.depth, np.ndarray):
        raise FrameError(f"depth must be a numpy array, got {type(frame.depth).__name__}")
    if frame.depth.ndim != 2:
        raise FrameError(f"depth must have shape (H, W), got {frame.depth.shape}")
    h, w = frame.depth.shape
    if h == 0 or w == 0:
        raise FrameError(f"depth image is empty ({h}x{w})")
    if h * w > MAX_IMAGE_PIXELS:
        raise FrameError(f"depth image too large ({w}x{h}); at most {MAX_IMAGE_PIXELS} pixels")
    if color.shape[:2] != (h, w):
        raise FrameError(f"color size {color.shape[1]}x{color.shape[0]} differs from depth size {w}x{h}")
    if (frame.intrinsics.width, frame.intrinsics.height) != (w, h):
        raise FrameError(f"image size {w}x{h} differs from intrinsics "
                         f"{frame.intrinsics.width}x{frame.intrinsics.height}")
    pose = check_pose(frame.camera_to_world, workspace=workspace)
    depth = depth_to_metres(frame.depth)
    valid = (depth >= min_depth) & (depth <= max_depth)
    if not valid.any():
        raise FrameError(f"depth has no valid reading in [{min_depth}, {max_depth}] m (all missing or out of range)")
    depth[~valid] = 0.0
    ids = frame.instance_ids
    if ids is not None:
        if not isinstance(ids, np.ndarray) or ids.shape != (h, w):
            raise FrameError(f"instance_ids must be an array of shape {(h, w)}")
    return replace(frame, depth=depth, camera_to_world=pose)


def pixel_rays(intr: CameraIntrinsics, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (x/z, y/z) of the optical-frame ray through each sampled pixel centre."""
    us = np.arange(0, intr.width, stride, dtype=np.float32)
    vs = np.arange(0, intr.height, stride, dtype=np.float32)
    rx = (us - np.float32(intr.cx)) / np.float32(intr.fx)
    ry = (vs - np.float32(intr.cy)) / np.float32(intr.fy)
    return np.broadcast_to(rx[None, :], (len(vs), len(us))), np.broadcast_to(ry[:, None], (len(vs), len(us)))


def depth_to_camera_grid(depth: np.ndarray, intr: CameraIntrinsics, stride: int = 1) -> np.ndarray:
    """[H', W', 3] optical-frame points of the pixels sampled every ``stride`` (0 where missing)."""
    d = depth[::stride, ::stride].astype(np.float32, copy=False)
    rx, ry = pixel_rays(intr, stride)
    return np.stack([rx * d, ry * d, d], axis=-1)


def transform_points(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to [..., 3] points."""
    p = np.asarray(points)
    r = pose[:3, :3].astype(p.dtype if p.dtype == np.float32 else np.float64)
    t = pose[:3, 3].astype(r.dtype)
    return p @ r.T + t


def depth_to_world_grid(depth: np.ndarray, intr: CameraIntrinsics, camera_to_world: np.ndarray,
                        stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """([H', W', 3] world points, [H', W'] valid mask) on the strided pixel grid."""
    cam = depth_to_camera_grid(depth, intr, stride)
    valid = cam[..., 2] > 0
    return transform_points(cam, camera_to_world).astype(np.float32), valid


def depth_to_points(depth: np.ndarray, intr: CameraIntrinsics, camera_to_world: np.ndarray,
                    min_depth: float = DEFAULT_MIN_DEPTH, max_depth: float = DEFAULT_MAX_DEPTH,
                    stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """World points [N, 3] of the valid pixels and their (row, col) pixel indices [N, 2].

    Skips 0 / NaN / inf and out-of-range depth. Accepts float metres or uint16 mm.
    """
    d = depth_to_metres(depth)[::stride, ::stride]
    valid = (d >= min_depth) & (d <= max_depth)
    rows, cols = np.nonzero(valid)
    z = d[rows, cols]
    u = cols.astype(np.float32) * stride
    v = rows.astype(np.float32) * stride
    cam = np.stack([(u - intr.cx) / intr.fx * z, (v - intr.cy) / intr.fy * z, z], axis=-1)
    pose = check_pose(camera_to_world)
    pix = np.stack([rows * stride, cols * stride], axis=-1)
    return transform_points(cam.astype(np.float64), pose), pix


def pixel_to_point(u: float, v: float, z: float, intr: CameraIntrinsics,
                   camera_to_world: np.ndarray | None = None) -> np.ndarray:
    """The 3D point seen at pixel (u = column, v = row) with z-depth ``z``."""
    p = np.array([(u - intr.cx) / intr.fx * z, (v - intr.cy) / intr.fy * z, z], dtype=np.float64)
    return p if camera_to_world is None else transform_points(p, np.asarray(camera_to_world, float))


def point_to_pixel(points: np.ndarray, intr: CameraIntrinsics,
                   camera_to_world: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project world points [N, 3] (or one [3]) to (u, v, z); z <= 0 means behind the camera."""
    p = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if camera_to_world is not None:
        pose = np.asarray(camera_to_world, float)
        p = (p - pose[:3, 3]) @ pose[:3, :3]  # inverse of a rigid transform: R^T (p - t)
    z = p[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = intr.fx * p[:, 0] / z + intr.cx
        v = intr.fy * p[:, 1] / z + intr.cy
    return u, v, z
