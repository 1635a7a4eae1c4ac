"""scene_builder_node over real DDS: bad input becomes diagnostics (never a crash),
good frames become a SceneMap, and the map survives a SIGKILL (atomic save + reload)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from apeiria_ros.launching import NodeSpec, ProcessGroup
from tests.ros.conftest import wait_until
from tests.ros.frames import frame_msgs, odd_image, pose_params

pytestmark = [pytest.mark.ros, pytest.mark.timeout(180)]


class Camera:
    def __init__(self, ros):
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CameraInfo, Image

        from apeiria.msg import SceneMap
        from apeiria_ros.qos import qos_profile

        n = ros.node
        self.color = n.create_publisher(Image, "/camera/image", qos_profile("reliable", 10))
        self.depth = n.create_publisher(Image, "/camera/depth_image", qos_profile("reliable", 10))
        self.info = n.create_publisher(CameraInfo, "/camera/camera_info", qos_profile("reliable", 10))
        self.diags = ros.collect(DiagnosticArray, "/diagnostics")
        self.maps = ros.collect(SceneMap, "/apeiria/scene_map", qos_profile("latched"))

    def wait_matched(self):
        for p in (self.color, self.depth, self.info):
            wait_until(lambda p=p: p.get_subscription_count() >= 1, 30, what=f"subscriber on {p.topic_name}")

    def send(self, color=None, depth=None, info=None):
        if info is not None:
            self.info.publish(info)
        if depth is not None:
            self.depth.publish(depth)
        if color is not None:
            self.color.publish(color)

    def problems(self) -> list[str]:
        return [s.message for a in self.diags for s in a.status if s.message != "running"]

    def wait_problem(self, fragment: str, resend=None, timeout: float = 20.0) -> str:
        """Wait for a diagnostic; ``resend`` repeats the input every second meanwhile
        (camera topics are best effort: a sample may be lost, as on a real robot)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if resend is not None:
                resend()
            try:
                return wait_until(lambda: next((m for m in self.problems() if fragment in m), None), 1.0)
            except AssertionError:
                pass
        raise AssertionError(f"no diagnostic containing {fragment!r} (last: {self.problems()[-3:]})")

    def wait_heartbeat(self):
        wait_until(lambda: any(s.message == "running" for a in self.diags for s in a.status), 30,
                   what="scene builder heartbeat on /diagnostics")

    def counters(self) -> dict[str, str]:
        for a in reversed(self.diags):
            for s in a.status:
                return {kv.key: kv.value for kv in s.values}
        return {}


def _start(ros_env, log_dir, name, **params):
    g = ProcessGroup(ros_env, log_dir / name)
    base = {"pose_source": "fixed", "fixed_camera_pose": pose_params(), "sensor_qos": "sensor_data"}
    base.update(params)
    g.start(NodeSpec("scene_builder_node", params=base))
    return g


