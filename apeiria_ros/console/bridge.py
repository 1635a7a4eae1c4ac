"""The console's ROS 2 side: one node on its own context and executor thread.

It calls the grounding node's Ground action (its feedback streams each stage and step to
the page) or, where no action server answers, its Ground service; it follows the SceneMap topic (the map the
node reasons over), the node's status events and its /diagnostics counters, and, when
the console owns the scene (``--scene``), publishes that scene as a latched SceneMap.
Callbacks only hand messages to the asyncio loop; conversions run off the executor.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from typing import Any, Callable


class NodeUnavailable(RuntimeError):
    pass


class RosBridge:
    def __init__(self, loop: asyncio.AbstractEventLoop, *, service: str, scene_topic: str, status_topic: str,
                 action: str = "", diagnostics_topic: str = "/diagnostics", goal_topic: str = "",
                 on_scene: Callable[[Any], None], on_status: Callable[[dict], None],
                 on_diagnostics: Callable[[dict], None], on_goal: Callable[[Any], None] | None = None):
        import rclpy
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.executors import MultiThreadedExecutor
        from diagnostic_msgs.msg import DiagnosticArray
        from std_msgs.msg import String

        from apeiria.msg import SceneMap
        from apeiria.srv import Ground
        from apeiria_ros.qos import qos_profile

        self.loop = loop
        self.service = service
        self.scene_topic = scene_topic
        self._Ground, self._SceneMap = Ground, SceneMap
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
        self.node = rclpy.create_node(f"apeiria_console_{os.getpid()}", context=self.context)
        group = ReentrantCallbackGroup()
        self.client = self.node.create_client(Ground, service, callback_group=group)
        self.action_name = action
        self.action = None
        if action:
            from rclpy.action import ActionClient

            from apeiria.action import Ground as GroundAction

            self._GroundAction = GroundAction
            self.action = ActionClient(self.node, GroundAction, action, callback_group=group)
        self._scene_pub = None
        self._call = lambda fn, *a: loop.call_soon_threadsafe(fn, *a)
        self.node.create_subscription(SceneMap, scene_topic, lambda m: self._call(on_scene, m),
                                      qos_profile("latched"), callback_group=group)
        self.node.create_subscription(String, status_topic, lambda m: self._call(on_status, _status_doc(m.data)),
                                      qos_profile("reliable", 50), callback_group=group)
        self.node.create_subscription(DiagnosticArray, diagnostics_topic, lambda m: self._on_diag(m, on_diagnostics),
                                      qos_profile("reliable", 50), callback_group=group)
        if goal_topic and on_goal is not None:
            from geometry_msgs.msg import PoseStamped

            # the approach pose the grounding node sends Nav2 (latched): drawn on the map
            self.node.create_subscription(PoseStamped, goal_topic, lambda m: self._call(on_goal, m),
                                          qos_profile("latched"), callback_group=group)
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True, name="apeiria-console-ros")
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # context shut down under the executor: a requested stop
            pass

    def _on_diag(self, msg, on_diagnostics) -> None:
        for st in msg.status:
            vals = {kv.key: kv.value for kv in st.values}
            # the grounding node's counters (other nodes publish on /diagnostics too)
            if st.hardware_id == "apeiria" and "scene_id" in vals and "queue_size" in vals:
                self._call(on_diagnostics, {"name": st.name, "message": st.message, "values": vals})

    @property
    def ready(self) -> bool:
        return self.client.service_is_ready()

    def wait_for_service(self, timeout: float) -> bool:
        return self.client.wait_for_service(timeout_sec=timeout)

    def publish_scene(self, scene) -> None:
        """Latched: the grounding node (and any late RViz or console) gets it on discovery."""
        from apeiria_ros.conversions.scene import scene_to_msg
        from apeiria_ros.qos import qos_profile

        if self._scene_pub is None:
            self._scene_pub = self.node.create_publisher(self._SceneMap, self.scene_topic, qos_profile("latched"))
        self._scene_pub.publish(scene_to_msg(scene, stamp=self.node.get_clock().now().to_msg()))

    @property
    def action_ready(self) -> bool:
        return self.action is not None and self.action.server_is_ready()

    async def _wait(self, fut, timeout: float):
        """An rclpy future, awaited on the asyncio loop (its callback runs on the executor)."""
        done: asyncio.Future = self.loop.create_future()

        def _resolve(f):
            if not done.done():
                if f.cancelled():
                    done.set_exception(NodeUnavailable("the request was cancelled"))
                elif f.exception() is not None:
                    done.set_exception(f.exception())
                else:
                    done.set_result(f.result())

        fut.add_done_callback(lambda f: self.loop.call_soon_threadsafe(_resolve, f))
        return await asyncio.wait_for(done, max(0.0, timeout))

    def _unavailable(self) -> NodeUnavailable:
        return NodeUnavailable(f"no grounding node serves {self.service} on ROS_DOMAIN_ID="
                               f"{os.environ.get('ROS_DOMAIN_ID', '0')}")

    async def ground(self, instruction: str, reasoner: str, timeout: float, on_feedback=None):
        """The GroundingResult message; NodeUnavailable / TimeoutError. Through the Ground
        action when its server is up (``on_feedback(feedback_msg)`` gets each stage and
        step as the node reasons, on the loop), else through the Ground service."""
        if on_feedback is not None and self.action_ready:
            return await self._ground_action(instruction, reasoner, timeout, on_feedback)
        if not self.client.service_is_ready():
            raise self._unavailable()
        fut = self.client.call_async(self._Ground.Request(instruction=instruction, reasoner=reasoner))
        try:
            resp = await self._wait(fut, timeout)
        except asyncio.TimeoutError:
            self.client.remove_pending_request(fut)
            raise TimeoutError(f"the grounding node at {self.service} did not answer within {timeout:g} s") from None
        return resp.result

    async def _ground_action(self, instruction: str, reasoner: str, timeout: float, on_feedback):
        import time

        deadline = time.monotonic() + timeout
        goal = self._GroundAction.Goal(instruction=instruction, reasoner=reasoner)
        sent = self.action.send_goal_async(goal, feedback_callback=lambda fb: self._call(on_feedback, fb.feedback))
        late = TimeoutError(f"the grounding node at {self.action_name} did not answer within {timeout:g} s")
        try:
            handle = await self._wait(sent, deadline - time.monotonic())
        except asyncio.TimeoutError:
            raise late from None
        if not handle.accepted:
            raise NodeUnavailable(f"the grounding node at {self.action_name} refused the request")
        try:
            res = await self._wait(handle.get_result_async(), deadline - time.monotonic())
        except asyncio.TimeoutError:
            handle.cancel_goal_async()  # the node drops it instead of reasoning for nobody
            raise late from None
        return res.result.result

    def close(self) -> None:
        import rclpy

        try:
            self.executor.shutdown(timeout_sec=2.0)
            self.node.destroy_node()
        finally:
            rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=2.0)


def _status_doc(data: str) -> dict:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, TypeError):
        return {"event": "status", "message": str(data)[:500]}
    if not isinstance(doc, dict):
        return {"event": "status", "message": str(doc)[:500]}
    return {"event": str(doc.get("event", "status"))[:64], "message": str(doc.get("message", ""))[:500]}
