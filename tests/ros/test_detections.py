"""vision_msgs/Detection3DArray output: conversion rules, and grounding_node publishing one
Detection3D per grounded target over real DDS (ids, labels, boxes, the map's frame)."""

from __future__ import annotations

import dataclasses

import pytest

from apeiria_model.reasoning.result import GroundingResult, Target
from apeiria_model.scene.io import save_scene
from apeiria_ros.launching import NodeSpec, ProcessGroup
from tests.ros.conftest import require_ros, wait_until
from tests.ros.scenes import office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(180)]


@pytest.fixture(scope="module", autouse=True)
def _ros_types():
    require_ros()


# --- conversion -------------------------------------------------------------------
def test_target_becomes_one_detection_with_label_score_box_and_id():
    from std_msgs.msg import Header

    from apeiria_ros.conversions.detections import target_to_detection

    header = Header(frame_id="office_map")
    header.stamp.sec, header.stamp.nanosec = 12, 34
    d = target_to_detection(Target(7, "mug", [0.5, -1.25, 0.8], [0.08, 0.1, 0.12], 0.83), header)
    assert d.id == "7" and d.header.frame_id == "office_map" and (d.header.stamp.sec, d.header.stamp.nanosec) == (12, 34)
    assert len(d.results) == 1
    h = d.results[0]
    assert h.hypothesis.class_id == "mug" and h.hypothesis.score == pytest.approx(0.83)
    c = d.bbox.center
    assert (c.position.x, c.position.y, c.position.z) == pytest.approx((0.5, -1.25, 0.8))
    assert (c.orientation.x, c.orientation.y, c.orientation.z, c.orientation.w) == (0.0, 0.0, 0.0, 1.0)
    assert (d.bbox.size.x, d.bbox.size.y, d.bbox.size.z) == pytest.approx((0.08, 0.1, 0.12))
    # the hypothesis pose is the box centre
    assert (h.pose.pose.position.x, h.pose.pose.position.y, h.pose.pose.position.z) == pytest.approx((0.5, -1.25, 0.8))
    assert h.pose.pose.orientation.w == 1.0


def test_result_to_detections_keeps_target_order_and_shares_the_header():
    from builtin_interfaces.msg import Time

    from apeiria_ros.conversions.detections import detections_to_targets, result_to_detections

    targets = [Target(2, "mug", [0.45, 1.45, 0.8], [0.08, 0.08, 0.1], 0.9),
               Target(1, "mug", [-0.4, 1.5, 0.8], [0.08, 0.08, 0.1], 0.6)]
    msg = result_to_detections(GroundingResult(instruction="the mugs", status="ok", reasoner="symbolic", targets=targets),
                               "map", Time(sec=5, nanosec=6))
    assert msg.header.frame_id == "map" and (msg.header.stamp.sec, msg.header.stamp.nanosec) == (5, 6)
    assert [d.id for d in msg.detections] == ["2", "1"]
    assert all(d.header == msg.header for d in msg.detections)
    back = detections_to_targets(msg)
    assert [(t.id, t.label) for t in back] == [(2, "mug"), (1, "mug")]
    assert back[0].center == pytest.approx([0.45, 1.45, 0.8]) and back[1].score == pytest.approx(0.6)


def test_no_targets_give_an_empty_array():
    from apeiria_ros.conversions.detections import result_to_detections

    msg = result_to_detections(GroundingResult(instruction="the giraffe", status="no_match", reasoner="symbolic"), "odom")
    assert msg.header.frame_id == "odom" and len(msg.detections) == 0


def test_detection_to_target_takes_the_best_hypothesis_and_refuses_foreign_ids():
    from vision_msgs.msg import Detection3D, ObjectHypothesisWithPose

    from apeiria_ros.conversions.detections import DetectionMessageError, detection_to_target

    d = Detection3D(id="4")
    for label, score in (("stool", 0.3), ("chair", 0.7)):
        h = ObjectHypothesisWithPose()
        h.hypothesis.class_id, h.hypothesis.score = label, score
        d.results.append(h)
    t = detection_to_target(d)
    assert (t.id, t.label, t.score) == (4, "chair", pytest.approx(0.7))
    with pytest.raises(DetectionMessageError, match="not an integer object id"):
        detection_to_target(Detection3D(id="track-9", results=d.results))
    with pytest.raises(DetectionMessageError, match="no hypothesis"):
        detection_to_target(Detection3D(id="4"))


