"""grounding_node and scene_builder_node as lifecycle nodes over real DDS, driven through
the standard lifecycle services (lifecycle_msgs ChangeState / GetState) exactly as a
lifecycle manager drives them: inputs exist only while active, deactivation answers
every request that reached the node, a node activates again after deactivate / cleanup,
and `apeiria bringup` (start_nodes) drives its nodes to active and down again.

Each node gets topic, service and node names of its own: the other test modules'
traffic never reaches these nodes."""

from __future__ import annotations

import time

import pytest
import yaml

from apeiria_model.scene.io import save_scene
from apeiria_ros.launching import NodeFailed, NodeSpec, ProcessGroup
from tests.ros.conftest import wait_until
from tests.ros.frames import frame_msgs, pose_params
from tests.ros.scenes import office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(400)]

GROUNDING_TOPICS = {
    "instruction_topic": "/lc/instruction", "result_topic": "/lc/result", "scene_topic": "/lc/scene_map",
    "status_topic": "/lc/status", "diagnostics_topic": "/lc/diagnostics", "service_name": "/lc/ground",
    "action_name": "/lc/ground_action", "marker_topic": "/lc/markers", "goal_topic": "/lc/goal_pose",
    "diagnostics_period_s": 0.2}
CAMERA_TOPICS = {
    "color_topic": "/lcs/image", "depth_topic": "/lcs/depth_image", "camera_info_topic": "/lcs/camera_info",
    "scene_topic": "/lcs/scene_map", "marker_topic": "/lcs/markers", "diagnostics_topic": "/lcs/diagnostics"}


class Lifecycle:
    """The lifecycle services of one node, called from the test's own node."""

    def __init__(self, ros, name: str):
        from lifecycle_msgs.srv import ChangeState, GetState

        self.ros, self.name = ros, name
        self._get = ros.node.create_client(GetState, f"/{name}/get_state")
        self._change = ros.node.create_client(ChangeState, f"/{name}/change_state")

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState

        return self.ros.call(self._get, GetState.Request(), timeout=60).current_state.label

    def change(self, transition: str) -> bool:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        tid = getattr(Transition, f"TRANSITION_{transition.upper()}")
        req = ChangeState.Request(transition=Transition(id=tid))
        return self.ros.call(self._change, req, timeout=180).success  # configure loads the reasoner


def _start(ros_env, log_dir, module: str, name: str, **params) -> ProcessGroup:
    g = ProcessGroup(ros_env, log_dir / name)
    g.start(NodeSpec(module, name=name, params=params))
    return g


def _counters(diags) -> dict:
    return {kv.key: kv.value for kv in diags[-1].status[0].values} if diags else {}


