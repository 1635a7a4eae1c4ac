"""Conversions between ROS 2 messages and apeiria_model types (cv_bridge's job and more).

image: numpy <-> sensor_msgs/Image;  camera: CameraInfo <-> CameraIntrinsics;
geometry: poses, quaternions, TF;  scene: Scene <-> SceneMap;
result: GroundingResult <-> apeiria/GroundingResult.
"""
