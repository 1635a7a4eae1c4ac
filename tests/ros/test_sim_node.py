"""sim_node: Gazebo-style camera topics for a Scene JSON or an SDF world."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apeiria_model.scene.io import save_scene
from apeiria_ros.env import REPO_ROOT
from apeiria_ros.launching import NodeSpec, ProcessGroup
from tests.ros.conftest import wait_until
from tests.ros.scenes import office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]


def _collect(ros):
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo, Image

    from apeiria.msg import SceneMap
    from apeiria_ros.qos import qos_profile

    q = qos_profile("reliable", 50)
    return {"color": ros.collect(Image, "/camera/image", q), "depth": ros.collect(Image, "/camera/depth_image", q),
            "info": ros.collect(CameraInfo, "/camera/camera_info", q),
            "pose": ros.collect(PoseStamped, "/camera/pose", q),
            "gt": ros.collect(SceneMap, "/apeiria/ground_truth_scene", qos_profile("latched"))}


def test_scene_json_32fc1(ros, ros_env, log_dir, tmp_path):
    from apeiria_ros.conversions.camera import camera_info_to_intrinsics
    from apeiria_ros.conversions.image import image_to_depth_m, image_to_rgb
    from apeiria_ros.conversions.scene import msg_to_scene

    save_scene(office(), tmp_path / "office.json")
    got = _collect(ros)
    g = ProcessGroup(ros_env, log_dir / "sim32")
    g.start(NodeSpec("sim_node", params={"scene_file": str(tmp_path / "office.json"), "depth_encoding": "32FC1",
                                         "width": 160, "height": 120, "rate": 10.0, "n_poses": 10}))
    try:
        wait_until(lambda: len(got["color"]) >= 3 and len(got["depth"]) >= 3 and got["gt"], 60, what="sim frames")
        c, d, i, p = got["color"][0], got["depth"][0], got["info"][0], got["pose"][0]
        assert (c.encoding, d.encoding) == ("rgb8", "32FC1") and c.header.stamp == d.header.stamp == p.header.stamp
        assert c.header.frame_id == "camera_color_optical_frame" and p.header.frame_id == "map"
        assert image_to_rgb(c).shape == (120, 160, 3)
        depth = image_to_depth_m(d)
        assert np.isfinite(depth).mean() > 0.5 and np.nanmax(depth) < 20
        assert camera_info_to_intrinsics(i).width == 160
        q = p.pose.orientation
        assert math.isclose(q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2, 1.0, rel_tol=1e-6)
        assert msg_to_scene(got["gt"][-1]) == office()
        # run-time parameters: loop off stops at the end of the trajectory, on resumes
        import time

        def quiet():
            n = len(got["color"])
            time.sleep(1.0)
            return len(got["color"]) == n

        assert ros.set_params("sim_node", loop=False)[0].successful
        wait_until(quiet, 30, what="the simulator to stop at the end of its loop")
        n = len(got["color"])
        assert ros.set_params("sim_node", loop=True)[0].successful
        wait_until(lambda: len(got["color"]) >= n + 3, 30, what="frames again")
    finally:
        g.stop()


def test_sdf_world(ros, ros_env, log_dir):
    got = _collect(ros)
    g = ProcessGroup(ros_env, log_dir / "simsdf")
    g.start(NodeSpec("sim_node", params={"sdf_file": str(REPO_ROOT / "tests" / "fixtures" / "worlds" / "inline.sdf"),
                                         "width": 160, "height": 120, "rate": 10.0}))
    try:
        wait_until(lambda: len(got["depth"]) >= 2 and got["gt"], 60, what="SDF frames")
        assert got["depth"][0].encoding == "16UC1" and len(got["gt"][-1].objects) >= 1
    finally:
        g.stop()


def test_wait_for_subscribers_starts_the_trajectory_at_its_first_pose(ros, ros_env, log_dir, tmp_path):
    """With wait_for_subscribers the first frame waits until colour, depth and camera_info
    all have a subscriber (not the pose: a mapper may use TF); the first pose published
    is then the trajectory's first."""
    import time

    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo, Image

    from apeiria_model.perception.sim import sweep
    from apeiria_ros.conversions.geometry import pose_to_matrix
    from apeiria_ros.qos import qos_profile

    save_scene(office(), tmp_path / "office.json")
    q = qos_profile("reliable", 50)
    # topics of its own: the harness node keeps the other tests' subscriptions
    topics = {k: f"/simwait/{k}" for k in ("color", "depth", "info", "pose")}
    color = ros.collect(Image, topics["color"], q)
    ros.collect(Image, topics["depth"], q)
    poses = ros.collect(PoseStamped, topics["pose"], q)
    g = ProcessGroup(ros_env, log_dir / "simwait")
    g.start(NodeSpec("sim_node", params={"scene_file": str(tmp_path / "office.json"), "width": 160, "height": 120,
                                         "rate": 10.0, "n_poses": 10, "wait_for_subscribers": True,
                                         "color_topic": topics["color"], "depth_topic": topics["depth"],
                                         "camera_info_topic": topics["info"], "pose_topic": topics["pose"]}))
    try:
        time.sleep(3.0)  # no camera_info subscriber yet: nothing may be published
        assert color == [] and poses == [] and not g.exited()
        ros.collect(CameraInfo, topics["info"], q)
        wait_until(lambda: len(poses) >= 2, 60, what="frames once colour, depth and camera_info have subscribers")
        first = sweep(office(), 10, kind="orbit")[0]
        assert np.allclose(pose_to_matrix(poses[0].pose), first, atol=1e-6)
    finally:
        g.stop()
