"""grounding_node's Nav2 NavigateToPose mode over real DDS, against a NavigateToPose action
server inside this test process: the approach pose (the one on goal_topic) is the goal;
acceptance, success, rejection and abort are reported on the status topic; an absent
server times out visibly without blocking the node.

The tests run in file order: the first one needs the action server still absent."""

from __future__ import annotations

import json
import threading
import time

import pytest

from apeiria_model.scene.io import save_scene
from apeiria_ros.launching import NodeSpec, ProcessGroup
from tests.ros.conftest import wait_until
from tests.ros.scenes import office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(180)]

ACTION = "/test/nav/navigate_to_pose"
NODE = "grounding_nav"


@pytest.fixture(scope="module")
def grounding(ros, ros_env, log_dir, tmp_path_factory):
    from std_msgs.msg import String

    from apeiria.srv import Ground
    from apeiria_ros.qos import qos_profile

    d = tmp_path_factory.mktemp("nav2")
    save_scene(office(), d / "office.json")
    events: list = []  # (monotonic arrival, event, message)
    lock = threading.Lock()

    def on_status(m):
        doc = json.loads(m.data)
        with lock:
            events.append((time.monotonic(), doc["event"], doc["message"]))

    ros.node.create_subscription(String, "/test/nav/status", on_status, qos_profile("reliable", 1000))
    group = ProcessGroup(ros_env, log_dir / "nav2")
    group.start(NodeSpec("grounding_node", name=NODE, params={
        "scene_file": str(d / "office.json"), "navigate_action": ACTION, "navigate_timeout_s": 3.0,
        "navigate_behavior_tree": "bt_test.xml", "status_topic": "/test/nav/status",
        "goal_topic": "/test/nav/goal_pose", "service_name": "/test/nav/ground",
        "action_name": "/test/nav/ground_action", "result_topic": "/test/nav/result",
        "marker_topic": "/test/nav/markers", "detections_topic": "/test/nav/detections"}))
    cli = ros.node.create_client(Ground, "/test/nav/ground")
    if not cli.wait_for_service(timeout_sec=60):
        group.stop()
        pytest.fail("grounding_node service never appeared:\n" + group.log_tail(NODE))
    yield {"group": group, "client": cli, "events": events, "lock": lock}
    codes = group.stop()
    assert codes[NODE] in (0, -2), group.log_tail(NODE)


def _ask(ros, grounding, text):
    from apeiria.srv import Ground

    r = ros.call(grounding["client"], Ground.Request(instruction=text), timeout=60).result
    assert r.status == "ok" and r.targets, (text, r.status, r.message)
    return r


def _events(grounding, since: float = 0.0, kind: str | None = None):
    with grounding["lock"]:
        return [e for e in grounding["events"] if e[0] >= since and (kind is None or e[1] == kind)]


def _alive(grounding):
    assert grounding["group"].procs[NODE].poll() is None, grounding["group"].log_tail(NODE)


def test_absent_server_times_out_visibly_and_never_blocks_the_node(ros, grounding):
    t0 = time.monotonic()
    first = _ask(ros, grounding, "the blue chair")
    # asked while the first goal still waits for the (absent) server: answered at once,
    # and its pose replaces the waiting one
    second = _ask(ros, grounding, "the black chair")
    answered = time.monotonic()
    assert [t.id for t in first.targets] == [5] and [t.id for t in second.targets] == [4]
    err = wait_until(lambda: _events(grounding, t0, "navigation_error"), 20, what="navigation_error status")
    assert len(err) == 1
    arrived, _, text = err[0]
    assert f"no NavigateToPose action server on {ACTION} within 3 s" in text and "object 4 'chair'" in text
    assert answered < arrived, "the second request waited for the navigation timeout"
    assert arrived - t0 >= 2.9  # the timeout, not an instant failure
    sup = _events(grounding, t0, "navigation_superseded")
    assert len(sup) == 1 and "object 5 'chair'" in sup[0][2]
    assert not _events(grounding, t0, "navigation_sent")
    _alive(grounding)
    # the counters on /diagnostics say the same
    from diagnostic_msgs.msg import DiagnosticArray

    diags = ros.collect(DiagnosticArray, "/diagnostics")

    def nav_counts():
        for a in list(diags):
            for st in a.status:
                vals = {kv.key: kv.value for kv in st.values}
                if st.name == f"apeiria/{NODE}" and vals.get("navigation_server_timeouts") == "1":
                    return vals
        return None

    vals = wait_until(nav_counts, 10, what="navigation counters on /diagnostics")
    assert (vals["navigation_requested"], vals["navigation_superseded"], vals["navigation_sent"]) == ("2", "1", "0")
    from apeiria.srv import Ground

    # still serving (an instruction without a target: no new navigation goal)
    r = ros.call(grounding["client"], Ground.Request(instruction="the giraffe"), timeout=30).result
    assert r.status == "no_match"


