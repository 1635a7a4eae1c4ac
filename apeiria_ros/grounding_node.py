"""grounding_node: instruction in (topic / Ground service / Ground action), grounded
objects out (GroundingResult, RViz markers, a navigation goal in front of the target).

All reasoning comes from apeiria_model; it runs on one worker thread behind a bounded
queue, so DDS callbacks never starve, and a full queue answers "busy" (never a silent
drop). Bad instructions (empty, oversized, invalid UTF-8) get status "error" with a
specific message and the node keeps running.

    python -m apeiria_ros.grounding_node --ros-args -p scene_file:=scene.json
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from apeiria_model.reasoning.result import STATUS_ERROR, GroundingResult
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
from apeiria_ros.params import Param

PARAMS = [
    Param("instruction_topic", "/apeiria/instruction", "std_msgs/String topic of instructions to ground", True),
    Param("instruction_qos_depth", 100, "history depth of the instruction subscription", True),
    Param("scene_topic", "/apeiria/scene_map", "apeiria/SceneMap topic; the latest map is the scene", True),
    Param("scene_qos", "latched", "QoS of the scene subscription: latched | reliable | best_effort", True),
    Param("scene_file", "", "Scene JSON v1 file used until a SceneMap arrives ('' = none; pkg:apeiria_model/... allowed)"),
    Param("result_topic", "/apeiria/grounding_result", "apeiria/GroundingResult output topic", True),
    Param("marker_topic", "/apeiria/grounding_markers", "visualization_msgs/MarkerArray of targets and anchors", True),
    Param("goal_topic", "/apeiria/goal_pose", "geometry_msgs/PoseStamped approach pose in front of the first target", True),
    Param("status_topic", "/apeiria/grounding_status", "std_msgs/String JSON status events (scene loaded, errors)", True),
    Param("service_name", "/apeiria/ground", "apeiria/srv/Ground service name", True),
    Param("action_name", "/apeiria/ground_action", "apeiria/action/Ground action name", True),
    Param("reasoner", "symbolic", "default reasoner: symbolic | neural | hybrid (requests may override)"),
    Param("queue_size", 8, "requests waiting for the reasoner before new ones get status 'busy'"),
    Param("request_timeout_s", 60.0, "how long a service/action call waits for its result"),
    Param("feedback_flush_s", 0.1, "action: pause after the last step feedback before the result is sent "
          "(rclpy clients drop feedback that arrives after the result)"),
    Param("max_instruction_chars", MAX_INSTRUCTION_CHARS, "longer instructions get status 'error'"),
    Param("publish_goal", True, "publish a navigation goal for the first target"),
    Param("standoff", 0.6, "goal distance (m) from the target's footprint edge"),
    Param("robot_radius", 0.3, "robot footprint radius (m) used to keep the goal clear of other objects"),
    Param("frame_id", "map", "frame used when the scene names none"),
]


@dataclass
class Job:
    request_id: str
    instruction: str
    reasoner: str
    done: threading.Event = field(default_factory=threading.Event)
    feedback: Callable[..., None] | None = None
    cancelled: Callable[[], bool] | None = None
    result_msg: Any = None


def _error_result(instruction: str, reasoner: str, message: str, status: str = STATUS_ERROR) -> GroundingResult:
    return GroundingResult(instruction=instruction, status=status, reasoner=reasoner, message=message)


def _safe_text(raw: Any, limit: int = 200) -> str:
    """What to echo back as 'instruction' for a refused input: short and valid UTF-8."""
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw[: limit * 4]).decode("utf-8", errors="replace")
    text = str(raw).encode("utf-8", errors="replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class GroundingNode:
    """Built lazily on an rclpy Node (so importing this module needs no ROS)."""

    def __init__(self, node_name: str = "grounding_node", **node_kwargs):
        from rclpy.action import ActionServer, CancelResponse, GoalResponse
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.node import Node

        from apeiria.action import Ground as GroundAction
        from apeiria.msg import GroundingResult as GroundingResultMsg
        from apeiria.msg import SceneMap
        from apeiria.srv import Ground as GroundSrv
        from geometry_msgs.msg import PoseStamped
        from std_msgs.msg import String
        from visualization_msgs.msg import MarkerArray

        from apeiria_ros.params import declare_all, values
        from apeiria_ros.qos import qos_profile
        from apeiria_ros.worker import BoundedWorker

        self.node = node = Node(node_name, **node_kwargs)
        declare_all(node, PARAMS)
        self.cfg = values(node, PARAMS)
        self._lock = threading.Lock()
        self._scene: Scene | None = None
        self._scene_source = ""
        self._reasoners: dict[str, Any] = {}
        self._reasoner_lock = threading.Lock()
        self._ids = itertools.count(1)
        group = ReentrantCallbackGroup()
        self._String = String

        self.pub_result = node.create_publisher(GroundingResultMsg, self.cfg["result_topic"], qos_profile("reliable", 1000))
        self.pub_markers = node.create_publisher(MarkerArray, self.cfg["marker_topic"], qos_profile("latched"))
        self.pub_goal = node.create_publisher(PoseStamped, self.cfg["goal_topic"], qos_profile("latched"))
        self.pub_status = node.create_publisher(String, self.cfg["status_topic"], qos_profile("reliable", 50))

        if self.cfg["scene_file"]:
            err = self._load_scene_file(self.cfg["scene_file"])
            if err:
                self._status("scene_error", err)
        node.create_subscription(SceneMap, self.cfg["scene_topic"], self._on_scene,
                                 qos_profile(self.cfg["scene_qos"]), callback_group=group)
        # raw=True: we decode the String ourselves, so invalid UTF-8 is an error result.
        node.create_subscription(String, self.cfg["instruction_topic"], self._on_instruction,
                                 qos_profile("reliable", int(self.cfg["instruction_qos_depth"])),
                                 callback_group=group, raw=True)
        node.create_service(GroundSrv, self.cfg["service_name"], self._on_service, callback_group=group)
        self._GroundAction = GroundAction
        self.action_server = ActionServer(
            node, GroundAction, self.cfg["action_name"], execute_callback=self._on_action,
            goal_callback=lambda goal: GoalResponse.ACCEPT,
            cancel_callback=lambda handle: CancelResponse.ACCEPT, callback_group=group)
        self.worker = BoundedWorker(self._process, int(self.cfg["queue_size"]), "reject",
                                    on_error=self._on_worker_error, name="apeiria-grounding")
        node.add_on_set_parameters_callback(self._on_set_parameters)
        # Load the default reasoner now (the symbolic one loads an embedding model in
        # seconds) so the first request is not the slow one; requests wait on the lock.
        threading.Thread(target=self._preload, daemon=True, name="apeiria-preload").start()
        self._status("ready", f"reasoner={self.cfg['reasoner']} scene={self._scene_source or 'none yet'}")

    # --- scene ----------------------------------------------------------------------
    def _load_scene_file(self, path: str) -> str:
        try:
            scene = load_scene(resolve_path(path))
        except (OSError, SceneValidationError, ValueError) as e:
            return f"scene_file '{path}': {e}"
        with self._lock:
            self._scene, self._scene_source = scene, f"file:{path}"
        self._status("scene", f"loaded {len(scene)} objects from {path}")
        return ""

    def _on_scene(self, msg) -> None:
        try:
            scene = msg_to_scene(msg)
        except SceneMessageError as e:
            self._status("scene_error", f"SceneMap rejected: {e}")
            return
        with self._lock:
            first = not self._scene_source.startswith("topic")
            self._scene, self._scene_source = scene, f"topic:{self.cfg['scene_topic']}"
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
            if p.name in ("standoff", "robot_radius", "request_timeout_s", "feedback_flush_s") and (not isinstance(v, (int, float)) or v < 0):
                return SetParametersResult(successful=False, reason=f"{p.name} must be a number >= 0")
            if p.name == "max_instruction_chars" and (not isinstance(v, int) or v < 1):
                return SetParametersResult(successful=False, reason="max_instruction_chars must be an integer >= 1")
            if p.name == "scene_file" and v:
                err = self._load_scene_file(str(v))
                if err:
                    return SetParametersResult(successful=False, reason=err)
            updates[p.name] = v
        self.cfg.update(updates)
        if "queue_size" in updates:
            self.worker.resize(int(updates["queue_size"]))
        if updates:
            self._status("parameters", ", ".join(f"{k}={v}" for k, v in updates.items()))
        return SetParametersResult(successful=True)

    # --- inputs ---------------------------------------------------------------------
    def _on_instruction(self, raw: bytes) -> None:
        rid = f"topic-{next(self._ids)}"
        try:
            payload = decode_string_cdr(raw)
        except InstructionError as e:
            self._publish(_error_result("", self.cfg["reasoner"], str(e)), rid)
            return
        job, _ = self._make_job(rid, payload, "")
        if job is not None and not self.worker.submit(job):
            self._publish(self._busy(job), rid)

    def _make_job(self, rid: str, raw, reasoner: str, feedback=None, cancelled=None):
        """(validated job, None), or (None, the published error result message)."""
        name = (reasoner or self.cfg["reasoner"]).strip().lower()
        try:
            text = check_instruction(raw, int(self.cfg["max_instruction_chars"]))
        except InstructionError as e:
            return None, self._publish(_error_result(_safe_text(raw), name, str(e)), rid)
        return Job(rid, text, name, feedback=feedback, cancelled=cancelled), None

    def _busy(self, job: Job) -> GroundingResult:
        return _error_result(job.instruction, job.reasoner,
                             f"grounding queue is full ({self.worker.maxsize} waiting); retry later", STATUS_BUSY)

    def _on_service(self, request, response):
        rid = f"srv-{next(self._ids)}"
        response.result = self._run_blocking(rid, request.instruction, request.reasoner)
        return response

    def _run_blocking(self, rid: str, instruction, reasoner: str, feedback=None, cancelled=None):
        job, error_msg = self._make_job(rid, instruction, reasoner, feedback, cancelled)
        if job is None:
            return error_msg
        if not self.worker.submit(job):
            return self._publish(self._busy(job), rid)
        if feedback is not None:
            feedback("queued", 0, 0, f"queued ({self.worker.depth} in the reasoner's queue)", None)
        if not job.done.wait(float(self.cfg["request_timeout_s"])):
            return self._publish(_error_result(job.instruction, job.reasoner,
                                               f"no result within request_timeout_s={self.cfg['request_timeout_s']}"), rid)
        return job.result_msg

    def _on_action(self, goal_handle):
        rid = f"action-{next(self._ids)}"
        GroundAction = self._GroundAction

        sent_steps = []

        def feedback(stage, index, count, text, step):
            if stage == "step":
                sent_steps.append(index)
            fb = GroundAction.Feedback()
            fb.stage, fb.step_index, fb.step_count, fb.text = stage, int(index), int(count), text
            if step is not None:
                fb.step = step
            goal_handle.publish_feedback(fb)

        res_msg = self._run_blocking(rid, goal_handle.request.instruction, goal_handle.request.reasoner,
                                     feedback=feedback, cancelled=lambda: goal_handle.is_cancel_requested)
        if sent_steps and self.cfg["feedback_flush_s"] > 0:
            # feedback and result travel on different DDS entities; an rclpy client forgets a goal's
            # feedback callback once its result is in, so the step lines need a head start
            time.sleep(float(self.cfg["feedback_flush_s"]))
        result = GroundAction.Result()
        result.result = res_msg
        if goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif res_msg.status == STATUS_BUSY:
            goal_handle.abort()
        else:
            goal_handle.succeed()
        return result

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
        try:
            if job.cancelled is not None and job.cancelled():
                job.result_msg = self._publish(_error_result(job.instruction, job.reasoner, "cancelled before reasoning"),
                                               job.request_id)
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
                    if job.feedback is not None:
                        for k, s in enumerate(result.steps):
                            job.feedback("step", s.index, len(result.steps), f"{s.plan} -> {s.execution}", step_to_msg(s))
            job.result_msg = self._publish(result, job.request_id, scene)
        finally:
            job.done.set()

    def _on_worker_error(self, job: Job, e: BaseException) -> None:
        self.node.get_logger().error(f"grounding request {job.request_id} failed: {type(e).__name__}: {e}")
        if job.result_msg is None:
            job.result_msg = self._publish(_error_result(job.instruction, job.reasoner, f"internal error: {e}"), job.request_id)
        job.done.set()

    # --- outputs --------------------------------------------------------------------
    def _publish(self, result: GroundingResult, rid: str, scene: Scene | None = None):
        scene = scene if scene is not None else self.scene()
        frame = scene.frame_id if scene is not None else self.cfg["frame_id"]
        stamp = self.node.get_clock().now().to_msg()
        msg = result_to_msg(result, request_id=rid, scene_id=scene.scene_id if scene else "", frame_id=frame, stamp=stamp)
        self.pub_result.publish(msg)  # first: markers and the goal must not delay the answer
        if result.targets and scene is not None:
            from apeiria_ros.markers import result_markers

            self.pub_markers.publish(result_markers(result, scene, frame, stamp))
            if self.cfg["publish_goal"]:
                self._publish_goal(result, scene, frame, stamp)
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

    def _status(self, event: str, text: str) -> None:
        log = self.node.get_logger()
        # (rclpy ties a severity to each call site: one call per severity)
        if "error" in event or "unreachable" in event:
            log.warning(f"{event}: {text}")
        else:
            log.info(f"{event}: {text}")
        self.pub_status.publish(self._String(data=json.dumps({"event": event, "message": text})))

    def destroy(self) -> None:
        self.worker.stop(timeout=2.0)
        self.action_server.destroy()
        self.node.destroy_node()


def main(argv: list[str] | None = None) -> int:
    from apeiria_ros.runtime import spin_node

    return spin_node(GroundingNode, argv)


if __name__ == "__main__":
    raise SystemExit(main())
