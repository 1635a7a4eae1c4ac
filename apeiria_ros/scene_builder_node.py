"""scene_builder_node: RGB-D + camera_info + camera pose in, object-centric SceneMap out.

Colour and depth are paired by nearest stamp (ApproximateSync), the camera pose comes
from TF (when tf2_ros imports), else a PoseStamped / Odometry topic, else a fixed
transform parameter. Frames go to apeiria_model.perception.PerceptionPipeline on a
worker thread behind a drop-oldest bounded queue (drops are counted and logged). The
map is saved atomically every ``save_interval_s`` and reloaded at start, so a crash
loses at most one interval. A lifecycle node: frames are taken only while it is active
(``autostart``, default true, configures and activates it when no lifecycle manager
does; docs/ros.md, Lifecycle). Bad input (encodings, sizes, NaN/zero depth, missing
camera_info, out-of-order stamps) is reported on /diagnostics and the node keeps going.

    python -m apeiria_ros.scene_builder_node --ros-args -p map_file:=out/map.json
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np

from apeiria_ros.heap import freeze_heap
from apeiria_ros.lifecycle import LIFECYCLE_PARAM_DESCRIPTION
from apeiria_ros.params import Param

PARAMS = [
    Param("autostart", True, LIFECYCLE_PARAM_DESCRIPTION, True),
    Param("color_topic", "/camera/image", "sensor_msgs/Image colour (rgb8 / bgr8 / mono8)", True),
    Param("depth_topic", "/camera/depth_image", "sensor_msgs/Image depth (16UC1 mm or 32FC1 m)", True),
    Param("camera_info_topic", "/camera/camera_info", "sensor_msgs/CameraInfo of the colour camera (depth registered to it)", True),
    Param("sensor_qos", "sensor_data", "QoS of the camera subscriptions: sensor_data (best effort) | reliable", True),
    Param("pose_source", "auto", "camera pose from: auto (tf, else topic, else fixed) | tf | topic | fixed", True),
    Param("pose_topic", "/camera/pose", "camera optical-frame pose topic (pose_source topic)", True),
    Param("pose_type", "PoseStamped", "message type on pose_topic: PoseStamped | Odometry", True),
    Param("fixed_camera_pose", [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
          "pose_source fixed: optical frame in map_frame as [x, y, z, roll, pitch, yaw]"),
    Param("map_frame", "map", "frame of the map and the published SceneMap", True),
    Param("sync_slop", 0.02, "max colour/depth stamp difference (s) to pair them"),
    Param("pose_slop", 0.1, "max image/pose stamp difference (s)"),
    Param("pose_wait_s", 0.1, "how long a paired frame waits for its pose (pose and images travel separately)"),
    Param("queue_size", 4, "frames waiting for perception; the oldest is dropped (and counted) when full"),
    Param("depth_scale", 0.001, "metres per unit of 16UC1 depth"),
    Param("segmenter", "geometric", "perception segmenter: geometric | learned", True),
    Param("perception_config", "", "PerceptionPipeline YAML ('' = defaults)", True),
    Param("scene_id", "perceived", "scene_id of the published SceneMap"),
    Param("scene_topic", "/apeiria/scene_map", "apeiria/SceneMap output (latched)", True),
    Param("marker_topic", "/apeiria/scene_markers", "visualization_msgs/MarkerArray of the map", True),
    Param("diagnostics_topic", "/diagnostics", "diagnostic_msgs/DiagnosticArray status", True),
    Param("map_file", "", "where the map is saved and reloaded from at start ('' = never saved)", True),
    Param("save_interval_s", 5.0, "seconds between atomic map saves"),
    Param("publish_every_n", 1, "publish the SceneMap after every n-th processed frame"),
]

LEVEL_OK, LEVEL_WARN, LEVEL_ERROR = 0, 1, 2


@dataclass
class FrameJob:
    stamp: float
    color: np.ndarray
    depth: np.ndarray
    intrinsics: object
    pose: np.ndarray
    frame_id: str


class SceneBuilderNode:
    """A managed (lifecycle) node. ``configure`` reads the parameters, builds the
    perception pipeline (the learned segmenter loads its model here), reloads the saved
    map and creates the publishers and the perception worker; ``activate`` publishes the
    map so far and opens the inputs (camera, camera_info, pose subscriptions or the TF
    listener, the heartbeat); ``deactivate`` closes them, lets the frame being perceived
    finish, publishes and saves the map; ``cleanup`` saves the map and frees the
    pipeline. With ``autostart`` (the default) the constructor configures and activates;
    otherwise a lifecycle manager does."""

    def __init__(self, node_name: str = "scene_builder_node", **node_kwargs):
        from apeiria_ros.lifecycle import autostart, managed_node
        from apeiria_ros.params import declare_all, values

        self.node = node = managed_node(self, node_name, **node_kwargs)
        declare_all(node, PARAMS)
        self.cfg = values(node, PARAMS)
        self._map_lock = threading.Lock()
        self._pair_lock = threading.Lock()
        # counters over the process's life, across lifecycle transitions
        self.counters = {"color_received": 0, "depth_received": 0, "frames_paired": 0, "frames_processed": 0,
                         "frames_rejected": 0, "frames_dropped": 0, "maps_saved": 0}
        self.last_problem = ""
        self._frame_ms: collections.deque[float] = collections.deque(maxlen=300)  # last ~20 s at 15 Hz
        self._active = False  # frames are taken only while active
        self.pipeline = self.sync = self.worker = self.map_path = None
        self.pub_scene = self.pub_markers = self.pub_diag = None
        self._subs: list = []
        self._timer = None
        self._tf_buffer = self._tf_listener = None
        self.pose_mode = ""
        self._notes: list[str] = []
        node.add_on_set_parameters_callback(self._on_set_parameters)
        if self.cfg["autostart"]:
            autostart(node)

    # --- lifecycle ----------------------------------------------------------------
    def configure(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from visualization_msgs.msg import MarkerArray

        from apeiria.msg import SceneMap
        from apeiria_model.perception.pipeline import PerceptionConfig, PerceptionPipeline
        from apeiria_ros.env import resolve_path
        from apeiria_ros.params import values
        from apeiria_ros.qos import qos_profile
        from apeiria_ros.sync import ApproximateSync
        from apeiria_ros.worker import BoundedWorker

        node = self.node
        self.cfg = cfg = values(node, PARAMS)
        if cfg["pose_source"] not in ("auto", "tf", "topic", "fixed"):
            raise ValueError(f"pose_source must be auto | tf | topic | fixed, got {cfg['pose_source']!r}")
        if cfg["pose_type"] not in ("PoseStamped", "Odometry"):
            raise ValueError(f"pose_type must be PoseStamped or Odometry, got {cfg['pose_type']!r}")
        conf = PerceptionConfig.from_yaml(resolve_path(cfg["perception_config"])) if cfg["perception_config"] else None
        self.pipeline = PerceptionPipeline(cfg["segmenter"], conf)
        self._camera_info = None
        self._last_stamp = float("-inf")
        self.sync = ApproximateSync(float(cfg["sync_slop"]), float(cfg["pose_slop"]))
        self.map_path = resolve_path(cfg["map_file"]) if cfg["map_file"] else None
        # publishers (lifecycle: they send only while the node is active)
        self.pub_scene = node.create_lifecycle_publisher(SceneMap, cfg["scene_topic"], qos_profile("latched"))
        self.pub_markers = node.create_lifecycle_publisher(MarkerArray, cfg["marker_topic"], qos_profile("latched"))
        self.pub_diag = node.create_lifecycle_publisher(DiagnosticArray, cfg["diagnostics_topic"],
                                                        qos_profile("reliable", 50))
        self._notes = []
        if self.map_path is not None:
            from apeiria_model.perception.object_map import load_or_recover

            # A map that does not load is moved aside (named in the log) and the backup
            # tried: the first save can never overwrite the last good map.
            try:
                loaded, notes = load_or_recover(self.map_path)
            except Exception as e:  # noqa: BLE001 - a broken map must not stop perception: start empty, say so
                loaded, notes = None, [f"could not reload map {self.map_path}: {type(e).__name__}: {e}"]
            for note in notes:  # each one logged (not throttled): it names the file moved aside
                node.get_logger().error(note)
                self.last_problem = note
            self._notes = list(notes)  # on /diagnostics once active (publishers are off until then)
            if loaded is not None:
                self.pipeline.map = loaded
                node.get_logger().info(f"reloaded map with {len(self.pipeline.map)} objects from {self.map_path}")
        self.worker = BoundedWorker(self._process, int(cfg["queue_size"]), "drop_oldest",
                                    on_error=lambda job, e: self._problem(LEVEL_ERROR, f"perception failed: {type(e).__name__}: {e}"),
                                    name="apeiria-perception")
        self._last_save = time.monotonic()
        # the segmenter, classifier and map live as long as the configuration: exempt them
        # from full GC passes (pauses that overwrote best-effort image samples; heap.py)
        freeze_heap()

    def activate(self) -> None:
        from rclpy.callback_groups import ReentrantCallbackGroup
        from sensor_msgs.msg import CameraInfo, Image

        from apeiria_ros.qos import qos_profile

        node, cfg = self.node, self.cfg
        for note in self._notes:
            self._diag(LEVEL_ERROR, note)
        self._notes = []
        self._publish_scene()  # latched: the map so far (reloaded or kept from the last activation)
        group = ReentrantCallbackGroup()
        sensor_qos = qos_profile(cfg["sensor_qos"], 5)
        self._active = True
        self._subs = [
            node.create_subscription(Image, cfg["color_topic"], self._on_color, sensor_qos, callback_group=group),
            node.create_subscription(Image, cfg["depth_topic"], self._on_depth, sensor_qos, callback_group=group),
            node.create_subscription(CameraInfo, cfg["camera_info_topic"], self._on_info, sensor_qos,
                                     callback_group=group),
        ]
        self.pose_mode = self._setup_pose(cfg, group)
        self._timer = node.create_timer(1.0, self._heartbeat, callback_group=group)
        node.get_logger().info(f"scene builder active (pose from {self.pose_mode})")

    def deactivate(self) -> None:
        """Inputs close; queued frames are dropped (counted), the frame being perceived
        finishes; the map is published and saved."""
        self._active = False
        for sub in self._subs:
            self.node.destroy_subscription(sub)
        self._subs = []
        if self._timer is not None:
            self.node.destroy_timer(self._timer)
            self._timer = None
        if self._tf_listener is not None:
            unregister = getattr(self._tf_listener, "unregister", None)  # tf2_ros >= Humble
            if unregister is not None:
                unregister()
            self._tf_listener = self._tf_buffer = None
        with self._pair_lock:  # a pair being checked is queued (or not) before the queue is emptied
            dropped = len(self.worker.take_queued()) if self.worker is not None else 0
        if dropped:
            self.counters["frames_dropped"] += dropped
            self.node.get_logger().info(f"deactivating: {dropped} queued frame(s) dropped")
        if self.worker is not None:
            self.worker.wait_idle(60.0)
        try:
            self._publish_scene()
        except Exception as e:  # noqa: BLE001 - the inputs are closed: deactivation completes regardless
            self._problem(LEVEL_ERROR, f"could not publish the map: {type(e).__name__}: {e}")
        self._save_quietly()
        self._diag(LEVEL_OK, "inactive")

    def cleanup(self) -> None:
        if self.worker is not None:
            self.worker.stop(timeout=5.0)
            self.worker = None
        self._save_quietly()
        for name in ("pub_scene", "pub_markers", "pub_diag"):
            pub = getattr(self, name)
            if pub is not None:
                self.node.destroy_lifecycle_publisher(pub)
                setattr(self, name, None)
        with self._map_lock:
            self.pipeline = None  # the map and the segmenter's model go (configure reloads the map)
        self.sync = None
        import gc

        gc.collect()

    @property
    def state(self) -> str:
        """The lifecycle state: unconfigured | inactive | active | finalized."""
        return self.node.lifecycle_state

    def _save_quietly(self) -> None:
        try:
            if self.counters["frames_processed"] and self.pipeline is not None:
                self.save_map()
        except OSError as e:
            self._problem(LEVEL_ERROR, f"could not save map to {self.map_path}: {e}")

    # --- pose ---------------------------------------------------------------------
    def _setup_pose(self, cfg, group) -> str:
        mode = cfg["pose_source"]
        if mode in ("auto", "tf"):
            try:
                from tf2_ros import Buffer, TransformListener

                self._tf_buffer = Buffer()
                self._tf_listener = TransformListener(self._tf_buffer, self.node)
                return "tf"
            except ImportError:
                if mode == "tf":
                    raise ValueError("pose_source tf needs tf2_ros, which is not installed") from None
        if mode in ("auto", "topic"):
            from apeiria_ros.qos import qos_profile

            if cfg["pose_type"] == "Odometry":
                from nav_msgs.msg import Odometry as PoseMsg
            else:
                from geometry_msgs.msg import PoseStamped as PoseMsg
            self._subs.append(self.node.create_subscription(PoseMsg, cfg["pose_topic"], self._on_pose,
                                                            qos_profile(cfg["sensor_qos"], 50), callback_group=group))
            return f"topic {cfg['pose_topic']}"
        return "fixed"

    def _on_pose(self, msg) -> None:
        from apeiria_ros.conversions.geometry import pose_to_matrix, stamp_to_sec

        if not self._active:
            return
        pose = msg.pose.pose if hasattr(msg.pose, "pose") else msg.pose  # Odometry vs PoseStamped
        try:
            self.sync.add_pose(stamp_to_sec(msg.header.stamp), pose_to_matrix(pose))
        except ValueError as e:
            self._problem(LEVEL_WARN, f"pose rejected: {e}")

    def _camera_pose(self, stamp: float, frame_id: str):
        from apeiria_ros.conversions.geometry import transform_to_matrix, xyz_rpy_to_matrix

        if self.pose_mode == "fixed":
            return xyz_rpy_to_matrix(self.node.get_parameter("fixed_camera_pose").value), ""
        if self.pose_mode == "tf":
            from rclpy.time import Time

            try:
                t = self._tf_buffer.lookup_transform(self.cfg["map_frame"], frame_id,
                                                     Time(nanoseconds=int(stamp * 1e9)))
                return transform_to_matrix(t.transform), ""
            except Exception as e:
                return None, f"no TF {self.cfg['map_frame']} -> {frame_id} at {stamp:.3f}: {type(e).__name__}"
        # The pose travels on its own topic and may be delivered just after the images:
        # wait (briefly) for a pose at or after the image stamp, or the previous frame's
        # pose would be taken as the nearest one.
        deadline = time.monotonic() + float(self.node.get_parameter("pose_wait_s").value)
        while self.sync.latest_pose_stamp() < stamp and time.monotonic() < deadline:
            time.sleep(0.002)
        pose = self.sync.nearest_pose(stamp)
        if pose is None:
            return None, f"no camera pose on {self.cfg['pose_topic']} within {self.sync.pose_slop} s of {stamp:.3f}"
        return pose, ""

    # --- sensor callbacks ---------------------------------------------------------
    def _on_info(self, msg) -> None:
        from apeiria_ros.conversions.camera import CameraInfoError, camera_info_to_intrinsics

        if not self._active:
            return
        try:
            self._camera_info = camera_info_to_intrinsics(msg)
        except CameraInfoError as e:
            self._problem(LEVEL_WARN, str(e))

    def _on_color(self, msg) -> None:
        from apeiria_ros.conversions.geometry import stamp_to_sec

        if not self._active:  # a callback that took its message as the inputs closed
            return
        self.counters["color_received"] += 1
        for s in self.sync.add_color(stamp_to_sec(msg.header.stamp), msg):
            self._paired(s)

    def _on_depth(self, msg) -> None:
        from apeiria_ros.conversions.geometry import stamp_to_sec

        if not self._active:
            return
        self.counters["depth_received"] += 1
        for s in self.sync.add_depth(stamp_to_sec(msg.header.stamp), msg):
            self._paired(s)

    def _reject(self, text: str) -> None:
        self.counters["frames_rejected"] += 1
        self._problem(LEVEL_WARN, text)

    def _paired(self, s) -> None:
        # One pair at a time: the stamp-order check and the pose wait must not interleave.
        with self._pair_lock:
            if self._active:  # (deactivation empties the queue holding this lock)
                self._check_and_queue(s)

    def _check_and_queue(self, s) -> None:
        """Checks that need no heavy work, then queue the frame for perception."""
        from apeiria_ros.conversions.image import ImageConversionError, image_to_depth_m, image_to_rgb

        self.counters["frames_paired"] += 1
        if s.stamp <= self._last_stamp:
            self._reject(f"out-of-order stamp {s.stamp:.3f} <= last {self._last_stamp:.3f}: frame skipped")
            return
        intr = self._camera_info
        if intr is None:
            self._reject(f"no camera_info on {self.cfg['camera_info_topic']} yet: frame skipped")
            return
        try:
            color = image_to_rgb(s.color)
            depth = image_to_depth_m(s.depth, float(self.node.get_parameter("depth_scale").value))
        except ImageConversionError as e:
            self._reject(f"{e}: frame skipped")
            return
        if color.shape[:2] != depth.shape:
            self._reject(f"colour {color.shape[1]}x{color.shape[0]} and depth {depth.shape[1]}x{depth.shape[0]} "
                         "sizes differ: frame skipped")
            return
        if (intr.width, intr.height) != (depth.shape[1], depth.shape[0]):
            self._reject(f"camera_info {intr.width}x{intr.height} does not match images "
                         f"{depth.shape[1]}x{depth.shape[0]}: frame skipped")
            return
        if not np.isfinite(depth).any():
            self._reject("depth has no valid reading (all NaN / zero): frame skipped")
            return
        pose, why = self._camera_pose(s.stamp, s.color.header.frame_id)
        if pose is None:
            self._reject(f"{why}: frame skipped")
            return
        self._last_stamp = s.stamp
        before = self.worker.dropped
        self.worker.submit(FrameJob(s.stamp, color, depth, intr, pose, s.color.header.frame_id))
        if self.worker.dropped > before:
            self.counters["frames_dropped"] = self.worker.dropped
            if self.worker.dropped in (1, 10, 100) or self.worker.dropped % 1000 == 0:
                self.node.get_logger().warning(f"perception is behind: {self.worker.dropped} frame(s) dropped so far")

    # --- perception (worker thread) -----------------------------------------------
    def _process(self, job: FrameJob) -> None:
        from apeiria_model.perception.frame import RGBDFrame

        frame = RGBDFrame(color=job.color, depth=np.nan_to_num(job.depth, nan=0.0), intrinsics=job.intrinsics,
                          camera_to_world=job.pose, stamp=job.stamp, frame_id=job.frame_id)
        t0 = time.perf_counter()
        with self._map_lock:
            report = self.pipeline.process(frame)
        self._frame_ms.append((time.perf_counter() - t0) * 1000.0)
        if not report.ok:
            self._reject(f"perception rejected the frame: {report.error}")
            return
        self.counters["frames_processed"] += 1
        if self.counters["frames_processed"] % max(1, int(self.node.get_parameter("publish_every_n").value)) == 0:
            self._publish_scene()
        if self.map_path is not None and time.monotonic() - self._last_save >= float(
                self.node.get_parameter("save_interval_s").value):
            self.save_map()

    def save_map(self) -> None:
        if self.map_path is None:
            return
        self.map_path.parent.mkdir(parents=True, exist_ok=True)
        with self._map_lock:
            self.pipeline.save_map(self.map_path)  # temp file + os.replace, previous kept as .bak
        self._last_save = time.monotonic()
        self.counters["maps_saved"] += 1

    def _publish_scene(self) -> None:
        from apeiria_ros.conversions.scene import scene_to_msg
        from apeiria_ros.markers import scene_markers

        if self.pipeline is None or self.pub_scene is None:
            return
        with self._map_lock:
            scene = self.pipeline.scene(str(self.node.get_parameter("scene_id").value), self.cfg["map_frame"])
        stamp = self.node.get_clock().now().to_msg()
        self.pub_scene.publish(scene_to_msg(scene, stamp))
        self.pub_markers.publish(scene_markers(list(scene.objects), self.cfg["map_frame"], stamp))

    # --- status -------------------------------------------------------------------
    def _diag(self, level: int, text: str):
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        arr = DiagnosticArray()
        arr.header.stamp = self.node.get_clock().now().to_msg()
        st = DiagnosticStatus(level=bytes([level]), name=f"apeiria/{self.node.get_name()}", message=text,
                              hardware_id="apeiria")
        times = list(self._frame_ms)
        pipeline = self.pipeline
        vals = dict(self.counters, state=self.state, queue_depth=self.worker.depth if self.worker is not None else 0,
                    map_objects=len(pipeline.map) if pipeline is not None else 0, last_problem=self.last_problem,
                    perception_ms_p50=f"{np.percentile(times, 50):.1f}" if times else "",
                    perception_ms_p95=f"{np.percentile(times, 95):.1f}" if times else "")
        st.values = [KeyValue(key=k, value=str(v)) for k, v in vals.items()]
        arr.status = [st]
        if self.pub_diag is not None:  # (configured; it sends while active)
            self.pub_diag.publish(arr)

    def _problem(self, level: int, text: str) -> None:
        self.last_problem = text
        self.node.get_logger().warning(text, throttle_duration_sec=2.0)
        self._diag(level, text)

    def _heartbeat(self) -> None:
        if self.map_path is not None and time.monotonic() - self._last_save >= float(
                self.node.get_parameter("save_interval_s").value) and self.counters["frames_processed"]:
            try:
                self.save_map()
            except OSError as e:
                self._problem(LEVEL_ERROR, f"could not save map to {self.map_path}: {e}")
        self._diag(LEVEL_OK, "running")

    def _on_set_parameters(self, params):
        from rcl_interfaces.msg import SetParametersResult

        for p in params:
            if p.name == "pose_wait_s" and (not isinstance(p.value, (int, float)) or p.value < 0):
                return SetParametersResult(successful=False, reason="pose_wait_s must be a number >= 0")
            if p.name in ("sync_slop", "pose_slop", "save_interval_s", "depth_scale") and (
                    not isinstance(p.value, (int, float)) or p.value <= 0):
                return SetParametersResult(successful=False, reason=f"{p.name} must be a number > 0")
            if p.name in ("queue_size", "publish_every_n") and (not isinstance(p.value, int) or p.value < 1):
                return SetParametersResult(successful=False, reason=f"{p.name} must be an integer >= 1")
            if p.name == "fixed_camera_pose":
                from apeiria_ros.conversions.geometry import xyz_rpy_to_matrix

                try:
                    xyz_rpy_to_matrix(p.value)
                except (ValueError, TypeError) as e:
                    return SetParametersResult(successful=False, reason=str(e))
        for p in params:  # (unconfigured: configure reads them)
            if p.name == "sync_slop" and self.sync is not None:
                self.sync.slop = float(p.value)
            elif p.name == "pose_slop" and self.sync is not None:
                self.sync.pose_slop = float(p.value)
            elif p.name == "queue_size" and self.worker is not None:
                self.worker.resize(int(p.value))
        return SetParametersResult(successful=True)

    def destroy(self) -> None:
        """Process exit: the worker stops and the map is saved (nothing is published)."""
        if self.worker is not None:
            self.worker.stop(timeout=5.0)
        try:
            if self.counters["frames_processed"] and self.pipeline is not None:
                self.save_map()
        except OSError:
            pass
        self.node.destroy_node()


def main(argv: list[str] | None = None) -> int:
    from apeiria_ros.runtime import spin_node

    return spin_node(SceneBuilderNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