def test_scene_and_result_messages_use_the_standard_vision_types():
    from vision_msgs.msg import BoundingBox3D, ObjectHypothesis

    import apeiria.msg
    from apeiria_ros.conversions.result import msg_to_target, target_to_msg
    from apeiria_ros.conversions.scene import msg_to_object, object_to_msg

    # apeiria's own copies are gone: the standard types serve
    assert not hasattr(apeiria.msg, "BoundingBox3D") and not hasattr(apeiria.msg, "ObjectHypothesis")
    o = office().get(5)
    m = object_to_msg(o)
    assert isinstance(m.bbox, BoundingBox3D) and all(isinstance(h, ObjectHypothesis) for h in m.results)
    assert [(h.class_id, h.score) for h in m.results] == [("chair", 1.0)]
    assert msg_to_object(m).center == pytest.approx(o.center)
    t = target_to_msg(Target(5, "chair", list(o.center), list(o.size), 0.75))
    assert isinstance(t.bbox, BoundingBox3D) and [(h.class_id, h.score) for h in t.results] == [("chair", 0.75)]
    assert msg_to_target(t).size == pytest.approx(list(o.size))


# --- grounding_node over DDS --------------------------------------------------------
@pytest.fixture(scope="module")
def grounding(ros, ros_env, log_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("detections")
    # a frame name the node's default (frame_id: map) cannot produce: the header must come from the map
    save_scene(dataclasses.replace(office(), frame_id="office_map"), d / "office.json")
    group = ProcessGroup(ros_env, log_dir / "detections")
    group.start(NodeSpec("grounding_node", name="grounding_detections",
                         params={"scene_file": str(d / "office.json"), "detections_topic": "/test/detections",
                                 "service_name": "/test/det/ground", "action_name": "/test/det/ground_action",
                                 "result_topic": "/test/det/result", "goal_topic": "/test/det/goal_pose",
                                 "marker_topic": "/test/det/markers"}))
    from apeiria.srv import Ground

    cli = ros.node.create_client(Ground, "/test/det/ground")
    if not cli.wait_for_service(timeout_sec=60):
        group.stop()
        pytest.fail("grounding_node service never appeared:\n" + group.log_tail("grounding_detections"))
    yield {"group": group, "client": cli}
    codes = group.stop()
    assert codes["grounding_detections"] in (0, -2), group.log_tail("grounding_detections")


def _ask(ros, grounding, text):
    from apeiria.srv import Ground

    return ros.call(grounding["client"], Ground.Request(instruction=text), timeout=60).result


def _detections(ros):
    from vision_msgs.msg import Detection3DArray

    from apeiria_ros.qos import qos_profile

    got: list = []
    sub = ros.node.create_subscription(Detection3DArray, "/test/detections", got.append, qos_profile("reliable", 100))
    wait_until(lambda: sub.get_publisher_count() >= 1, what="detections subscription matched")
    return got


def _for(arrays, result):
    """The Detection3DArray published for ``result`` (same stamp, as documented)."""
    return next((a for a in arrays if a.header.stamp == result.header.stamp), None)


def test_grounded_targets_arrive_as_detection3d_array(ros, grounding):
    arrays = _detections(ros)
    r = _ask(ros, grounding, "the mugs")
    assert r.status == "ok", r.message
    assert [t.id for t in r.targets] == [1, 2]
    a = wait_until(lambda: _for(arrays, r), 15, what="Detection3DArray for 'the mugs'")
    assert a.header.frame_id == "office_map" == r.header.frame_id
    assert [d.id for d in a.detections] == ["1", "2"]
    scene = office()
    for d in a.detections:
        o = scene.get(int(d.id))
        assert d.header.frame_id == "office_map" and d.header.stamp == r.header.stamp
        assert [(h.hypothesis.class_id, h.hypothesis.score) for h in d.results] == [("mug", 1.0)]
        c, s = d.bbox.center.position, d.bbox.size
        assert (c.x, c.y, c.z) == pytest.approx(o.center) and (s.x, s.y, s.z) == pytest.approx(o.size)
        assert d.bbox.center.orientation.w == 1.0


def test_no_match_publishes_an_empty_array_and_errors_publish_none(ros, grounding):
    arrays = _detections(ros)
    bad = _ask(ros, grounding, "   ")
    assert bad.status == "error"
    none = _ask(ros, grounding, "the giraffe")
    assert none.status == "no_match", none.message
    a = wait_until(lambda: _for(arrays, none), 15, what="Detection3DArray for 'the giraffe'")
    assert len(a.detections) == 0 and a.header.frame_id == "office_map"
    lamp = _ask(ros, grounding, "the lamp")
    a = wait_until(lambda: _for(arrays, lamp), 15, what="Detection3DArray for 'the lamp'")
    assert [(d.id, d.results[0].hypothesis.class_id) for d in a.detections] == [("3", "lamp")]
    # one publisher, in order: the error's result came first, so an array for it would be here by now
    assert _for(arrays, bad) is None
    assert len(arrays) == 2
