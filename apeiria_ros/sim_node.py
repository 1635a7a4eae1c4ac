"""sim_node: a simulated RGB-D camera moving through a scene (Scene JSON v1 or an SDF
world), publishing Gazebo-style camera topics, the camera pose, and the ground-truth
scene (for tests and the demo).

Rendering runs on its own thread at ``rate`` Hz (Open3D ray casting,
apeiria_model.perception.sim); the ROS executor only serves parameters.

    python -m apeiria_ros.sim_node --ros-args -p scene_file:=scene.json -p rate:=15.0
"""

from __future__ import annotations

import threading
import time

import numpy as np

from apeiria_ros.params import Param

PARAMS = [
    Param("scene_file", "", "Scene JSON v1 file to render (pkg:apeiria_model/... allowed)", True),
    Param("sdf_file", "", "Gazebo SDF world to render instead of scene_file", True),
    Param("color_topic", "/camera/image", "sensor_msgs/Image rgb8 topic", True),
    Param("depth_topic", "/camera/depth_image", "sensor_msgs/Image depth topic", True),
    Param("camera_info_topic", "/camera/camera_info", "sensor_msgs/CameraInfo topic", True),
    Param("pose_topic", "/camera/pose", "geometry_msgs/PoseStamped: optical-frame pose in map_frame", True),
    Param("ground_truth_topic", "/apeiria/ground_truth_scene", "apeiria/SceneMap of the simulated scene (latched)", True),
    Param("depth_encoding", "16UC1", "16UC1 (millimetres, 0 = no reading) or 32FC1 (metres, NaN = none)", True),
    Param("camera_frame", "camera_color_optical_frame", "frame_id of the images (x right, y down, z forward)", True),
    Param("map_frame", "map", "world frame of the pose and the ground-truth scene", True),
    Param("width", 640, "image width (px)", True),
    Param("height", 480, "image height (px)", True),
    Param("hfov_deg", 69.0, "horizontal field of view (degrees)", True),
    Param("trajectory", "orbit", "camera path: orbit | walk", True),
    Param("n_poses", 90, "poses along one loop of the trajectory", True),
    Param("rate", 15.0, "frames per second"),
    Param("loop", True, "start the trajectory again after its last pose"),
    Param("max_frames", 0, "stop publishing after this many frames (0 = never)"),
    Param("noise", False, "add sensor noise (depth jitter, dropouts)", True),
    Param("publish_tf", True, "broadcast map_frame -> camera_frame on /tf when tf2_ros is available", True),
    Param("wait_for_subscribers", False,
          "hold the first frame until colour, depth and camera_info each have a subscriber, so a mapper "
          "started alongside sees the trajectory from its first pose (reproducible runs; the pose topic is "
          "not waited for: a mapper may take the pose from TF)", True),
]


