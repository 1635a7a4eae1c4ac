"""Poses and transforms: geometry_msgs <-> 4x4 matrices (scipy Rotation does the maths)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation


def quat_to_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    q = np.array([x, y, z, w], dtype=float)
    n = float(np.linalg.norm(q))
    if not math.isfinite(n) or n < 1e-9:
        raise ValueError(f"invalid quaternion ({x}, {y}, {z}, {w})")
    return Rotation.from_quat(q / n).as_matrix()


def matrix_to_quat(r: np.ndarray) -> tuple[float, float, float, float]:
    x, y, z, w = Rotation.from_matrix(np.asarray(r, float)[:3, :3]).as_quat()
    return float(x), float(y), float(z), float(w)


def yaw_to_quat(yaw: float) -> tuple[float, float, float, float]:
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)


def pose_to_matrix(pose) -> np.ndarray:
    """geometry_msgs/Pose -> 4x4."""
    t = np.eye(4)
    o = pose.orientation
    t[:3, :3] = quat_to_matrix(o.x, o.y, o.z, o.w)
    t[:3, 3] = [pose.position.x, pose.position.y, pose.position.z]
    return t


def transform_to_matrix(tf) -> np.ndarray:
    """geometry_msgs/Transform -> 4x4."""
    t = np.eye(4)
    r = tf.rotation
    t[:3, :3] = quat_to_matrix(r.x, r.y, r.z, r.w)
    t[:3, 3] = [tf.translation.x, tf.translation.y, tf.translation.z]
    return t


def matrix_to_pose(m: np.ndarray):
    from geometry_msgs.msg import Pose

    m = np.asarray(m, float)
    p = Pose()
    p.position.x, p.position.y, p.position.z = (float(v) for v in m[:3, 3])
    p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w = matrix_to_quat(m[:3, :3])
    return p


def xyz_rpy_to_matrix(values) -> np.ndarray:
    """[x, y, z, roll, pitch, yaw] (radians, extrinsic xyz as in static_transform_publisher)."""
    v = [float(a) for a in values]
    if len(v) != 6 or not all(math.isfinite(a) for a in v):
        raise ValueError(f"expected 6 finite numbers [x, y, z, roll, pitch, yaw], got {values!r}")
    t = np.eye(4)
    t[:3, :3] = Rotation.from_euler("xyz", v[3:]).as_matrix()
    t[:3, 3] = v[:3]
    return t


def stamp_to_sec(stamp) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def sec_to_stamp(t: float):
    from builtin_interfaces.msg import Time

    sec = int(math.floor(t))
    return Time(sec=sec, nanosec=int(round((t - sec) * 1e9)) % 1_000_000_000)
