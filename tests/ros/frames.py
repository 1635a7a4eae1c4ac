"""Rendered RGB-D test frames as ROS messages (simulator from apeiria_model)."""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=2)
def rendered(width: int = 320, height: int = 240):
    from apeiria_model.perception.frame import CameraIntrinsics
    from apeiria_model.perception.sim import SceneRenderer, look_at_pose

    from tests.ros.scenes import office

    intr = CameraIntrinsics.from_fov(width, height)
    r = SceneRenderer(office(), intr)
    pose = look_at_pose((0.0, -1.0, 1.4), (0.0, 1.5, 0.6))
    return r.render(pose), pose, intr


def frame_msgs(stamp: float, width: int = 320, height: int = 240, color_encoding: str = "rgb8",
               depth_encoding: str = "16UC1"):
    from apeiria_ros.conversions.camera import intrinsics_to_camera_info
    from apeiria_ros.conversions.geometry import sec_to_stamp
    from apeiria_ros.conversions.image import depth_to_image, numpy_to_image

    f, pose, intr = rendered(width, height)
    color = numpy_to_image(f.color if color_encoding == "rgb8" else f.color[..., ::-1].copy(), color_encoding)
    depth = depth_to_image(f.depth, depth_encoding)
    info = intrinsics_to_camera_info(intr)
    for m in (color, depth, info):
        m.header.stamp = sec_to_stamp(stamp)
        m.header.frame_id = "camera_color_optical_frame"
    return color, depth, info


def pose_params():
    """fixed_camera_pose [x, y, z, roll, pitch, yaw] of the rendered frames."""
    from scipy.spatial.transform import Rotation

    _, pose, _ = rendered()
    return [float(v) for v in pose[:3, 3]] + [float(v) for v in Rotation.from_matrix(pose[:3, :3]).as_euler("xyz")]


def odd_image(encoding: str, width: int, height: int, stamp: float, fill=0, dtype=np.uint8, channels: int = 1):
    from sensor_msgs.msg import Image

    from apeiria_ros.conversions.geometry import sec_to_stamp

    a = np.full((height, width, channels), fill, dtype=dtype)
    m = Image(height=height, width=width, encoding=encoding, is_bigendian=0,
              step=width * channels * np.dtype(dtype).itemsize, data=a.tobytes())
    m.header.stamp = sec_to_stamp(stamp)
    m.header.frame_id = "camera_color_optical_frame"
    return m