class FakeNavigator:
    """A NavigateToPose action server: records goals, then succeeds, rejects or aborts."""

    def __init__(self, node):
        from rclpy.action import ActionServer, GoalResponse

        from nav2_msgs.action import NavigateToPose

        self.NavigateToPose = NavigateToPose
        self.mode = "succeed"
        self.goals: list = []
        self.server = ActionServer(
            node, NavigateToPose, ACTION, execute_callback=self._execute,
            goal_callback=lambda req: GoalResponse.REJECT if self.mode == "reject" else GoalResponse.ACCEPT)

    def _execute(self, handle):
        self.goals.append(handle.request)
        fb = self.NavigateToPose.Feedback(current_pose=handle.request.pose, distance_remaining=0.0)
        handle.publish_feedback(fb)
        if self.mode == "abort":
            handle.abort()
            return self.NavigateToPose.Result(error_code=self.NavigateToPose.Result.TF_ERROR,
                                              error_msg="no transform map -> base_link")
        handle.succeed()
        return self.NavigateToPose.Result()


@pytest.fixture(scope="module")
def navigator(ros, grounding):
    nav = FakeNavigator(ros.node)
    # plenty of time for the node's client to discover the new server
    assert all(r.successful for r in ros.set_params(NODE, navigate_timeout_s=30.0))
    yield nav
    nav.server.destroy()


def test_approach_pose_is_sent_as_navigate_to_pose_goal(ros, grounding, navigator):
    from geometry_msgs.msg import PoseStamped

    from apeiria_ros.qos import qos_profile

    goals = ros.collect(PoseStamped, "/test/nav/goal_pose", qos_profile("latched"))
    t0 = time.monotonic()
    r = _ask(ros, grounding, "the blue chair")
    g = wait_until(lambda: next((x for x in navigator.goals if x.pose.header.stamp == r.header.stamp), None), 40,
                   what="NavigateToPose goal at the fake server")
    topic = wait_until(lambda: next((x for x in goals if x.header.stamp == r.header.stamp), None), 10,
                       what="goal_topic pose")
    assert g.pose == topic, "the action goal is not the pose published on goal_topic"
    assert g.pose.header.frame_id == "map" and g.behavior_tree == "bt_test.xml"
    chair = office().get(5)
    p = g.pose.pose.position
    assert abs(p.x - chair.center[0]) > chair.size[0] / 2 or abs(p.y - chair.center[1]) > chair.size[1] / 2
    ok = wait_until(lambda: _events(grounding, t0, "navigation_succeeded"), 20, what="navigation_succeeded status")
    assert "object 5 'chair'" in ok[0][2]
    kinds = [e[1] for e in _events(grounding, t0)]
    assert kinds.index("navigation_sent") < kinds.index("navigation_accepted") < kinds.index("navigation_succeeded")
    assert "navigation_error" not in kinds


@pytest.mark.parametrize("mode, fragment", [
    ("reject", "goal rejected by " + ACTION),
    ("abort", "navigation aborted (error_code 9002: no transform map -> base_link)"),
])
def test_rejected_and_aborted_goals_are_reported(ros, grounding, navigator, mode, fragment):
    navigator.mode = mode
    try:
        t0 = time.monotonic()
        _ask(ros, grounding, "the black chair")
        err = wait_until(lambda: _events(grounding, t0, "navigation_error"), 40, what=f"navigation_error ({mode})")
        assert fragment in err[0][2] and "object 4 'chair'" in err[0][2]
        if mode == "reject":
            assert not _events(grounding, t0, "navigation_accepted")
        _alive(grounding)
    finally:
        navigator.mode = "succeed"
