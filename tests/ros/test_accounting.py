"""grounding_node over real DDS: every request is accounted for. A topic flood, a burst of
concurrent service calls and of action goals each come back as exactly one result (or an
explicit 'busy') per request id, the /diagnostics counters agree, and SceneMaps apply in
header-stamp order (an older map published after a newer one is ignored).

No timed assertions: the tests wait (generously) for counts, then check them."""

from __future__ import annotations

import json

import pytest

from apeiria_model.scene.io import save_scene
from apeiria_ros.launching import NodeSpec, ProcessGroup
from tests.ros.conftest import wait_until
from tests.ros.scenes import kitchen, office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(600)]

N_TOPIC = 2000
N_SERVICE = 200
N_ACTION = 60


@pytest.fixture(scope="module")
def node(ros, ros_env, log_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("accounting")
    save_scene(office(), d / "office.json")
    group = ProcessGroup(ros_env, log_dir / "accounting")
    # names of its own: the module's node never sees the other tests' traffic
    group.start(NodeSpec("grounding_node", name="accounting_node", params={
        "scene_file": str(d / "office.json"), "queue_size": 16,
        "instruction_topic": "/acc/instruction", "result_topic": "/acc/result", "scene_topic": "/acc/scene_map",
        "status_topic": "/acc/status", "diagnostics_topic": "/acc/diagnostics", "service_name": "/acc/ground",
        "action_name": "/acc/ground_action", "marker_topic": "/acc/markers", "goal_topic": "/acc/goal_pose",
        "diagnostics_period_s": 0.5}))
    from apeiria.srv import Ground

    cli = ros.node.create_client(Ground, "/acc/ground")
    if not cli.wait_for_service(timeout_sec=90):
        group.stop()
        pytest.fail("grounding_node service never appeared:\n" + group.log_tail("accounting_node"))
    yield {"group": group, "client": cli}
    codes = group.stop()
    assert codes["accounting_node"] in (0, -2), group.log_tail("accounting_node")


def _collect_all(ros, msg_type, topic):
    from apeiria_ros.qos import qos_profile

    return ros.collect(msg_type, topic, qos_profile("reliable", 0))  # keep all: the test must not lose results


def _diag(ros):
    from diagnostic_msgs.msg import DiagnosticArray

    return _collect_all(ros, DiagnosticArray, "/acc/diagnostics")


def _last_counters(diags) -> dict:
    if not diags:
        return {}
    return {kv.key: kv.value for kv in diags[-1].status[0].values}


def test_topic_flood_every_instruction_gets_one_result(ros, node):
    from std_msgs.msg import String

    from apeiria.msg import GroundingResult
    from apeiria_ros.qos import qos_profile

    results = _collect_all(ros, GroundingResult, "/acc/result")
    diags = _diag(ros)
    # a publisher that keeps its whole burst: what is lost after this point is the node's fault
    pub = ros.node.create_publisher(String, "/acc/instruction", qos_profile("reliable", 0))
    wait_until(lambda: pub.get_subscription_count() >= 1, 60, what="instruction subscriber")
    wait_until(lambda: ros.node.count_publishers("/acc/result") >= 1, 60, what="result publisher")
    wait_until(lambda: _last_counters(diags), 60, what="diagnostics")
    before = {k: int(v) for k, v in _last_counters(diags).items() if v.isdigit()}
    texts = [f"the mug closest to the lamp #{i}" for i in range(N_TOPIC)]
    for t in texts:
        pub.publish(String(data=t))
    want = set(texts)
    wait_until(lambda: len([m for m in results if m.instruction in want]) >= N_TOPIC, 400,
               what=f"{N_TOPIC} results (got {len([m for m in results if m.instruction in want])})")
    mine = [m for m in results if m.instruction in want]
    assert len(mine) == N_TOPIC and {m.instruction for m in mine} == want  # exactly one each
    assert len({m.request_id for m in mine}) == N_TOPIC
    statuses = {m.status for m in mine}
    assert statuses <= {"ok", "no_match", "busy"}, statuses  # no_match: a "#N" suffix can read as part of the noun
    assert "ok" in statuses
    assert all("queue is full" in m.message for m in mine if m.status == "busy")
    # the counters say the same
    def settled():
        c = _last_counters(diags)
        return c if c and int(c["received_topic"]) - before["received_topic"] == N_TOPIC and c["pending"] == "0" else None
    c = wait_until(settled, 120, what="diagnostics counting the flood")
    busy = sum(m.status == "busy" for m in mine)
    assert int(c["refused"]) - before["refused"] == busy
    assert int(c["served"]) - before["served"] == N_TOPIC - busy
    assert c["dropped"] == "0"
    print(f"\ntopic flood: sent {N_TOPIC}, results {len(mine)} ({N_TOPIC - busy} served, {busy} busy)")


def test_concurrent_service_calls_all_answered(ros, node):
    from apeiria.srv import Ground
    from apeiria_ros.qos import qos_profile

    # a burst needs a client that keeps every response too (the default keeps the last 10)
    cli = ros.node.create_client(Ground, "/acc/ground", qos_profile=qos_profile("reliable", 0))
    assert cli.wait_for_service(timeout_sec=60)
    futures = [cli.call_async(Ground.Request(instruction=f"the red mug %{i}")) for i in range(N_SERVICE)]
    wait_until(lambda: all(f.done() for f in futures), 400,
               what=f"{N_SERVICE} service responses (got {sum(f.done() for f in futures)})")
    res = [f.result().result for f in futures]
    cli.destroy()
    assert [r.instruction for r in res] == [f"the red mug %{i}" for i in range(N_SERVICE)]
    assert len({r.request_id for r in res}) == N_SERVICE and all(r.request_id.startswith("srv-") for r in res)
    assert {r.status for r in res} <= {"ok", "busy"}
    assert all([t.id for t in r.targets] == [1] for r in res if r.status == "ok")
    print(f"\nservice burst: {N_SERVICE} calls, {N_SERVICE} responses "
          f"({sum(r.status == 'ok' for r in res)} ok, {sum(r.status == 'busy' for r in res)} busy)")


def test_concurrent_action_goals_all_finish(ros, node):
    from action_msgs.msg import GoalStatus
    from rclpy.action import ActionClient

    from apeiria.action import Ground

    from apeiria_ros.qos import qos_profile

    keep_all = qos_profile("reliable", 0)
    client = ActionClient(ros.node, Ground, "/acc/ground_action", goal_service_qos_profile=keep_all,
                          result_service_qos_profile=keep_all)
    assert client.wait_for_server(timeout_sec=60)
    sends = [client.send_goal_async(Ground.Goal(instruction=f"the lamp &{i}")) for i in range(N_ACTION)]
    wait_until(lambda: all(f.done() for f in sends), 300, what="goal responses")
    handles = [f.result() for f in sends]
    assert all(h.accepted for h in handles)
    results = [h.get_result_async() for h in handles]
    wait_until(lambda: all(f.done() for f in results), 300,
               what=f"{N_ACTION} action results (got {sum(f.done() for f in results)})")
    got = [f.result() for f in results]
    assert [g.result.result.instruction for g in got] == [f"the lamp &{i}" for i in range(N_ACTION)]
    for g in got:
        if g.result.result.status == "ok":
            assert g.status == GoalStatus.STATUS_SUCCEEDED and [t.id for t in g.result.result.targets] == [3]
        else:
            assert g.result.result.status == "busy" and g.status == GoalStatus.STATUS_ABORTED
    client.destroy()


def _scene_msg(scene, sec: int):  # (stamps after 2030: newer than the scene file loaded at start)
    from builtin_interfaces.msg import Time

    from apeiria_ros.conversions.scene import scene_to_msg

    return scene_to_msg(scene, Time(sec=sec, nanosec=0))


def test_an_older_scene_map_never_replaces_a_newer_one(ros, node):
    from std_msgs.msg import String

    from apeiria.msg import SceneMap
    from apeiria.srv import Ground
    from apeiria_ros.qos import qos_profile

    status = _collect_all(ros, String, "/acc/status")
    events = lambda name: [json.loads(m.data) for m in status if json.loads(m.data)["event"] == name]  # noqa: E731
    diags = _diag(ros)
    pub = ros.node.create_publisher(SceneMap, "/acc/scene_map", qos_profile("latched"))
    wait_until(lambda: pub.get_subscription_count() >= 1, 60, what="scene subscriber")
    wait_until(lambda: _last_counters(diags), 60, what="diagnostics")
    applied0 = int(_last_counters(diags)["scenes_applied"])

    pub.publish(_scene_msg(kitchen(), 2_000_000_000))  # newer (and newer than the file, loaded at start)
    wait_until(lambda: int(_last_counters(diags).get("scenes_applied", 0)) > applied0, 60, what="kitchen applied")
    ask = lambda text: ros.call(node["client"], Ground.Request(instruction=text), 60).result  # noqa: E731
    r = ask("the green bowl")
    assert r.scene_id == "kitchen_test" and [t.id for t in r.targets] == [11]

    pub.publish(_scene_msg(office(), 1_900_000_000))  # published later, stamped earlier
    stale = wait_until(lambda: events("scene_stale"), 60, what="scene_stale status")
    assert "office_test" in stale[-1]["message"]
    assert ask("the green bowl").scene_id == "kitchen_test"
    c = wait_until(lambda: (c := _last_counters(diags)) and int(c["scenes_stale"]) >= 1 and c, 30, what="counters")
    assert c["scene_id"] == "kitchen_test"

    pub.publish(_scene_msg(office(), 2_100_000_000))  # newer again: applied
    wait_until(lambda: ask("the red mug").scene_id == "office_test", 60, interval=0.2, what="office applied")