def _absent(check, seconds: float = 2.0) -> bool:
    """``check()`` stays false for ``seconds`` (what an inactive node must not do)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("lifecycle") / "office.json"
    save_scene(office(), p)
    return p


def test_grounding_node_transitions_and_inputs_exist_only_while_active(ros, ros_env, log_dir, scene_file):
    from diagnostic_msgs.msg import DiagnosticArray
    from std_msgs.msg import String

    from apeiria.msg import GroundingResult
    from apeiria.srv import Ground
    from apeiria_ros.qos import qos_profile

    results = ros.collect(GroundingResult, "/lc/result", qos_profile("reliable", 0))
    diags = ros.collect(DiagnosticArray, "/lc/diagnostics")
    instr = ros.node.create_publisher(String, "/lc/instruction", qos_profile("reliable", 0))
    ground = ros.node.create_client(Ground, "/lc/ground")
    g = _start(ros_env, log_dir, "grounding_node", "lc_grounding", autostart=False, scene_file=str(scene_file),
               **GROUNDING_TOPICS)
    lc = Lifecycle(ros, "lc_grounding")
    try:
        # unconfigured: the lifecycle services answer, nothing else exists
        assert lc.state() == "unconfigured"
        assert not ground.wait_for_service(timeout_sec=2.0)
        assert instr.get_subscription_count() == 0

        assert lc.change("configure") and lc.state() == "inactive"
        # inactive: publishers exist (lifecycle publishers, disabled), no inputs
        wait_until(lambda: ros.node.count_publishers("/lc/result") >= 1, 30, what="result publisher")
        assert not ground.wait_for_service(timeout_sec=2.0)
        assert instr.get_subscription_count() == 0 and _absent(lambda: diags)

        assert lc.change("activate") and lc.state() == "active"
        assert ground.wait_for_service(timeout_sec=30)
        r1 = ros.call(ground, Ground.Request(instruction="the red mug"), 60).result
        assert r1.status == "ok" and [t.id for t in r1.targets] == [1]
        wait_until(lambda: instr.get_subscription_count() >= 1, 30, what="instruction subscriber")
        instr.publish(String(data="the lamp #1"))
        wait_until(lambda: any(m.instruction == "the lamp #1" for m in results), 60, what="topic result")
        c = wait_until(lambda: _counters(diags).get("state") == "active" and _counters(diags), 30, what="diagnostics")
        assert c["pending"] == "0"

        assert lc.change("deactivate") and lc.state() == "inactive"
        wait_until(lambda: not ground.service_is_ready(), 30, what="the Ground service to go")
        wait_until(lambda: instr.get_subscription_count() == 0, 30, what="the instruction subscription to go")
        n_diag = len(diags)
        instr.publish(String(data="the lamp #2"))  # nobody takes it: no result, no diagnostics
        assert _absent(lambda: any(m.instruction == "the lamp #2" for m in results) or len(diags) > n_diag)
        assert lc.state() == "inactive"

        # activate again: same reasoner, same scene, request ids continue
        assert lc.change("activate") and lc.state() == "active"
        assert ground.wait_for_service(timeout_sec=30)
        r2 = ros.call(ground, Ground.Request(instruction="the red mug"), 60).result
        assert r2.status == "ok" and int(r2.request_id.split("-")[1]) > int(r1.request_id.split("-")[1])

        # full cycle: cleanup frees everything, configure + activate loads it again
        assert lc.change("deactivate") and lc.change("cleanup") and lc.state() == "unconfigured"
        wait_until(lambda: ros.node.count_publishers("/lc/result") == 0, 30, what="publishers freed by cleanup")
        assert not ground.service_is_ready()
        assert lc.change("configure") and lc.change("activate") and lc.state() == "active"
        r3 = ros.call(ground, Ground.Request(instruction="the lamp"), 60).result
        assert r3.status == "ok" and [t.id for t in r3.targets] == [3] and r3.scene_id == "office_test"
        # an invalid transition is refused and changes nothing
        assert not lc.change("configure") and lc.state() == "active"
        assert lc.change("active_shutdown") and lc.state() == "finalized"
        assert g.procs["lc_grounding"].poll() is None, g.log_tail("lc_grounding")
    finally:
        codes = g.stop()
    assert codes["lc_grounding"] in (0, -2), g.log_tail("lc_grounding")


def test_deactivation_answers_every_request_that_reached_the_node(ros, ros_env, log_dir, scene_file):
    """A burst of service calls in the node's queue, then deactivate: each call gets
    exactly one response (a result, or 'busy' for those refused by the deactivation),
    and the counters balance when the node is active again."""
    from diagnostic_msgs.msg import DiagnosticArray

    from apeiria.msg import GroundingResult
    from apeiria.srv import Ground
    from apeiria_ros.qos import qos_profile

    topics = {k: v.replace("/lc/", "/lcd/") if isinstance(v, str) else v for k, v in GROUNDING_TOPICS.items()}
    results = ros.collect(GroundingResult, "/lcd/result", qos_profile("reliable", 0))
    diags = ros.collect(DiagnosticArray, "/lcd/diagnostics", qos_profile("reliable", 0))
    g = _start(ros_env, log_dir, "grounding_node", "lcd_grounding", autostart=False, scene_file=str(scene_file),
               queue_size=512, **topics)
    lc = Lifecycle(ros, "lcd_grounding")
    n = 300
    try:
        assert lc.change("configure") and lc.change("activate")
        cli = ros.node.create_client(Ground, "/lcd/ground", qos_profile=qos_profile("reliable", 0))
        assert cli.wait_for_service(timeout_sec=30)
        futures = [cli.call_async(Ground.Request(instruction=f"the mug closest to the lamp %{i}")) for i in range(n)]
        # every call is inside the node (counted as received) before it is deactivated
        wait_until(lambda: int(_counters(diags).get("received_service", 0)) >= n, 120, interval=0.01,
                   what="all calls received")
        assert lc.change("deactivate") and lc.state() == "inactive"
        wait_until(lambda: all(f.done() for f in futures), 120,
                   what=f"{n} responses (got {sum(f.done() for f in futures)})")
        res = [f.result().result for f in futures]
        assert [r.instruction for r in res] == [f"the mug closest to the lamp %{i}" for i in range(n)]
        assert len({r.request_id for r in res}) == n
        assert {r.status for r in res} <= {"ok", "busy"}, {r.status for r in res}
        refused = [r for r in res if r.status == "busy"]
        assert all("deactivating" in r.message for r in refused), {r.message for r in refused}
        # one published result per request, none extra
        mine = {r.request_id for r in res}
        wait_until(lambda: len([m for m in results if m.request_id in mine]) >= n, 30, what="published results")
        assert len([m for m in results if m.request_id in mine]) == n
        print(f"\ndeactivated under load: {n} calls, {n - len(refused)} answered, {len(refused)} refused")
        # active again: the counters balance (nothing pending, nothing lost)
        n_diag = len(diags)
        assert lc.change("activate")

        def after_activation():
            # (a message sent just before the deactivation may still arrive: skip it)
            for a in diags[n_diag:]:
                c = {kv.key: kv.value for kv in a.status[0].values}
                if c.get("state") == "active" and c["pending"] == "0":
                    return c
            return None

        c = wait_until(after_activation, 30, what="diagnostics after activate with nothing pending")
        assert int(c["received"]) == int(c["served"]) + int(c["refused"]) + int(c["errors"]) == n
        assert int(c["refused"]) == len(refused)
        cli.destroy()
    finally:
        codes = g.stop()
    assert codes["lcd_grounding"] in (0, -2), g.log_tail("lcd_grounding")


class Camera:
    def __init__(self, ros):
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import CameraInfo, Image

        from apeiria.msg import SceneMap
        from apeiria_ros.qos import qos_profile

        n = ros.node
        self.pubs = [n.create_publisher(Image, CAMERA_TOPICS["color_topic"], qos_profile("reliable", 10)),
                     n.create_publisher(Image, CAMERA_TOPICS["depth_topic"], qos_profile("reliable", 10)),
                     n.create_publisher(CameraInfo, CAMERA_TOPICS["camera_info_topic"], qos_profile("reliable", 10))]
        self.diags = ros.collect(DiagnosticArray, CAMERA_TOPICS["diagnostics_topic"])
        self.maps = ros.collect(SceneMap, CAMERA_TOPICS["scene_topic"], qos_profile("latched"))
        self.t = 100.0

    def subscribed(self) -> int:
        return min(p.get_subscription_count() for p in self.pubs)

    def send(self) -> None:
        """One frame (camera_info first) with a fresh stamp."""
        self.t += 0.5
        color, depth, info = frame_msgs(self.t)
        self.pubs[2].publish(info)
        self.pubs[1].publish(depth)
        self.pubs[0].publish(color)

    def counters(self) -> dict:
        return _counters(self.diags)

    def send_until_processed(self, at_least: int) -> None:
        for _ in range(30):
            self.send()
            try:
                wait_until(lambda: int(self.counters().get("frames_processed", 0)) >= at_least, 1.5)
                return
            except AssertionError:
                pass
        raise AssertionError(f"no frame processed (counters {self.counters()})")


def test_scene_builder_processes_frames_only_while_active(ros, ros_env, log_dir):
    cam = Camera(ros)
    g = _start(ros_env, log_dir, "scene_builder_node", "lc_scene_builder", autostart=False, pose_source="fixed",
               fixed_camera_pose=pose_params(), sensor_qos="sensor_data", **CAMERA_TOPICS)
    lc = Lifecycle(ros, "lc_scene_builder")
    try:
        assert lc.state() == "unconfigured"
        assert lc.change("configure") and lc.state() == "inactive"
        assert _absent(lambda: cam.subscribed() > 0)  # no camera subscriptions while inactive
        assert not cam.maps and not cam.diags           # publishers disabled

        assert lc.change("activate") and lc.state() == "active"
        wait_until(lambda: cam.subscribed() >= 1, 30, what="camera subscriptions")
        wait_until(lambda: cam.maps, 30, what="the (empty) map published on activation")
        cam.send_until_processed(2)
        processed = int(cam.counters()["frames_processed"])

        assert lc.change("deactivate") and lc.state() == "inactive"
        wait_until(lambda: cam.subscribed() == 0, 30, what="camera subscriptions to go")
        # the last message before going quiet says so, with the counters at that moment
        wait_until(lambda: cam.diags and cam.diags[-1].status[0].message == "inactive", 30, what="'inactive' status")
        at_deactivate = cam.counters()
        assert int(at_deactivate["frames_processed"]) >= processed
        n_diag, n_maps = len(cam.diags), len(cam.maps)
        for _ in range(6):
            cam.send()  # nobody takes these
        assert _absent(lambda: len(cam.diags) > n_diag or len(cam.maps) > n_maps)

        assert lc.change("activate") and lc.state() == "active"
        wait_until(lambda: len(cam.diags) > n_diag, 30, what="heartbeat after activation")
        again = cam.counters()
        assert again["state"] == "active"
        # frames sent while inactive were never received, nor processed
        for k in ("color_received", "depth_received", "frames_processed"):
            assert again[k] == at_deactivate[k], (k, again[k], at_deactivate[k])
        wait_until(lambda: cam.subscribed() >= 1, 30, what="camera subscriptions again")
        cam.send_until_processed(int(at_deactivate["frames_processed"]) + 1)

        assert lc.change("deactivate") and lc.change("cleanup") and lc.state() == "unconfigured"
        assert lc.change("configure") and lc.change("activate") and lc.state() == "active"
    finally:
        codes = g.stop()
    assert codes["lc_scene_builder"] in (0, -2), g.log_tail("lc_scene_builder")


def test_autostart_brings_a_plain_node_to_active(ros, ros_env, log_dir):
    g = _start(ros_env, log_dir, "scene_builder_node", "lc_autostart", pose_source="fixed",
               **{k: v.replace("/lcs/", "/lca/") for k, v in CAMERA_TOPICS.items()})
    try:
        assert Lifecycle(ros, "lc_autostart").state() == "active"
    finally:
        g.stop()


def _bringup_config(tmp_path, scene_file, **extra) -> str:
    doc = {"apeiria_bringup": {"ros__parameters": {"nodes": ["scene_builder_node", "grounding_node"]}},
           "scene_builder_node": {"ros__parameters": {**{k: v.replace("/lcs/", "/lcb/") for k, v in CAMERA_TOPICS.items()},
                                                      "pose_source": "fixed", **extra}},
           # (a scene topic of its own: the builder's empty map must not replace the scene file)
           "grounding_node": {"ros__parameters": {**{k: v.replace("/lc/", "/lcb/g_") if isinstance(v, str) else v
                                                     for k, v in GROUNDING_TOPICS.items()},
                                                  "scene_file": str(scene_file), "service_name": "/lcb/ground"}}}
    p = tmp_path / "bringup.yaml"
    p.write_text(yaml.safe_dump(doc))
    return str(p)


def test_bringup_drives_the_lifecycle_nodes_to_active_and_down(ros, ros_env, log_dir, tmp_path, scene_file):
    from rcl_interfaces.srv import GetParameters

    from apeiria_ros.commands.ask import ask
    from apeiria_ros.commands.bringup import start_nodes

    group = start_nodes(_bringup_config(tmp_path, scene_file), ros_env, log_dir / "lc_bringup")
    try:
        assert group.managed == ["scene_builder_node", "grounding_node"]
        for name in group.managed:
            assert Lifecycle(ros, name).state() == "active"
            # the node did not start itself: bringup drove it
            cli = ros.node.create_client(GetParameters, f"/{name}/get_parameters")
            got = ros.call(cli, GetParameters.Request(names=["autostart"]), 30).values
            assert got[0].bool_value is False
        r = ask("the red mug", service="/lcb/ground", timeout=60.0, context=ros.context)
        assert r.status == "ok" and [t.id for t in r.targets] == [1]
    finally:
        codes = group.stop()
    assert all(c in (0, -2) for c in codes.values()), codes
    # stop went through the lifecycle (deactivate, cleanup, shutdown) before the signals
    log = group.log_path("grounding_node").read_text()
    assert "inactive: inputs closed" in log, log[-2000:]
    assert log.index("inactive: inputs closed") > log.index("ready: reasoner=symbolic")


def test_bringup_reports_a_node_that_fails_to_configure(ros, ros_env, log_dir, tmp_path, scene_file):
    from apeiria_ros.commands.bringup import start_nodes

    cfg = _bringup_config(tmp_path, scene_file, pose_source="teleport")
    with pytest.raises(NodeFailed) as e:
        start_nodes(cfg, ros_env, log_dir / "lc_bringup_bad")
    msg = str(e.value)
    assert "node scene_builder_node: transition 'configure' failed (now unconfigured)" in msg
    assert "pose_source must be auto | tf | topic | fixed, got 'teleport'" in msg  # the log tail says why


def test_autostart_failure_ends_the_process_with_the_reason(ros, ros_env, log_dir):
    g = _start(ros_env, log_dir, "scene_builder_node", "lc_autostart_bad", pose_source="teleport",
               **{k: v.replace("/lcs/", "/lcx/") for k, v in CAMERA_TOPICS.items()})
    try:
        rc = g.procs["lc_autostart_bad"].wait(60)
    finally:
        g.stop()
    assert rc == 1
    log = g.log_path("lc_autostart_bad").read_text()
    assert "autostart configure failed" in log and "pose_source must be auto | tf | topic | fixed" in log, log[-2000:]


def test_bringup_cli_reports_the_nodes_active_and_takes_them_down(ros_env, tmp_path, scene_file):
    import subprocess
    import sys

    from tests.ros.conftest import DOMAIN_ID

    cfg = tmp_path / "bringup.yaml"
    cfg.write_text(yaml.safe_dump({
        "apeiria_bringup": {"ros__parameters": {"nodes": ["grounding_node"]}},
        "grounding_node": {"ros__parameters": {**{k: v.replace("/lc/", "/lcc/") if isinstance(v, str) else v
                                                  for k, v in GROUNDING_TOPICS.items()},
                                               "scene_file": str(scene_file), "autostart": True}}}))
    logs = tmp_path / "log"
    p = subprocess.run([sys.executable, "-m", "apeiria_model.cli.main", "bringup", "--config", str(cfg),
                        "--domain-id", str(DOMAIN_ID), "--log-dir", str(logs), "--duration", "2"],
                       env=ros_env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "lifecycle nodes active: grounding_node" in p.stdout
    assert "grounding_node=0" in p.stdout or "grounding_node=-2" in p.stdout, p.stdout
    log = (logs / "grounding_node.log").read_text()
    # up and, after --duration, down through the lifecycle (deactivate ran before the signals)
    assert "ready: reasoner=symbolic" in log and "inactive: inputs closed" in log, log[-2000:]
    bad = subprocess.run([sys.executable, "-m", "apeiria_model.cli.main", "bringup", "--config", str(cfg),
                          "--transition-timeout", "0", "--log-dir", str(logs)],
                         env=ros_env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--transition-timeout must be > 0" in bad.stderr


def test_an_exception_in_deactivate_takes_the_node_down_to_unconfigured(ros):
    """An unexpected error mid-deactivation (inputs possibly half closed) must not leave
    the node 'active': error processing takes it down (publishers off, cleanup run) to
    unconfigured, from where it configures again. In-process, on the lifecycle helper."""
    from rclpy.lifecycle import TransitionCallbackReturn
    from std_msgs.msg import String

    from apeiria_ros.lifecycle import managed_node

    calls = []

    class Owner:
        boom = True

        def configure(self):
            calls.append("configure")

        def activate(self):
            calls.append("activate")

        def deactivate(self):
            calls.append("deactivate")
            if self.boom:
                raise RuntimeError("half closed")

        def cleanup(self):
            calls.append("cleanup")

    owner = Owner()
    node = managed_node(owner, f"lc_error_{id(owner)}", context=ros.context)
    try:
        pub = node.create_lifecycle_publisher(String, "/lc/error_probe", 10)
        assert node.trigger_configure() == node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert node.lifecycle_state == "active" and pub.is_activated
        assert node.trigger_deactivate() == TransitionCallbackReturn.ERROR
        assert node.lifecycle_state == "unconfigured" and not pub.is_activated
        assert calls[-1] == "cleanup" and "half closed" in node.last_error
        owner.boom = False
        assert node.trigger_configure() == node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        assert node.lifecycle_state == "active" and pub.is_activated
    finally:
        node.destroy_node()
