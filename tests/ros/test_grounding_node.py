"""grounding_node over real DDS: service, action (with feedback), topic path, run-time
parameters, bad input, and a flood that must come back as results or 'busy' statuses."""

from __future__ import annotations

import struct

import pytest

from apeiria_model.scene.io import save_scene
from apeiria_ros.launching import NodeSpec, ProcessGroup
from tests.ros.conftest import wait_until
from tests.ros.scenes import kitchen, office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(180)]


def _raw_string(payload: bytes) -> bytes:
    """A serialized std_msgs/String (XCDR1 little endian) carrying arbitrary bytes."""
    body = struct.pack("<I", len(payload) + 1) + payload + b"\x00"
    return b"\x00\x01\x00\x00" + body + b"\x00" * (-len(body) % 4)


@pytest.fixture(scope="module")
def grounding(ros, ros_env, log_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("grounding")
    save_scene(office(), d / "office.json")
    save_scene(kitchen(), d / "kitchen.json")
    group = ProcessGroup(ros_env, log_dir / "grounding")
    group.start(NodeSpec("grounding_node", params={"scene_file": str(d / "office.json"), "queue_size": 4}))
    from apeiria.srv import Ground

    cli = ros.node.create_client(Ground, "/apeiria/ground")
    ok = cli.wait_for_service(timeout_sec=60)
    if not ok:
        group.stop()
        pytest.fail("grounding_node service never appeared:\n" + group.log_tail("grounding_node"))
    yield {"group": group, "client": cli, "dir": d}
    codes = group.stop()
    assert codes["grounding_node"] in (0, -2), group.log_tail("grounding_node")


def _ask(ros, grounding, text, reasoner=""):
    from apeiria.srv import Ground

    return ros.call(grounding["client"], Ground.Request(instruction=text, reasoner=reasoner), timeout=60).result


def _alive(grounding):
    assert grounding["group"].procs["grounding_node"].poll() is None, grounding["group"].log_tail("grounding_node")


def test_service_grounds_the_red_mug(ros, grounding):
    r = _ask(ros, grounding, "the red mug")
    assert r.status == "ok", r.message
    assert [t.id for t in r.targets] == [1]
    assert r.request_id.startswith("srv-") and r.scene_id == "office_test"
    assert r.header.frame_id == "map" and r.trace and r.program and len(r.steps) >= 1
    assert r.reasoner == "symbolic"
    assert r.targets[0].bbox.size.x == pytest.approx(0.08)


def test_service_result_equals_ground_json_contract(ros, grounding):
    from apeiria_ros.conversions.result import result_msg_to_dict

    d = result_msg_to_dict(_ask(ros, grounding, "the lamp"))
    assert list(d) == ["instruction", "status", "targets", "answer", "program", "trace", "steps",
                       "verified", "failed_check", "reasoner", "latency_ms", "message", "ignored"]
    assert d["status"] == "ok" and [t["id"] for t in d["targets"]] == [3]


def test_action_reports_each_step_as_feedback(ros, grounding):
    from rclpy.action import ActionClient

    from apeiria.action import Ground

    client = ActionClient(ros.node, Ground, "/apeiria/ground_action")
    assert client.wait_for_server(timeout_sec=30)
    feedback = []
    goal = Ground.Goal(instruction="the mug closest to the lamp")
    handle = ros.wait_future(client.send_goal_async(goal, feedback_callback=lambda f: feedback.append(f.feedback)))
    assert handle.accepted
    res = ros.wait_future(handle.get_result_async(), 60).result.result
    assert res.status == "ok", res.message
    assert [t.id for t in res.targets] == [2]
    steps = [f for f in feedback if f.stage == "step"]
    wait_until(lambda: len([f for f in feedback if f.stage == "step"]) == len(res.steps), 10, what="step feedback")
    steps = [f for f in feedback if f.stage == "step"]
    assert [f.step.index for f in steps] == [s.index for s in res.steps]
    assert all(f.step_count == len(res.steps) and "->" in f.text for f in steps)
    # stages arrive in pipeline order; "queued" goes out the moment the goal is accepted and an
    # rclpy client that has not yet handled the goal response drops it, so it may be missing
    order = ["queued", "reasoning", "thinking", "step"]
    ranks = [order.index(f.stage) for f in feedback]
    assert ranks == sorted(ranks) and ranks[0] <= order.index("reasoning"), [f.stage for f in feedback]
    client.destroy()


def test_action_streams_neural_trace_lines_before_the_result(ros, grounding):
    """With the neural reasoner the trace arrives line by line as feedback while the model decodes."""
    from rclpy.action import ActionClient

    from apeiria.action import Ground

    client = ActionClient(ros.node, Ground, "/apeiria/ground_action")
    assert client.wait_for_server(timeout_sec=30)
    feedback = []
    goal = Ground.Goal(instruction="the mug on the desk", reasoner="neural")
    handle = ros.wait_future(client.send_goal_async(goal, feedback_callback=lambda f: feedback.append(f.feedback)))
    assert handle.accepted
    res = ros.wait_future(handle.get_result_async(), 120).result.result
    assert res.reasoner == "neural" and res.status in ("ok", "no_match", "error"), res.message
    wait_until(lambda: any(f.stage == "step" for f in feedback) or not res.steps, 10, what="step feedback")
    stages = [f.stage for f in feedback]
    thinking = [f.text for f in feedback if f.stage == "thinking"]
    assert thinking and thinking[0].startswith("<think>"), stages
    if "step" in stages:  # live lines come first, verified steps after the reasoner returns
        assert max(i for i, st in enumerate(stages) if st == "thinking") < stages.index("step")
    client.destroy()


def test_topic_path_publishes_result_markers_and_a_free_goal(ros, grounding):
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import String
    from visualization_msgs.msg import MarkerArray

    from apeiria.msg import GroundingResult
    from apeiria_ros.qos import qos_profile

    results = ros.collect(GroundingResult, "/apeiria/grounding_result")
    markers = ros.collect(MarkerArray, "/apeiria/grounding_markers", qos_profile("latched"))
    goals = ros.collect(PoseStamped, "/goal_pose", qos_profile("latched"))
    pub = ros.node.create_publisher(String, "/apeiria/instruction", qos_profile("reliable", 100))
    wait_until(lambda: pub.get_subscription_count() >= 1, what="instruction subscriber")
    wait_until(lambda: ros.node.count_publishers("/apeiria/grounding_result") >= 1, what="result publisher")
    pub.publish(String(data="the blue chair"))
    r = wait_until(lambda: next((m for m in results if m.instruction == "the blue chair"), None), 30, what="result")
    assert r.request_id.startswith("topic-") and [t.id for t in r.targets] == [5]
    wait_until(lambda: any(any(m.ns == "targets" and m.id == 5 for m in a.markers) for a in markers), 10, what="markers")
    texts = [m.text for a in markers for m in a.markers if m.ns == "target_labels"]
    assert any("chair" in t for t in texts)
    # the goal is stamped like its result (the latched goal of an earlier test is not it)
    g = wait_until(lambda: next((x for x in goals if x.header.stamp == r.header.stamp), None), 10, what="goal pose")
    chair = office().get(5)
    x, y = g.pose.position.x, g.pose.position.y
    assert g.header.frame_id == "map" and g.pose.position.z == 0.0
    for o in office().objects:  # the goal is on free floor, outside every footprint
        inside = abs(x - o.center[0]) < o.size[0] / 2 and abs(y - o.center[1]) < o.size[1] / 2
        assert not inside, f"goal ({x:.2f}, {y:.2f}) inside object {o.id}"
    # heading points at the chair
    import math

    yaw = 2 * math.atan2(g.pose.orientation.z, g.pose.orientation.w)
    want = math.atan2(chair.center[1] - y, chair.center[0] - x)
    assert abs(math.remainder(yaw - want, 2 * math.pi)) < 1e-3


@pytest.mark.parametrize("text, fragment", [
    ("", "instruction is empty"),
    ("   \n\t ", "instruction is empty"),
    ("x" * 100_000, "instruction is 100000 characters, the limit is 2000"),
])
def test_bad_instructions_on_the_service_get_error_status(ros, grounding, text, fragment):
    r = _ask(ros, grounding, text)
    assert r.status == "error" and fragment in r.message
    _alive(grounding)


def test_bad_bytes_on_the_topic_get_error_results_and_the_node_lives(ros, grounding):
    from std_msgs.msg import String

    from apeiria.msg import GroundingResult
    from apeiria_ros.qos import qos_profile

    results = ros.collect(GroundingResult, "/apeiria/grounding_result")
    pub = ros.node.create_publisher(String, "/apeiria/instruction", qos_profile("reliable", 100))
    wait_until(lambda: pub.get_subscription_count() >= 1, what="instruction subscriber")
    wait_until(lambda: ros.node.count_publishers("/apeiria/grounding_result") >= 1, what="result publisher")
    pub.publish(_raw_string(b"the red \xff\xfe mug"))
    pub.publish(_raw_string(b"y" * 100_000))
    pub.publish(String(data=""))
    wait_until(lambda: len([m for m in results if m.status == "error"]) >= 3, 30, what="3 error results")
    msgs = [m.message for m in results if m.status == "error"]
    assert any("not valid UTF-8 (byte 0xff at offset 8)" in m for m in msgs), msgs
    assert any("100000 bytes, the limit is 2000" in m for m in msgs), msgs
    assert any(m == "instruction is empty" for m in msgs), msgs
    _alive(grounding)
    assert _ask(ros, grounding, "the white mug").status == "ok"


def test_runtime_parameter_changes(ros, grounding):
    bad = ros.set_params("grounding_node", reasoner="oracle")
    assert not bad[0].successful and "reasoner must be one of" in bad[0].reason
    missing = ros.set_params("grounding_node", scene_file=str(grounding["dir"] / "nope.json"))
    assert not missing[0].successful and "nope.json" in missing[0].reason
    ro = ros.set_params("grounding_node", result_topic="/elsewhere")
    assert not ro[0].successful  # topics are read-only: they need a restart
    ok = ros.set_params("grounding_node", scene_file=str(grounding["dir"] / "kitchen.json"))
    assert ok[0].successful
    r = _ask(ros, grounding, "the green bowl")
    assert r.status == "ok" and [t.id for t in r.targets] == [11] and r.scene_id == "kitchen_test"
    assert ros.set_params("grounding_node", scene_file=str(grounding["dir"] / "office.json"))[0].successful
    assert [t.id for t in _ask(ros, grounding, "the red mug").targets] == [1]


def test_flood_gets_results_or_busy_never_silence(ros, grounding):
    from std_msgs.msg import String

    from apeiria.msg import GroundingResult
    from apeiria_ros.qos import qos_profile

    assert ros.set_params("grounding_node", queue_size=1)[0].successful
    try:
        results = ros.collect(GroundingResult, "/apeiria/grounding_result")
        pub = ros.node.create_publisher(String, "/apeiria/instruction", qos_profile("reliable", 100))
        wait_until(lambda: pub.get_subscription_count() >= 1, what="instruction subscriber")
        wait_until(lambda: ros.node.count_publishers("/apeiria/grounding_result") >= 1, what="result publisher")
        n = 60
        texts = [f"the mug closest to the lamp #{i}" for i in range(n)]
        for t in texts:
            pub.publish(String(data=t))
        wait_until(lambda: len({m.instruction for m in results} & set(texts)) == n, 90,
                   what=f"{n} results (got {len(results)})")
        mine = [m for m in results if m.instruction in set(texts)]
        assert len(mine) == n and len({m.request_id for m in mine}) == n
        statuses = {m.status for m in mine}
        assert "busy" in statuses, statuses
        assert statuses <= {"ok", "no_match", "unparsed", "busy"}, statuses
        busy = next(m for m in mine if m.status == "busy")
        assert "queue is full" in busy.message
    finally:
        ros.set_params("grounding_node", queue_size=4)
    _alive(grounding)
