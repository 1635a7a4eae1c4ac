"""The console's web side (aiohttp): the page, its static files and the WebSocket.

Every request from the page is checked (protocol.parse_request) and answered on the
same socket, errors included; a failure while serving one request is reported to
that page and logged, and the server goes on serving. Reasoning happens in the
grounding node; transcription (pocketsphinx) and map conversion run on worker
threads, never on the event loop or the ROS executor.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from apeiria_ros.console import protocol
from apeiria_ros.console.protocol import ProtocolError

STATIC = Path(__file__).resolve().parent / "static"
MAX_IN_FLIGHT = 4          # per page: more concurrent requests are refused with a clear error
log = logging.getLogger("apeiria.console")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'")


class ConsoleServer:
    """``owned_scene``: the scene the console publishes itself (``--scene``); None when it
    attaches to whatever map the grounding node follows. ``nodes``: the ProcessGroup of a
    grounding node the console started (watched, reported to the page when it exits)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8080, service: str = "/apeiria/ground",
                 scene_topic: str = "/apeiria/scene_map", status_topic: str = "/apeiria/grounding_status",
                 timeout: float = 30.0, reasoner: str = "", owned_scene=None, owned_source: str = "",
                 nodes=None, action: str = "/apeiria/ground_action", goal_topic: str = "/goal_pose"):
        self.host, self.port = host, port
        self.action, self.goal_topic = action, goal_topic
        self.goal: dict | None = None
        self.service, self.scene_topic, self.status_topic = service, scene_topic, status_topic
        self.timeout, self.default_reasoner = timeout, reasoner
        self.owned_scene, self.owned_source, self.nodes = owned_scene, owned_source, nodes
        self.clients: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.scene = None
        self.scene_json: dict | None = None
        self._scene_key = -1
        self.node_state: dict[str, Any] = {"ready": False, "service": service, "diagnostics": None,
                                           "exited": "", "message": "looking for the grounding node..."}
        self._ready_since: float | None = None
        self._speech_ok, self._speech_why = _speech_available()
        self._transcriber: tuple[tuple[str, ...], Any] | None = None
        self._speech_lock = threading.Lock()
        self._tasks: set[asyncio.Task] = set()
        self.bridge = None
        self.runner: web.AppRunner | None = None
        self.url = ""

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> str:
        from apeiria_ros.console.bridge import RosBridge

        loop = asyncio.get_running_loop()
        self.bridge = RosBridge(loop, service=self.service, scene_topic=self.scene_topic,
                                status_topic=self.status_topic, action=self.action, goal_topic=self.goal_topic,
                                on_goal=self._on_goal, on_scene=self._on_scene_msg,
                                on_status=self._on_status, on_diagnostics=self._on_diagnostics)
        if self.owned_scene is not None:
            self._set_scene(self.owned_scene, self.owned_source, key=time.time_ns())
            self.bridge.publish_scene(self.owned_scene)
        app = web.Application(client_max_size=64 * 1024, middlewares=[_headers])
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/healthz", self._health)
        app.router.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        port = self.runner.addresses[0][1]  # the bound port when --port 0
        shown = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.url = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/"
        self._spawn(self._watch_node())
        return self.url

    async def stop(self) -> None:
        for ws in list(self.clients):
            await ws.close(code=1001, message=b"console shutting down")
        for t in list(self._tasks):
            t.cancel()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.bridge is not None:
            self.bridge.close()

    def _spawn(self, coro) -> asyncio.Task:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    # --- HTTP ---------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ready": self.node_state["ready"], "service": self.service,
                                  "scene_id": self.scene.scene_id if self.scene is not None else "",
                                  "objects": len(self.scene) if self.scene is not None else 0,
                                  "clients": len(self.clients)})

    # --- WebSocket ----------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc.lower() != request.host.lower():
            # another site's page must not drive the robot through the operator's browser
            return web.Response(status=403, text=f"cross-origin WebSocket from {origin} refused\n")
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=protocol.MAX_FRAME_BYTES)
        await ws.prepare(request)
        self.clients.add(ws)
        ws_state = {"in_flight": 0}
        await self._send(ws, self._hello())
        await self._send(ws, self._node_msg())
        if self.scene_json is not None:
            await self._send(ws, {"type": "scene", "scene": self.scene_json})
        if self.goal is not None:
            await self._send(ws, self.goal)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._dispatch(ws, ws_state, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self._error(ws, "", "binary frames are not part of the protocol: send JSON text")
                elif msg.type == WSMsgType.ERROR:
                    log.warning("websocket error: %s", ws.exception())
                    break
        finally:
            self.clients.discard(ws)
        return ws

    async def _dispatch(self, ws, ws_state: dict, data: str) -> None:
        try:
            req = protocol.parse_request(data)
        except ProtocolError as e:
            await self._error(ws, e.request_id, str(e))
            return
        if req.type == "ping":
            await self._send(ws, {"type": "pong", "id": req.id})
            return
        if ws_state["in_flight"] >= MAX_IN_FLIGHT:
            await self._error(ws, req.id, f"{MAX_IN_FLIGHT} requests are already in flight: wait for an answer")
            return
        ws_state["in_flight"] += 1

        async def serve():
            try:
                await self._send(ws, {"type": "accepted", "id": req.id, "kind": req.type,
                                      "instruction": req.instruction})
                if req.type == "speech":
                    await self._serve_speech(ws, req)
                else:
                    await self._serve_ground(ws, req.id, req.instruction, req.reasoner or self.default_reasoner)
            except ProtocolError as e:
                await self._error(ws, req.id, str(e))
            except Exception as e:  # anything else: this request fails, the server does not
                log.exception("request %s failed", req.id)
                await self._error(ws, req.id, f"internal error: {type(e).__name__}: {e}")
            finally:
                ws_state["in_flight"] -= 1

        self._spawn(serve())

    async def _serve_ground(self, ws, rid: str, instruction: str, reasoner: str) -> None:
        from apeiria_ros.console.bridge import NodeUnavailable
        from apeiria_ros.conversions.result import msg_to_result

        if self.node_state["exited"]:
            # (DDS may still list a killed node's service for a while: do not wait on it)
            raise ProtocolError(f"the grounding node this console started has exited "
                                f"({self.node_state['exited'][:200]}); restart `apeiria console`", rid)
        def progress(fb):  # on the loop: one Ground action feedback message
            doc = {"type": "progress", "id": rid, "stage": fb.stage, "index": int(fb.step_index),
                   "count": int(fb.step_count), "text": fb.text}
            if fb.stage == "step":
                doc["step"] = _step_json(fb.step)
            self._spawn(self._send(ws, doc))

        try:
            msg = await self.bridge.ground(instruction, reasoner, self.timeout, on_feedback=progress)
        except NodeUnavailable as e:
            hint = ("the grounding node the console started is not up yet" if self.nodes is not None
                    else "start one (`apeiria bringup`) or run `apeiria console --scene FILE`")
            raise ProtocolError(f"{e}: {hint}", rid) from None
        except TimeoutError as e:
            raise ProtocolError(str(e), rid) from None
        result = await asyncio.to_thread(msg_to_result, msg)
        doc = protocol.result_to_json(result, msg.scene_id, msg.request_id)
        await self._send(ws, {"type": "result", "id": rid, "result": doc})

    async def _serve_speech(self, ws, req) -> None:
        if not self._speech_ok:
            raise ProtocolError(f"speech input is unavailable: {self._speech_why}", req.id)
        labels = tuple(sorted({o.label for o in self.scene.objects})) if self.scene is not None else ()
        text = await asyncio.to_thread(self._transcribe, req.wav, labels, req.id)
        await self._send(ws, {"type": "transcript", "id": req.id, "text": text})
        if not text:
            raise ProtocolError("nothing recognised in the recording: speak closer to the microphone, or type", req.id)
        instruction = protocol.check_instruction_text(text, req.id)
        await self._serve_ground(ws, req.id, instruction, req.reasoner or self.default_reasoner)

    def _transcribe(self, wav: bytes, labels: tuple[str, ...], rid: str) -> str:
        """The speech node's path: pocketsphinx with the scene's object names (worker thread)."""
        from apeiria_ros.speech import SpeechError, Transcriber

        with self._speech_lock:
            if self._transcriber is None or self._transcriber[0] != labels:
                self._transcriber = (labels, Transcriber(list(labels)))
            with tempfile.NamedTemporaryFile(suffix=".wav", prefix="apeiria_console_") as f:
                f.write(wav)
                f.flush()
                try:
                    return self._transcriber[1].transcribe_wav(f.name)
                except SpeechError as e:
                    raise ProtocolError(str(e).replace(f.name, "the recording"), rid) from None

    def _warm_speech(self, labels: tuple[str, ...]) -> None:
        # building the scene's language model takes seconds the first time: not on the first utterance
        try:
            with self._speech_lock:
                if self._transcriber is None or self._transcriber[0] != labels:
                    from apeiria_ros.speech import Transcriber

                    self._transcriber = (labels, Transcriber(list(labels)))
        except Exception as e:
            log.warning("speech recogniser not ready: %s", e)

    # --- messages to pages --------------------------------------------------------------
    def _hello(self) -> dict:
        return {"type": "hello", "service": self.service, "action": self.action, "goal_topic": self.goal_topic,
                "scene_topic": self.scene_topic,
                "mode": "scene" if self.owned_scene is not None else "attach",
                "domain_id": os.environ.get("ROS_DOMAIN_ID", "0"), "reasoner": self.default_reasoner,
                "speech": self._speech_ok, "speech_unavailable": self._speech_why,
                "max_instruction_chars": protocol.MAX_INSTRUCTION_CHARS, "timeout_s": self.timeout}

    def _node_msg(self) -> dict:
        return {"type": "node", **self.node_state}

    async def _send(self, ws, doc: dict) -> None:
        if ws.closed:
            return
        try:
            await ws.send_str(protocol.dumps(doc))
        except (ConnectionError, RuntimeError) as e:  # the page went away mid-answer
            log.info("page gone: %s", e)

    async def _error(self, ws, rid: str, message: str) -> None:
        await self._send(ws, {"type": "error", "id": rid, "message": message})

    async def _broadcast(self, doc: dict) -> None:
        await asyncio.gather(*(self._send(ws, doc) for ws in list(self.clients)), return_exceptions=True)

    # --- ROS events (on the loop: the bridge hands them over) -----------------------------
    def _on_scene_msg(self, msg) -> None:
        from apeiria_ros.conversions.geometry import stamp_to_sec

        key = int(round(stamp_to_sec(msg.header.stamp) * 1e9))
        if self.owned_scene is not None or key < self._scene_key:
            return  # our own map echoed back, or an older map than the one shown
        self._spawn(self._convert_scene(msg, key))

    async def _convert_scene(self, msg, key: int) -> None:
        from apeiria_ros.conversions.scene import SceneMessageError, msg_to_scene

        try:
            scene = await asyncio.to_thread(msg_to_scene, msg)
        except SceneMessageError as e:
            await self._broadcast({"type": "event", "event": "scene_error", "message": f"SceneMap rejected: {e}"})
            return
        if key < self._scene_key:
            return
        self._set_scene(scene, f"topic {self.scene_topic}", key)
        await self._broadcast({"type": "scene", "scene": self.scene_json})

    def _set_scene(self, scene, source: str, key: int) -> None:
        self.scene, self._scene_key = scene, key
        self.scene_json = protocol.scene_to_json(scene, source)
        if self._speech_ok:
            labels = tuple(sorted({o.label for o in scene.objects}))
            threading.Thread(target=self._warm_speech, args=(labels,), daemon=True).start()

    def _on_goal(self, msg) -> None:
        import math

        p, q = msg.pose.position, msg.pose.orientation
        yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
        if not all(math.isfinite(v) for v in (p.x, p.y, yaw)):
            return
        self.goal = {"type": "goal", "topic": self.goal_topic, "frame_id": msg.header.frame_id,
                     "x": p.x, "y": p.y, "yaw": yaw}
        self._spawn(self._broadcast(self.goal))

    def _on_status(self, doc: dict) -> None:
        self._spawn(self._broadcast({"type": "event", **doc}))

    def _on_diagnostics(self, doc: dict) -> None:
        self.node_state["diagnostics"] = doc
        self._update_node(force=True)  # the page shows the node's counters as they come

    def _update_node(self, force: bool = False) -> None:
        st = self.node_state
        before = (st["ready"], st["message"], st["exited"])
        service_up = self.bridge is not None and self.bridge.ready
        now = time.monotonic()
        if service_up and self._ready_since is None:
            self._ready_since = now
        if not service_up:
            self._ready_since = None
        diag = st["diagnostics"]
        node_scene = diag["values"].get("scene_id", "") if diag else ""
        if st["exited"]:
            st["ready"], st["message"] = False, st["exited"]
        elif not service_up:
            st["ready"] = False
            st["message"] = f"waiting for a grounding node on {self.service}"
        elif self.owned_scene is not None and node_scene != self.owned_scene.scene_id \
                and now - self._ready_since < 10.0:
            # the node we started is up but has not taken our map yet
            st["ready"], st["message"] = False, "grounding node up, loading the scene..."
        elif diag is not None and not node_scene:
            # requests still go through (the node answers them with an error saying so)
            st["ready"], st["message"] = False, "the grounding node has no scene yet"
        else:
            st["ready"] = True
            st["message"] = "ready"
        if force or before != (st["ready"], st["message"], st["exited"]):
            self._spawn(self._broadcast(self._node_msg()))

    async def _watch_node(self) -> None:
        while True:
            if self.nodes is not None and not self.node_state["exited"]:
                dead = self.nodes.exited()
                if dead:
                    name, rc = next(iter(dead.items()))
                    tail = self.nodes.log_tail(name, 8)
                    self.node_state["exited"] = f"{name} exited with status {rc}: {tail[-600:]}"
                    log.error("%s", self.node_state["exited"])
            self._update_node()
            await asyncio.sleep(0.5)


@web.middleware
async def _headers(request: web.Request, handler):
    resp = await handler(request)
    if resp.prepared:  # the WebSocket upgrade has been sent already
        return resp
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    return resp


def _step_json(m) -> dict:
    from dataclasses import asdict

    from apeiria_ros.conversions.result import msg_to_step

    try:
        return asdict(msg_to_step(m))
    except (ValueError, TypeError):  # a malformed output value: the step without it
        return {"index": int(m.index), "op": m.op, "plan": m.plan, "execution": m.execution, "inputs": [],
                "output": None, "verified": None}


def _speech_available() -> tuple[bool, str]:
    import importlib.util

    if importlib.util.find_spec("pocketsphinx") is None:
        return False, "the pocketsphinx package is not installed"
    return True, ""