def test_bad_input_becomes_diagnostics_and_the_node_keeps_working(ros, ros_env, log_dir):
    cam = Camera(ros)
    g = _start(ros_env, log_dir, "sb_bad")
    try:
        cam.wait_matched()
        cam.wait_heartbeat()
        c, d, info = frame_msgs(10.0)
        # 1. frames before any camera_info
        cam.wait_problem("no camera_info on /camera/camera_info yet", lambda: cam.send(color=c, depth=d))
        # 2. wrong colour encoding
        bad = odd_image("yuv422", 320, 240, 11.0, channels=2)
        _, d11, info11 = frame_msgs(11.0)
        cam.wait_problem("unsupported image encoding 'yuv422'", lambda: cam.send(info=info11, color=bad, depth=d11))
        # 3. colour and depth sizes differ
        c12, _, _ = frame_msgs(12.0)
        small = odd_image("16UC1", 160, 120, 12.0, fill=1000, dtype=np.uint16)
        cam.wait_problem("sizes differ", lambda: cam.send(color=c12, depth=small))
        # 4. all-NaN float depth, then all-zero millimetre depth
        c13, _, _ = frame_msgs(13.0)
        nan = odd_image("32FC1", 320, 240, 13.0, fill=np.nan, dtype=np.float32)
        cam.wait_problem("depth has no valid reading", lambda: cam.send(color=c13, depth=nan))
        n_nan = len([m for m in cam.problems() if "no valid reading" in m])
        c14, _, _ = frame_msgs(14.0)
        zero = odd_image("16UC1", 320, 240, 14.0, fill=0, dtype=np.uint16)
        cam.send(color=c14, depth=zero)
        wait_until(lambda: len([m for m in cam.problems() if "no valid reading" in m]) > n_nan, 20,
                   what="zero-depth diagnostic")
        # 5. good frames (objects are published once seen twice), then one stamped earlier
        for t in np.arange(16.0, 21.0, 0.25):
            ct, dt, it = frame_msgs(float(t))
            cam.send(info=it)
            cam.send(color=ct, depth=dt)
            try:
                wait_until(lambda: cam.maps and len(cam.maps[-1].objects) > 0, 1.5)
                break
            except AssertionError:
                pass
        assert cam.maps and len(cam.maps[-1].objects) > 0, "no SceneMap with objects"
        c15, d15, _ = frame_msgs(15.0)
        cam.wait_problem("out-of-order stamp 15.000 <= last", lambda: cam.send(color=c15, depth=d15))
        # 6. a camera_info that disagrees with the images
        # (info and images travel on different topics: resend with fresh stamps until the
        # new camera_info is in place before a pair arrives)
        stamps = iter(range(22, 80))

        def send_mismatch():
            t = float(next(stamps))
            ct, dt, _ = frame_msgs(t)
            _, _, big = frame_msgs(t, width=640, height=480)
            cam.send(info=big)
            cam.send(color=ct, depth=dt)

        cam.wait_problem("camera_info 640x480 does not match images 320x240", send_mismatch)
        assert g.procs["scene_builder_node"].poll() is None, g.log_tail("scene_builder_node")
        # still working: a new good frame (bgr8 + 32FC1 this time) is processed
        def send_good():
            t = float(next(stamps)) + 100.0
            ct, dt, it = frame_msgs(t, color_encoding="bgr8", depth_encoding="32FC1")
            cam.send(info=it)
            cam.send(color=ct, depth=dt)

        processed = int(cam.counters().get("frames_processed", 0))
        for _ in range(20):
            send_good()
            try:
                wait_until(lambda: int(cam.counters().get("frames_processed", 0)) > processed, 1.5)
                break
            except AssertionError:
                pass
        assert int(cam.counters().get("frames_processed", 0)) > processed
        assert int(cam.counters()["frames_rejected"]) >= 7
    finally:
        g.stop()


def test_map_survives_sigkill(ros, ros_env, log_dir, tmp_path):
    from apeiria_ros.conversions.scene import msg_to_scene

    map_file = tmp_path / "map.json"
    cam = Camera(ros)
    g = _start(ros_env, log_dir, "sb_kill1", map_file=str(map_file), save_interval_s=0.5)
    try:
        cam.wait_matched()
        cam.wait_heartbeat()
        # info and images travel on different topics: the first pair can beat the first
        # camera_info and be skipped, so each frame is resent with a fresh stamp until processed
        stamps = iter(np.arange(100.0, 160.0, 0.5))
        for k in range(3):
            for _ in range(20):
                c, d, info = frame_msgs(float(next(stamps)))
                cam.send(info=info)
                cam.send(color=c, depth=d)
                try:
                    wait_until(lambda k=k: int(cam.counters().get("frames_processed", 0)) >= k + 1, 1.5)
                    break
                except AssertionError:
                    pass
            assert int(cam.counters().get("frames_processed", 0)) >= k + 1, g.log_tail("scene_builder_node")
        wait_until(lambda: map_file.is_file() and int(cam.counters().get("maps_saved", 0)) >= 1, 20, what="map saved")
        n_before = len(cam.maps[-1].objects)
        assert n_before > 0
        g.kill("scene_builder_node")  # SIGKILL: no chance to save on exit
    finally:
        g.stop()
    saved = json.loads(map_file.read_text())  # a complete JSON document, never half-written
    assert saved
    cam.maps.clear()
    g2 = _start(ros_env, log_dir, "sb_kill2", map_file=str(map_file), save_interval_s=0.5)
    try:
        m = wait_until(lambda: cam.maps[-1] if cam.maps else None, 30, what="reloaded SceneMap")
        reloaded = msg_to_scene(m)
        assert len(reloaded) == n_before
        assert all(math.isfinite(v) for o in reloaded for v in o.center)
    finally:
        g2.stop()
