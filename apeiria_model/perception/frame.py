"""RGB-D frame + camera model: the unit of data flowing from sensors to perception."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole camera (OpenCV / ROS CameraInfo convention: x right, y down, z forward)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_fov(cls, width: int = 640, height: int = 480, hfov_deg: float = 69.0) -> "CameraIntrinsics":
        fx = (width / 2.0) / np.tan(np.radians(hfov_deg) / 2.0)
        return cls(width, height, fx, fx, (width - 1) / 2.0, (height - 1) / 2.0)

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1.0]])


@dataclass
class RGBDFrame:
    """One synchronised colour + depth capture with its camera pose.

    color: uint8 [H, W, 3] RGB.  depth: float32 [H, W] metres, 0 or NaN where missing
    (16-bit millimetre images are converted on input).  camera_to_world: 4x4 pose of
    the optical frame in the map frame.  instance_ids: optional int32 [H, W] ground
    truth (simulator only; -1 = background).
    """

    color: np.ndarray
    depth: np.ndarray
    intrinsics: CameraIntrinsics
    camera_to_world: np.ndarray
    stamp: float = 0.0
    frame_id: str = "camera_color_optical_frame"
    instance_ids: np.ndarray | None = field(default=None, repr=False)
