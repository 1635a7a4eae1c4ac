"""grounding_node: instruction in (topic / Ground service / Ground action), grounded
objects out (GroundingResult, vision_msgs/Detection3DArray, RViz markers, a navigation
goal in front of the target: a PoseStamped topic and, optionally, a Nav2 NavigateToPose goal).

All reasoning comes from apeiria_model; it runs on one worker thread behind a bounded
queue, so DDS callbacks never starve. Every request is accounted for: it gets exactly one
GroundingResult with its request id, which is a reasoned answer, ``error`` (bad input,
timeout), ``busy`` (the queue was full: refused, never silently dropped) or, on the topic,
``dropped`` (DDS reported the message lost before the node could read it). Service calls
and action goals do not hold an executor thread while they wait: the worker answers them.
Counters (received / served / refused / dropped / pending) go to /diagnostics.

A lifecycle node: inputs exist only while it is active (see ``GroundingNode`` and the
Lifecycle section of docs/ros.md); ``autostart`` (default true) makes it configure and
activate itself when no lifecycle manager drives it.

SceneMaps are applied in header-stamp order (an older map never replaces a newer one),
converted off the executor and swapped in atomically.

    python -m apeiria_ros.grounding_node --ros-args -p scene_file:=scene.json
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any, Callable

from apeiria_model.reasoning.result import STATUS_ERROR, STATUS_NO_MATCH, STATUS_OK, GroundingResult
from apeiria_model.reasoning.base import MAX_INSTRUCTION_CHARS
from apeiria_model.scene.io import SceneValidationError, load_scene
from apeiria_model.scene.model import Scene
from apeiria_ros import reasoners
from apeiria_ros.approach import approach_pose
from apeiria_ros.conversions.geometry import yaw_to_quat
from apeiria_ros.conversions.result import STATUS_BUSY, result_to_msg, step_to_msg
from apeiria_ros.conversions.scene import SceneMessageError, msg_to_scene
from apeiria_ros.env import resolve_path
from apeiria_ros.heap import freeze_heap
from apeiria_ros.instructions import InstructionError, check_instruction, decode_string_cdr
from apeiria_ros.lifecycle import LIFECYCLE_PARAM_DESCRIPTION
from apeiria_ros.params import Param

PARAMS = [
    Param("autostart", True, LIFECYCLE_PARAM_DESCRIPTION, True),
    Param("instruction_topic", "/apeiria/instruction", "std_msgs/String topic of instructions to ground", True),
    Param("instruction_qos_depth", 0, "history depth of the instruction subscription (0 = keep all: a burst is "
          "never overwritten before the node reads it)", True),
    Param("scene_topic", "/apeiria/scene_map", "apeiria/SceneMap topic; the newest map by header stamp is the scene", True),
    Param("scene_qos", "latched", "QoS of the scene subscription: latched | reliable | best_effort", True),
    Param("scene_file", "", "Scene JSON v1 file used until a SceneMap arrives ('' = none; pkg:apeiria_model/... allowed)"),
    Param("result_topic", "/apeiria/grounding_result", "apeiria/GroundingResult output topic", True),
    Param("result_qos_depth", 10000, "history depth of the result publisher (one result per request, busy ones too)", True),
    Param("marker_topic", "/apeiria/grounding_markers", "visualization_msgs/MarkerArray of targets and anchors", True),
    Param("goal_topic", "/goal_pose", "geometry_msgs/PoseStamped approach pose in front of the first target "
          "(/goal_pose is the topic Nav2's bt_navigator reads)", True),
    Param("status_topic", "/apeiria/grounding_status", "std_msgs/String JSON status events (scene loaded, errors)", True),
    Param("diagnostics_topic", "/diagnostics", "diagnostic_msgs/DiagnosticArray request counters", True),
    Param("diagnostics_period_s", 1.0, "seconds between /diagnostics counter messages", True),
    Param("service_name", "/apeiria/ground", "apeiria/srv/Ground service name", True),
    Param("service_qos_depth", 0, "request history of the Ground service and the action's goal service "
          "(0 = keep all: concurrent calls wait in DDS, none is overwritten)", True),
    Param("action_name", "/apeiria/ground_action", "apeiria/action/Ground action name", True),
    Param("reasoner", "symbolic", "default reasoner: symbolic | neural | hybrid (requests may override)"),
    Param("queue_size", 64, "requests waiting for the reasoner before new ones get status 'busy'"),
    Param("request_timeout_s", 60.0, "a service/action request not answered in this time gets status 'error'"),
    Param("feedback_flush_s", 0.1, "action: pause after the last step feedback before the result is sent "
          "(rclpy clients drop feedback that arrives after the result)"),
    Param("max_instruction_chars", MAX_INSTRUCTION_CHARS, "longer instructions get status 'error'"),
    Param("publish_goal", True, "publish a navigation goal for the first target"),
    Param("standoff", 0.6, "goal distance (m) from the target's footprint edge"),
    Param("robot_radius", 0.3, "robot footprint radius (m) used to keep the goal clear of other objects"),
    Param("frame_id", "map", "frame used when the scene names none"),
    # standard outputs: vision_msgs detections, Nav2 action goals
    Param("detections_topic", "/apeiria/detections", "vision_msgs/Detection3DArray of each ok / no_match result's "
          "targets (one Detection3D per target, id = object id; stamp and frame = the GroundingResult's)", True),
    Param("navigate_action", "", "Nav2 NavigateToPose action the approach pose is sent to as a goal "
          "('' = off; e.g. /navigate_to_pose); needs publish_goal", True),
    Param("navigate_timeout_s", 5.0, "NavigateToPose: seconds to wait for the action server, then for its goal "
          "response, before a navigation_error status"),
    Param("navigate_behavior_tree", "", "NavigateToPose goal behavior_tree ('' = the navigator's default)"),
]

STATUS_DROPPED = "dropped"


class Job:
    """One request. ``claim`` makes its answer one-shot: the worker and the timeout race,
    the first one answers, the other finds the job claimed and does nothing."""

    def __init__(self, request_id: str, instruction: str, reasoner: str, source: str,
                 feedback: Callable[..., None] | None = None, cancelled: Callable[[], bool] | None = None):
        self.request_id, self.instruction, self.reasoner, self.source = request_id, instruction, reasoner, source
        self.feedback, self.cancelled = feedback, cancelled
        self.result_msg: Any = None
        self._lock = threading.Lock()
        self._claimed = False
        self._reply: Callable[[Any], None] | None = None

    @property
    def claimed(self) -> bool:
        with self._lock:
            return self._claimed

    def claim(self) -> bool:
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            return True

    def deliver(self, msg) -> None:
        with self._lock:
            self.result_msg = msg
            reply = self._reply
        if reply is not None:
            reply(msg)

    def on_reply(self, reply: Callable[[Any], None]) -> None:
        """Call ``reply(result_msg)`` once the answer exists (now, if it already does)."""
        with self._lock:
            msg = self.result_msg
            if msg is None:
                self._reply = reply
                return
        reply(msg)


class Counters:
    """Request accounting, thread safe: received == served + refused + errors + pending."""

    def __init__(self):
        self._lock = threading.Lock()
        self.c: dict[str, int] = {k: 0 for k in (
            "received", "received_topic", "received_service", "received_action", "served", "refused",
            "errors", "dropped", "late", "scenes_applied", "scenes_stale", "scenes_rejected")}
        self.statuses: dict[str, int] = {}

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.c[key] = self.c.get(key, 0) + n

    def answered(self, status: str, kind: str) -> None:
        with self._lock:
            self.c[kind] += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = dict(self.c)
            out["pending"] = out["received"] - out["served"] - out["refused"] - out["errors"]
            out.update({f"status_{k}": v for k, v in sorted(self.statuses.items())})
            return out


def _error_result(instruction: str, reasoner: str, message: str, status: str = STATUS_ERROR) -> GroundingResult:
    return GroundingResult(instruction=instruction, status=status, reasoner=reasoner, message=message)


def _safe_text(raw: Any, limit: int = 200) -> str:
    """What to echo back as 'instruction' for a refused input: short and valid UTF-8."""
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw[: limit * 4]).decode("utf-8", errors="replace")
    text = str(raw).encode("utf-8", errors="replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def _stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class GroundingNode:
    """A managed (lifecycle) node, built lazily on rclpy (importing this module needs no
    ROS). ``configure`` reads the parameters, creates the publishers and workers, loads
    the scene file and loads + warms up the default reasoner; ``activate`` opens the
    inputs (subscriptions, service, action, diagnostics timer); ``deactivate`` closes
    them, every request that reached the node still getting its one result; ``cleanup``
    frees the workers, publishers, scene and models. With ``autostart`` (the default)
    the constructor configures and activates; otherwise a lifecycle manager does."""

    def __init__(self, node_name: str = "grounding_node", **node_kwargs):
        from apeiria_ros.lifecycle import autostart, managed_node
        from apeiria_ros.params import declare_all, values

        self.node = node = managed_node(self, node_name, **node_kwargs)
        declare_all(node, PARAMS)
        self.cfg = values(node, PARAMS)
        self._lock = threading.Lock()
        self._scene: Scene | None = None
        self._scene_source = ""
        self._scene_key = (-1, -1)     # (header stamp ns, arrival) of the scene in effect
        self._scene_latest = (-1, -1)  # newest key accepted for conversion
        self._scene_seq = itertools.count()
        self._reasoners: dict[str, Any] = {}
        self._reasoner_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._deferred: dict[int, tuple[Any, Job]] = {}
        self.counters = Counters()  # over the process's life, across lifecycle transitions
        # Admission: requests are queued only while active. ``_gate`` orders every submit
        # against deactivation; ``_inflight`` counts input callbacks still running and
        # replies (service responses, action goals) not yet sent.
        self._gate = threading.Lock()
        self._accepting = False
        self._inflight = 0
        self._inflight_cv = threading.Condition()
        from std_msgs.msg import String

        self._String = String
        self.worker = self.scene_worker = self.deadlines = None
        self.pub_result = self.pub_markers = self.pub_goal = self.pub_status = self.pub_diag = None
        self.pub_detections = self.navigator = None
        self.sub_scene = self.sub_instruction = self.service = self.action_server = self.diag_timer = None
        node.add_on_set_parameters_callback(self._on_set_parameters)
        if self.cfg["autostart"]:
            autostart(node)

    # --- lifecycle ------------------------------------------------------------------
    def configure(self) -> None:
        """Parameters, publishers, workers, the scene file and the default reasoner (its
        models load and warm up here, so the first request is not the slow one)."""
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PoseStamped
        from std_msgs.msg import String
        from visualization_msgs.msg import MarkerArray

        from apeiria.msg import GroundingResult as GroundingResultMsg
        from apeiria_ros.params import values
        from apeiria_ros.qos import qos_profile
        from apeiria_ros.worker import BoundedWorker, Deadlines

        node = self.node
        self.cfg = cfg = values(node, PARAMS)
        # publishers (lifecycle: they send only while the node is active)
        self.pub_result = node.create_lifecycle_publisher(GroundingResultMsg, cfg["result_topic"],
                                                          qos_profile("reliable", int(cfg["result_qos_depth"])))
        self.pub_markers = node.create_lifecycle_publisher(MarkerArray, cfg["marker_topic"], qos_profile("latched"))
        self.pub_goal = node.create_lifecycle_publisher(PoseStamped, cfg["goal_topic"], qos_profile("latched"))
        self.pub_status = node.create_lifecycle_publisher(String, cfg["status_topic"], qos_profile("reliable", 50))
        self.pub_diag = node.create_lifecycle_publisher(DiagnosticArray, cfg["diagnostics_topic"],
                                                        qos_profile("reliable", 50))
        self.worker = BoundedWorker(self._process, int(cfg["queue_size"]), "reject",
                                    on_error=self._on_worker_error, name="apeiria-grounding")
        # one slot, newest wins: a map waiting for conversion is superseded by a newer one
        self.scene_worker = BoundedWorker(self._apply_scene, 1, "drop_oldest", name="apeiria-scenes")
        self.deadlines = Deadlines()
        self._configure_standard_outputs()
        if cfg["scene_file"]:
            err = self._load_scene_file(cfg["scene_file"])
            if err:
                self._status("scene_error", err)
        # A default reasoner that cannot load is reported; requests then get status
        # 'error' with the reason (or name another reasoner), as before lifecycle.
        self._preload()

    def _configure_standard_outputs(self) -> None:
        """vision_msgs/Detection3DArray publisher; the Nav2 NavigateToPose client when
        ``navigate_action`` is set (apeiria_ros.navigation)."""
        from vision_msgs.msg import Detection3DArray

        from apeiria_ros.qos import qos_profile

        cfg = self.cfg
        self.pub_detections = self.node.create_lifecycle_publisher(Detection3DArray, cfg["detections_topic"],
                                                                   qos_profile("reliable", 10))
        self.navigator = None
        if cfg["navigate_action"]:
            from apeiria_ros.navigation import NavigateToPoseClient

            self.navigator = NavigateToPoseClient(
                self.node, cfg["navigate_action"], self._status, timeout_s=lambda: float(self.cfg["navigate_timeout_s"]),
                behavior_tree=lambda: str(self.cfg["navigate_behavior_tree"]))
            if cfg["publish_goal"] and cfg["goal_topic"] == "/goal_pose":
                self.node.get_logger().warning(
                    "navigate_action and goal_topic /goal_pose are both set: Nav2's bt_navigator also turns "
                    "/goal_pose into a NavigateToPose goal, so each approach pose is sent twice (set goal_topic "
                    "to e.g. /apeiria/goal_pose)")

    def activate(self) -> None:
        """Inputs: the scene and instruction subscriptions, the service, the action,
        the diagnostics timer; then requests are accepted."""
        from rclpy.action import ActionServer, CancelResponse, GoalResponse
        from rclpy.callback_groups import ReentrantCallbackGroup

        from apeiria.action import Ground as GroundAction
        from apeiria.msg import SceneMap
        from apeiria.srv import Ground as GroundSrv
        from apeiria_ros.qos import qos_profile

        node, cfg = self.node, self.cfg
        with self._gate:
            self._accepting = True
        group = ReentrantCallbackGroup()
        self.sub_scene = node.create_subscription(SceneMap, cfg["scene_topic"], self._on_scene,
                                                  qos_profile(cfg["scene_qos"]), callback_group=group)
        # raw=True: we decode the String ourselves, so invalid UTF-8 is an error result.
        events = None
        try:
            from rclpy.event_handler import SubscriptionEventCallbacks

            events = SubscriptionEventCallbacks(message_lost=self._tracked(self._on_lost))
        except ImportError:
            pass
        self.sub_instruction = node.create_subscription(
            self._String, cfg["instruction_topic"], self._tracked(self._on_instruction),
            qos_profile("reliable", int(cfg["instruction_qos_depth"])), callback_group=group, raw=True,
            event_callbacks=events)
        srv_qos = qos_profile("reliable", int(cfg["service_qos_depth"]))
        self.service = node.create_service(GroundSrv, cfg["service_name"], self._tracked(self._on_service),
                                           qos_profile=srv_qos, callback_group=group)
        # The executor sends what the callback returns; a deferred response goes out later,
        # from the worker, so a waiting call holds no executor thread.
        send = self.service.send_response
        self.service.send_response = lambda response, header: self._send_or_defer(send, response, header)
        self._GroundAction = GroundAction
        self.action_server = ActionServer(
            node, GroundAction, cfg["action_name"], execute_callback=self._finish_goal,
            goal_callback=lambda goal: GoalResponse.ACCEPT, handle_accepted_callback=self._tracked(self._on_goal),
            cancel_callback=lambda handle: CancelResponse.ACCEPT, callback_group=group,
            goal_service_qos_profile=srv_qos, result_service_qos_profile=srv_qos)
        self.diag_timer = node.create_timer(float(cfg["diagnostics_period_s"]), self.publish_diagnostics,
                                            callback_group=group)
        self._status("ready", f"reasoner={cfg['reasoner']} scene={self._scene_source or 'none yet'}")

    def deactivate(self) -> None:
        """Stop taking work, keeping the accounting promise: a request that reached the
        node gets its one result. From now on new requests are refused ('busy'); queued
        ones are refused too; the one being reasoned finishes (or, after
        request_timeout_s, gets 'error'); then every reply is sent and the inputs go.
        The publishers are still active throughout (the lifecycle node disables them
        after this returns)."""
        with self._gate:
            self._accepting = False
        if self.worker is not None:
            for job in self.worker.take_queued():
                self._answer(job, _error_result(job.instruction, job.reasoner, "grounding_node is deactivating: "
                                                "refused before reasoning; retry when it is active", STATUS_BUSY),
                             "refused")
            timeout = float(self.cfg["request_timeout_s"])
            if not self.worker.wait_idle(timeout):
                job = self.worker.current
                if job is not None:
                    self._answer(job, _error_result(job.instruction, job.reasoner, "grounding_node deactivated while "
                                                    f"reasoning (no result within {timeout:g} s)"), "errors")
        # replies in flight: the deferred service responses, the goals waiting for their
        # feedback head start, and callbacks that took a message before the inputs went
        self._wait_inflight(float(self.cfg["feedback_flush_s"]) + 10.0)
        for name in ("sub_scene", "sub_instruction", "service", "diag_timer"):
            entity = getattr(self, name)
            if entity is not None:
                {"diag_timer": self.node.destroy_timer, "service": self.node.destroy_service}.get(
                    name, self.node.destroy_subscription)(entity)
                setattr(self, name, None)
        if self.action_server is not None:
            # results go out on the executor once a goal finishes: give them a moment
            time.sleep(0.2)
            self.action_server.destroy()
            self.action_server = None
        self._wait_inflight(5.0)  # a callback that took its message just before the inputs went
        self._status("inactive", "inputs closed: no requests are taken until activated again")

    def cleanup(self) -> None:
        """Free what configure made: workers, publishers, the scene, the reasoners (models)."""
        for w in (self.worker, self.scene_worker):
            if w is not None:
                w.stop(timeout=5.0)
        if self.deadlines is not None:
            self.deadlines.stop()
        self.worker = self.scene_worker = self.deadlines = None
        if self.navigator is not None:
            self.navigator.destroy()
            self.navigator = None
        for name in ("pub_result", "pub_markers", "pub_goal", "pub_status", "pub_diag", "pub_detections"):
            pub = getattr(self, name, None)
            if pub is not None:
                self.node.destroy_lifecycle_publisher(pub)
                setattr(self, name, None)
        with self._lock:
            self._scene, self._scene_source = None, ""
            self._scene_key = self._scene_latest = (-1, -1)
        with self._reasoner_lock:
            self._reasoners.clear()
        import gc

        gc.collect()  # the models' tensors go now, not at some later collection

    @property
    def state(self) -> str:
        """The lifecycle state: unconfigured | inactive | active | finalized."""
        return self.node.lifecycle_state

    def _tracked(self, callback: Callable) -> Callable:
        """``callback`` counted in ``_inflight`` while it runs (deactivation waits for it)."""
        def run(*args):
            self._inflight_add(1)
            try:
                return callback(*args)
            finally:
                self._inflight_add(-1)

        return run

    def _inflight_add(self, n: int) -> None:
        with self._inflight_cv:
            self._inflight += n
            self._inflight_cv.notify_all()

    def _wait_inflight(self, timeout: float) -> bool:
        with self._inflight_cv:
            ok = self._inflight_cv.wait_for(lambda: self._inflight <= 0, timeout)
            if not ok:
                self.node.get_logger().warning(f"{self._inflight} request(s) still in flight after {timeout:g} s")
            return ok

    # --- scene ----------------------------------------------------------------------
    def _load_scene_file(self, path: str) -> str:
        try:
            scene = load_scene(resolve_path(path))
        except (OSError, SceneValidationError, ValueError) as e:
            return f"scene_file '{path}': {e}"
        # an operator's explicit choice: newer than every map received so far
        key = (time.time_ns(), next(self._scene_seq))
        with self._lock:
            self._scene, self._scene_source, self._scene_key = scene, f"file:{path}", key
            self._scene_latest = max(self._scene_latest, key)
        self.counters.add("scenes_applied")
        self._status("scene", f"loaded {len(scene)} objects from {path}")
        return ""

    def _on_scene(self, msg) -> None:
        key = (_stamp_ns(msg.header.stamp), next(self._scene_seq))
        with self._lock:
            stale = key < self._scene_latest
            if not stale:
                self._scene_latest = key
        if stale:
            self._stale(msg, key)
            return
        self.scene_worker.submit((key, msg))

    def _stale(self, msg, key) -> None:
        self.counters.add("scenes_stale")
        self._status("scene_stale", f"SceneMap '{msg.scene_id}' stamped {key[0] / 1e9:.9f} is older than the "
                                    f"scene in effect: ignored")

    def _apply_scene(self, item) -> None:
        key, msg = item
        try:
            scene = msg_to_scene(msg)
        except SceneMessageError as e:
            self.counters.add("scenes_rejected")
            self._status("scene_error", f"SceneMap rejected: {e}")
            return
        with self._lock:
            stale = key < self._scene_key
            if not stale:
                first = not self._scene_source.startswith("topic")
                self._scene, self._scene_source, self._scene_key = scene, f"topic:{self.cfg['scene_topic']}", key
        if stale:
            self._stale(msg, key)
            return
        self.counters.add("scenes_applied")
        if first:
            self._status("scene", f"using SceneMap '{scene.scene_id}' ({len(scene)} objects) from {self.cfg['scene_topic']}")

    def scene(self) -> Scene | None:
        with self._lock:
            return self._scene

    # --- parameters -----------------------------------------------------------------
    def _on_set_parameters(self, params):
        from rcl_interfaces.msg import SetParametersResult

        updates = {}
        for p in params:
            v = p.value
            if p.name == "reasoner" and str(v).strip().lower() not in reasoners.KNOWN_REASONERS:
                return SetParametersResult(successful=False, reason=f"reasoner must be one of {reasoners.KNOWN_REASONERS}")
            if p.name == "queue_size" and (not isinstance(v, int) or v < 1):
                return SetParametersResult(successful=False, reason="queue_size must be an integer >= 1")
            if p.name in ("standoff", "robot_radius", "request_timeout_s", "feedback_flush_s", "navigate_timeout_s") and (not isinstance(v, (int, float)) or v < 0):
                return SetParametersResult(successful=False, reason=f"{p.name} must be a number >= 0")
            if p.name == "max_instruction_chars" and (not isinstance(v, int) or v < 1):
                return SetParametersResult(successful=False, reason="max_instruction_chars must be an integer >= 1")
            if p.name == "scene_file" and v and getattr(self, "worker", None) is not None:  # configured
                err = self._load_scene_file(str(v))
                if err:
                    return SetParametersResult(successful=False, reason=err)
            updates[p.name] = v
        if not hasattr(self, "cfg"):  # declaration time
            return SetParametersResult(successful=True)
        self.cfg.update(updates)
        if "queue_size" in updates and self.worker is not None:
            self.worker.resize(int(updates["queue_size"]))
        if updates:
            self._status("parameters", ", ".join(f"{k}={v}" for k, v in updates.items()))
        return SetParametersResult(successful=True)

    # --- inputs ---------------------------------------------------------------------
    def _received(self, source: str) -> str:
        self.counters.add("received")
        self.counters.add(f"received_{source}")
        prefix = {"topic": "topic", "service": "srv", "action": "action"}[source]
        return f"{prefix}-{next(self._ids)}"

    def _on_instruction(self, raw: bytes) -> None:
        rid = self._received("topic")
        try:
            payload = decode_string_cdr(raw)
        except InstructionError as e:
            self._answer(Job(rid, "", self.cfg["reasoner"], "topic"),
                         _error_result("", self.cfg["reasoner"], str(e)), "errors")
            return
        self._submit(self._make_job(rid, payload, "", "topic"))

    def _on_lost(self, info) -> None:
        """DDS says instructions were lost before this node read them (the publisher's
        history overwrote them): each gets a 'dropped' result with its own request id."""
        n = int(info.total_count_change)
        self.counters.add("dropped", n)
        self.node.get_logger().warning(f"{n} instruction(s) lost in transport on {self.cfg['instruction_topic']} "
                                       "(publisher history too short for the burst)")
        for _ in range(n):
            rid = f"topic-{next(self._ids)}"
            result = _error_result("", self.cfg["reasoner"], "instruction lost in transport before the node read it "
                                   "(use a reliable publisher with a history as long as the burst)", STATUS_DROPPED)
            self._publish(result, rid)

    def _make_job(self, rid: str, raw, reasoner: str, source: str, feedback=None, cancelled=None) -> Job:
        """A job; an instruction that fails the checks is answered 'error' at once (claimed)."""
        name = (reasoner or self.cfg["reasoner"]).strip().lower()
        try:
            text = check_instruction(raw, int(self.cfg["max_instruction_chars"]))
        except InstructionError as e:
            job = Job(rid, _safe_text(raw), name, source, feedback, cancelled)
            self._answer(job, _error_result(job.instruction, name, str(e)), "errors")
            return job
        return Job(rid, text, name, source, feedback, cancelled)

    def _submit(self, job: Job) -> None:
        """Queue a checked job, or answer it 'busy'; service/action jobs get a timeout."""
        if job.claimed:
            return
        with self._gate:  # ordered against deactivation: after it, nothing enters the queue
            accepting = self._accepting
            queued = accepting and self.worker.submit(job)
        if not accepting:
            self._answer(job, _error_result(job.instruction, job.reasoner, "grounding_node is not active (lifecycle "
                                            f"state {self.state}); retry when it is active", STATUS_BUSY), "refused")
            return
        if not queued:
            self._answer(job, _error_result(job.instruction, job.reasoner, f"grounding queue is full "
                                            f"({self.worker.maxsize} waiting); retry later", STATUS_BUSY), "refused")
            return
        if job.source != "topic":
            timeout = float(self.cfg["request_timeout_s"])
            self.deadlines.call_later(timeout, lambda: self._answer(
                job, _error_result(job.instruction, job.reasoner, f"no result within request_timeout_s={timeout:g}"),
                "errors"))

    def _on_service(self, request, response):
        self._inflight_add(1)  # until the response is sent
        job = self._make_job(self._received("service"), request.instruction, request.reasoner, "service")
        self._submit(job)
        self._deferred[id(response)] = (response, job)
        return response

    def _send_or_defer(self, send, response, header) -> None:
        entry = self._deferred.pop(id(response), None)
        if entry is None:
            send(response, header)
            return

        def reply(msg):
            response.result = msg
            try:
                send(response, header)
            except Exception as e:  # the client may have gone away
                self.node.get_logger().warning(f"could not send the Ground response: {type(e).__name__}: {e}")
            finally:
                self._inflight_add(-1)

        entry[1].on_reply(reply)

    def _on_goal(self, goal_handle) -> None:
        """Accepted action goal: queue it; the worker's answer then finishes the goal."""
        GroundAction = self._GroundAction
        sent_steps = []
        self._inflight_add(1)  # until _finish_goal has run

        def feedback(stage, index, count, text, step):
            if stage == "step":
                sent_steps.append(index)
            fb = GroundAction.Feedback()
            fb.stage, fb.step_index, fb.step_count, fb.text = stage, int(index), int(count), text
            if step is not None:
                fb.step = step
            goal_handle.publish_feedback(fb)

        job = self._make_job(self._received("action"), goal_handle.request.instruction, goal_handle.request.reasoner,
                             "action", feedback=feedback, cancelled=lambda: goal_handle.is_cancel_requested)
        self._submit(job)
        if not job.claimed:
            feedback("queued", 0, 0, f"queued ({self.worker.depth} in the reasoner's queue)", None)

        def reply(msg):
            finish = lambda: goal_handle.execute(lambda gh: self._finish_goal(gh, msg))  # noqa: E731
            flush = float(self.cfg["feedback_flush_s"])
            if sent_steps and flush > 0:
                # feedback and result travel on different DDS entities; an rclpy client forgets a goal's
                # feedback callback once its result is in, so the step lines need a head start
                self.deadlines.call_later(flush, finish)
            else:
                finish()

        job.on_reply(reply)

    def _finish_goal(self, goal_handle, res_msg=None):
        try:
            result = self._GroundAction.Result()
            if res_msg is None:  # (never: goals are executed with their answer)
                res_msg = result_to_msg(_error_result(goal_handle.request.instruction, "", "no answer"))
            result.result = res_msg
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
            elif res_msg.status == STATUS_BUSY:
                goal_handle.abort()
            else:
                goal_handle.succeed()
            return result
        finally:
            self._inflight_add(-1)


    # --- worker ---------------------------------------------------------------------
    def _reasoner(self, name: str):
        with self._reasoner_lock:
            if name not in self._reasoners:
                reasoner = reasoners.load(name)  # raises ReasonerUnavailable
                self._warm_up(reasoner)
                self._reasoners[name] = reasoner
                freeze_heap()  # the model's objects are long-lived: keep GC pauses off requests
            return self._reasoners[name]

    @staticmethod
    def _warm_up(reasoner) -> None:
        """First calls load lazily built parts (the lexical matcher, then the embedding
        matcher's model for words absent from the scene): do them at load time, on a
        tiny scene, so the first real request is not the slow one."""
        from apeiria_model.scene.model import SceneObject

        warm = Scene("warmup", (SceneObject(0, "chair", (0.0, 0.0, 0.45), (0.5, 0.5, 0.9)),
                                SceneObject(1, "table", (1.0, 0.0, 0.4), (1.0, 1.0, 0.8))))
        try:
            reasoner.ground("the chair", warm)
            reasoner.ground("the armchair near the dining table", warm)
        except Exception:
            pass  # a reasoner that fails here reports the same problem on real requests

    def _preload(self) -> None:
        name = self.cfg["reasoner"]
        try:
            self._reasoner(name)
            self._status("reasoner", f"{name} reasoner loaded")
        except reasoners.ReasonerUnavailable as e:
            self._status("reasoner_error", str(e))

    def _process(self, job: Job) -> None:
        if job.claimed:  # timed out while queued
            return
        if job.cancelled is not None and job.cancelled():
            self._answer(job, _error_result(job.instruction, job.reasoner, "cancelled before reasoning"), "served")
            return
        scene = self.scene()
        if scene is None:
            result = _error_result(job.instruction, job.reasoner,
                                   "no scene yet: set the scene_file parameter or publish a SceneMap on "
                                   f"{self.cfg['scene_topic']}")
        else:
            try:
                reasoner = self._reasoner(job.reasoner)
            except reasoners.ReasonerUnavailable as e:
                result = _error_result(job.instruction, job.reasoner, str(e))
            else:
                if job.feedback is not None:
                    job.feedback("reasoning", 0, 0, f"reasoning with {job.reasoner} over {len(scene)} objects", None)
                t0 = time.perf_counter()
                live = {}
                if job.feedback is not None and getattr(reasoner, "streams_trace", False):
                    # neural decoding takes a while: each trace line goes out as the model writes it
                    live["on_line"] = lambda line: job.feedback("thinking", 0, 0, line, None)
                try:
                    result = reasoner.ground(job.instruction, scene, **live)
                except Exception as e:  # the Reasoner contract says never raises; be safe anyway
                    result = _error_result(job.instruction, job.reasoner, f"reasoner failed: {type(e).__name__}: {e}")
                if not result.latency_ms:
                    result.latency_ms = (time.perf_counter() - t0) * 1000.0
                if job.feedback is not None and not job.claimed:
                    for k, s in enumerate(result.steps):
                        job.feedback("step", s.index, len(result.steps), f"{s.plan} -> {s.execution}", step_to_msg(s))
        self._answer(job, result, "served", scene)

    def _on_worker_error(self, job: Job, e: BaseException) -> None:
        self.node.get_logger().error(f"grounding request {job.request_id} failed: {type(e).__name__}: {e}")
        self._answer(job, _error_result(job.instruction, job.reasoner, f"internal error: {e}"), "errors")

    def _answer(self, job: Job, result: GroundingResult, kind: str, scene: Scene | None = None):
        """The one answer of ``job`` (published, counted, handed to its caller); None when
        it already had one (a late result after its timeout)."""
        if not job.claim():
            if kind == "served":
                self.counters.add("late")
            return None
        try:
            msg = self._publish(result, job.request_id, scene)
        except Exception as e:  # noqa: BLE001 - conversion / publishing failed: still exactly one answer
            self.node.get_logger().error(f"{job.request_id}: result could not be sent: {type(e).__name__}: {e}")
            msg = self._bare_error(job, result, e)
            result, kind = _error_result(result.instruction, result.reasoner, msg.message), "errors"
        self.counters.answered(result.status, kind)
        job.deliver(msg)
        return msg

    # --- outputs --------------------------------------------------------------------
    def _publish(self, result: GroundingResult, rid: str, scene: Scene | None = None):
        scene = scene if scene is not None else self.scene()
        frame = scene.frame_id if scene is not None else self.cfg["frame_id"]
        stamp = self.node.get_clock().now().to_msg()
        msg = result_to_msg(result, request_id=rid, scene_id=scene.scene_id if scene else "", frame_id=frame, stamp=stamp)
        self.pub_result.publish(msg)  # first: markers and the goal must not delay the answer
        try:
            self._publish_extras(result, scene, frame, stamp)
        except Exception as e:  # noqa: BLE001 - the answer is out; what depends on it must not undo that
            self.node.get_logger().error(f"{rid}: result published, but its detections / markers / goal failed: "
                                         f"{type(e).__name__}: {e}")
        return msg

    def _publish_extras(self, result: GroundingResult, scene: Scene | None, frame: str, stamp) -> None:
        """What follows a published result: detections, markers, the approach goal."""
        if result.status in (STATUS_OK, STATUS_NO_MATCH):
            from apeiria_ros.conversions.detections import result_to_detections

            self.pub_detections.publish(result_to_detections(result, frame, stamp))
        if result.targets and scene is not None:
            from apeiria_ros.markers import result_markers

            self.pub_markers.publish(result_markers(result, scene, frame, stamp))
            if self.cfg["publish_goal"]:
                self._publish_goal(result, scene, frame, stamp)

    def _bare_error(self, job: Job, result: GroundingResult, e: BaseException):
        """The answer when ``result`` itself cannot be converted or published: a plain
        GroundingResult with status 'error' and the reason, so the caller still gets one."""
        from apeiria.msg import GroundingResult as GroundingResultMsg

        msg = GroundingResultMsg()
        msg.request_id, msg.instruction, msg.reasoner = job.request_id, result.instruction, result.reasoner
        msg.status = STATUS_ERROR
        msg.message = f"internal error: the result could not be sent: {type(e).__name__}: {e}"
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = self.cfg["frame_id"]
        try:
            self.pub_result.publish(msg)
        except Exception as e2:  # noqa: BLE001 - the service / action caller still gets msg
            self.node.get_logger().error(f"{job.request_id}: could not publish the error result either: {e2}")
        return msg

    def _publish_goal(self, result: GroundingResult, scene: Scene, frame: str, stamp) -> None:
        from geometry_msgs.msg import PoseStamped

        tid = result.targets[0].id
        if not scene.has(tid):
            return
        pose = approach_pose(scene, tid, float(self.cfg["standoff"]), float(self.cfg["robot_radius"]))
        if pose is None:
            self._status("goal_unreachable", f"no free approach pose around object {tid}")
            return
        msg = PoseStamped()
        msg.header.frame_id, msg.header.stamp = frame, stamp
        msg.pose.position.x, msg.pose.position.y = pose.x, pose.y
        (msg.pose.orientation.x, msg.pose.orientation.y, msg.pose.orientation.z,
         msg.pose.orientation.w) = yaw_to_quat(pose.yaw)
        self.pub_goal.publish(msg)
        if self.navigator is not None:
            self.navigator.send(msg, f"object {tid} '{result.targets[0].label}'")

    def diagnostics(self) -> dict[str, Any]:
        vals: dict[str, Any] = self.counters.snapshot()
        scene = self.scene()
        vals.update(state=self.state, queue_depth=self.worker.depth, queue_size=self.worker.maxsize,
                    scene_id=scene.scene_id if scene else "", scene_objects=len(scene) if scene else 0)
        if self.navigator is not None:
            vals.update({f"navigation_{k}": v for k, v in self.navigator.snapshot().items()})
        return vals

    def publish_diagnostics(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        vals = self.diagnostics()
        arr = DiagnosticArray()
        arr.header.stamp = self.node.get_clock().now().to_msg()
        level = 1 if vals["refused"] or vals["dropped"] else 0
        text = (f"received {vals['received']}, served {vals['served']}, refused {vals['refused']}, "
                f"errors {vals['errors']}, dropped {vals['dropped']}, pending {vals['pending']}")
        st = DiagnosticStatus(level=bytes([level]), name=f"apeiria/{self.node.get_name()}", message=text,
                              hardware_id="apeiria")
        st.values = [KeyValue(key=k, value=str(v)) for k, v in vals.items()]
        arr.status = [st]
        self.pub_diag.publish(arr)

    def _status(self, event: str, text: str) -> None:
        log = self.node.get_logger()
        # (rclpy ties a severity to each call site: one call per severity)
        if "error" in event or "unreachable" in event:
            log.warning(f"{event}: {text}")
        else:
            log.info(f"{event}: {text}")
        if self.pub_status is not None:  # (configured; it sends while active)
            self.pub_status.publish(self._String(data=json.dumps({"event": event, "message": text})))

    def destroy(self) -> None:
        """Process exit (the context may already be shut down: nothing is published)."""
        for w in (self.worker, self.scene_worker):
            if w is not None:
                w.stop(timeout=2.0)
        if self.deadlines is not None:
            self.deadlines.stop()
        if self.navigator is not None:
            self.navigator.destroy()
        if self.action_server is not None:
            self.action_server.destroy()
        self.node.destroy_node()


def main(argv: list[str] | None = None) -> int:
    from apeiria_ros.runtime import spin_node

    return spin_node(GroundingNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