class SimNode:
    def __init__(self, node_name: str = "sim_node", **node_kwargs):
        from geometry_msgs.msg import PoseStamped
        from rclpy.node import Node
        from sensor_msgs.msg import CameraInfo, Image

        from apeiria.msg import SceneMap
        from apeiria_model.perception.frame import CameraIntrinsics
        from apeiria_model.perception.sim import SceneRenderer, SensorNoise, sweep
        from apeiria_model.scene.io import load_scene
        from apeiria_ros.conversions.scene import scene_to_msg
        from apeiria_ros.env import resolve_path
        from apeiria_ros.params import declare_all, values
        from apeiria_ros.qos import qos_profile

        self.node = node = Node(node_name, **node_kwargs)
        declare_all(node, PARAMS)
        self.cfg = cfg = values(node, PARAMS)
        if cfg["depth_encoding"] not in ("16UC1", "32FC1"):
            raise ValueError(f"depth_encoding must be 16UC1 or 32FC1, got {cfg['depth_encoding']!r}")
        intr = CameraIntrinsics.from_fov(int(cfg["width"]), int(cfg["height"]), float(cfg["hfov_deg"]))
        noise = SensorNoise() if cfg["noise"] else None
        if cfg["sdf_file"]:
            self.renderer = SceneRenderer.from_sdf(resolve_path(cfg["sdf_file"]), intr, noise)
            room = self.renderer.room
        elif cfg["scene_file"]:
            self.renderer = SceneRenderer(load_scene(resolve_path(cfg["scene_file"])), intr, noise)
            room = None
        else:
            raise ValueError("set scene_file (Scene JSON v1) or sdf_file (SDF world)")
        self.scene = self.renderer.scene
        kw = {"room": room} if room is not None else {}
        self.poses = sweep(self.scene, int(cfg["n_poses"]), kind=cfg["trajectory"], **kw)
        self.intrinsics = intr

        reliable = qos_profile("reliable", 5)
        self.pub_color = node.create_publisher(Image, cfg["color_topic"], reliable)
        self.pub_depth = node.create_publisher(Image, cfg["depth_topic"], reliable)
        self.pub_info = node.create_publisher(CameraInfo, cfg["camera_info_topic"], reliable)
        self.pub_pose = node.create_publisher(PoseStamped, cfg["pose_topic"], qos_profile("reliable", 50))
        self.pub_gt = node.create_publisher(SceneMap, cfg["ground_truth_topic"], qos_profile("latched"))
        self.pub_gt.publish(scene_to_msg(self.scene, node.get_clock().now().to_msg()))
        self.tf = None
        if cfg["publish_tf"]:
            try:
                from tf2_ros import TransformBroadcaster

                self.tf = TransformBroadcaster(node)
            except ImportError:
                pass  # not installable from wheels: the pose topic carries the same pose
        self.frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="apeiria-sim")
        self._thread.start()
        node.get_logger().info(f"simulating '{self.scene.scene_id}' ({len(self.scene)} objects), "
                               f"{len(self.poses)} poses at {cfg['rate']} Hz")

    def _param(self, name):
        return self.node.get_parameter(name).value

    def _subscribed(self) -> bool:
        pubs = (self.pub_color, self.pub_depth, self.pub_info)
        return all(p.get_subscription_count() > 0 for p in pubs)

    def _loop(self) -> None:
        k = 0
        if self.cfg["wait_for_subscribers"]:
            while not self._stop.is_set() and not self._subscribed():
                self._stop.wait(0.05)
        next_t = time.monotonic()
        while not self._stop.is_set():
            max_frames = int(self._param("max_frames"))
            if max_frames and self.frames >= max_frames:
                self._stop.wait(0.1)
                continue
            if k >= len(self.poses):
                if not self._param("loop"):
                    self._stop.wait(0.1)
                    continue
                k = 0
            try:
                self.publish_frame(self.poses[k])
            except Exception as e:  # keep simulating; say what broke
                self.node.get_logger().error(f"frame {self.frames}: {type(e).__name__}: {e}")
            k += 1
            period = 1.0 / max(float(self._param("rate")), 1e-3)
            next_t = max(next_t + period, time.monotonic())
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def publish_frame(self, pose: np.ndarray) -> None:
        from geometry_msgs.msg import PoseStamped

        from apeiria_ros.conversions.camera import intrinsics_to_camera_info
        from apeiria_ros.conversions.geometry import matrix_to_pose
        from apeiria_ros.conversions.image import depth_to_image, numpy_to_image

        stamp = self.node.get_clock().now().to_msg()
        frame = self.renderer.render(pose, stamp=stamp.sec + stamp.nanosec * 1e-9)
        cam = self.cfg["camera_frame"]
        color = numpy_to_image(frame.color, "rgb8")
        depth = depth_to_image(frame.depth, self.cfg["depth_encoding"])
        info = intrinsics_to_camera_info(self.intrinsics)
        for m in (color, depth, info):
            m.header.stamp, m.header.frame_id = stamp, cam
        ps = PoseStamped()
        ps.header.stamp, ps.header.frame_id = stamp, self.cfg["map_frame"]
        ps.pose = matrix_to_pose(frame.camera_to_world)
        if self.tf is not None:
            from geometry_msgs.msg import TransformStamped

            t = TransformStamped()
            t.header = ps.header
            t.child_frame_id = cam
            t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
                ps.pose.position.x, ps.pose.position.y, ps.pose.position.z)
            t.transform.rotation = ps.pose.orientation
            self.tf.sendTransform(t)
        # pose first: a consumer pairing images with poses finds it already there
        self.pub_pose.publish(ps)
        self.pub_info.publish(info)
        self.pub_depth.publish(depth)
        self.pub_color.publish(color)
        self.frames += 1

    def destroy(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.node.destroy_node()


def main(argv: list[str] | None = None) -> int:
    from apeiria_ros.runtime import spin_node

    return spin_node(SimNode, argv, threads=2)


if __name__ == "__main__":
    raise SystemExit(main())
