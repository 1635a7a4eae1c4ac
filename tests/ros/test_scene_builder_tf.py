"""scene_builder's TF pose branch, with a stand-in tf2_ros.

tf2_ros is not installable from the PyPI wheels, so on this machine the node takes the
pose from a topic. On a full ROS install, `pose_source: auto` picks TF; this test puts a
minimal tf2_ros (Buffer + TransformListener with the real call signatures) in
sys.modules and checks what the node does with it: which frames and stamp it asks for,
how the transform becomes the camera pose, and that a failed lookup skips the frame
with a reason instead of raising.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from tests.ros.conftest import require_ros

pytestmark = pytest.mark.ros


class _LookupException(Exception):
    pass


def _fake_tf2(transform, calls: list):
    mod = types.ModuleType("tf2_ros")

    class Buffer:
        def lookup_transform(self, target_frame, source_frame, time, timeout=None):
            calls.append((target_frame, source_frame, time.nanoseconds))
            if transform is None:
                raise _LookupException(f'"{target_frame}" passed to lookupTransform does not exist')
            return types.SimpleNamespace(transform=transform)

    class TransformListener:
        def __init__(self, buffer, node, spin_thread=False):
            self.buffer, self.node = buffer, node

    mod.Buffer, mod.TransformListener, mod.LookupException = Buffer, TransformListener, _LookupException
    return mod


@pytest.fixture
def node_factory(monkeypatch):
    require_ros()
    import rclpy

    ctx = rclpy.context.Context()
    rclpy.init(context=ctx)
    made = []

    def make(transform, calls, **params):
        from rclpy.parameter import Parameter

        from apeiria_ros.scene_builder_node import SceneBuilderNode

        monkeypatch.setitem(sys.modules, "tf2_ros", _fake_tf2(transform, calls))
        n = SceneBuilderNode(f"sb_tf_{len(made)}", context=ctx,
                             parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
        made.append(n)
        return n

    yield make
    for n in made:
        n.destroy()
    rclpy.try_shutdown(context=ctx)


def test_auto_mode_uses_tf_and_looks_up_map_to_camera_at_the_image_stamp(node_factory):
    from geometry_msgs.msg import Transform

    tf = Transform()
    tf.translation.x, tf.translation.y, tf.translation.z = 1.0, 2.0, 1.5
    s = np.sqrt(0.5)
    tf.rotation.z, tf.rotation.w = s, s  # 90 degrees about z
    calls: list = []
    n = node_factory(tf, calls, map_frame="world")
    assert n.pose_mode == "tf"
    pose, why = n._camera_pose(12.5, "camera_color_optical_frame")
    assert why == "" and calls == [("world", "camera_color_optical_frame", 12_500_000_000)]
    np.testing.assert_allclose(pose[:3, 3], [1.0, 2.0, 1.5])
    np.testing.assert_allclose(pose[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-9)


def test_failed_lookup_skips_the_frame_with_a_reason(node_factory):
    calls: list = []
    n = node_factory(None, calls)
    pose, why = n._camera_pose(3.0, "cam")
    assert pose is None and "no TF map -> cam at 3.000" in why and "LookupException" in why


def test_topic_mode_ignores_tf_even_when_installed(node_factory):
    calls: list = []
    n = node_factory(None, calls, pose_source="topic")
    assert n.pose_mode.startswith("topic") and calls == []
