"""sensor_msgs/CameraInfo <-> apeiria_model CameraIntrinsics (pinhole, K matrix)."""

from __future__ import annotations

import math

from apeiria_model.perception.frame import CameraIntrinsics


class CameraInfoError(ValueError):
    """A CameraInfo that does not describe a usable pinhole camera."""


def camera_info_to_intrinsics(msg) -> CameraIntrinsics:
    k = [float(v) for v in msg.k]
    fx, fy, cx, cy = k[0], k[4], k[2], k[5]
    w, h = int(msg.width), int(msg.height)
    if w <= 0 or h <= 0:
        raise CameraInfoError(f"camera_info has no image size ({w}x{h})")
    if not all(math.isfinite(v) for v in (fx, fy, cx, cy)) or fx <= 0 or fy <= 0:
        raise CameraInfoError(f"camera_info K has no valid focal lengths (fx={fx}, fy={fy})")
    return CameraIntrinsics(w, h, fx, fy, cx, cy)


def intrinsics_to_camera_info(intr: CameraIntrinsics, header=None):
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo()
    if header is not None:
        msg.header = header
    msg.width, msg.height = int(intr.width), int(intr.height)
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [intr.fx, 0.0, intr.cx, 0.0, 0.0, intr.fy, intr.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg
