"""Start apeiria nodes each in its own process (what `apeiria bringup`, `apeiria demo`
and the ROS tests share): parameters from a ROS params YAML plus overrides, output to
per-node log files, signals forwarded, every child stopped on exit. Nothing is ever
restarted silently: a node that exits is reported with its status.

Managed (lifecycle) nodes started here wait unconfigured (``autostart: false``) and a
``LifecycleManager`` drives them through the standard lifecycle services, as Nav2's
lifecycle_manager does: configure all, then activate all, in the configured order;
on stop, deactivate, clean up and shut down in reverse order, then the processes end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NODE_MODULES = ("grounding_node", "scene_builder_node", "sim_node", "speech_node")
# lifecycle nodes (rclpy.lifecycle): /<name>/change_state, /<name>/get_state, ...
LIFECYCLE_NODES = ("grounding_node", "scene_builder_node")


class BringupError(RuntimeError):
    """A bringup configuration or process problem, with a one-line explanation."""


class NodeFailed(BringupError):
    """A started node could not be brought up (it exited, or failed a transition)."""


class BringupInterrupted(BringupError):
    """Bringup was asked to stop (Ctrl-C, SIGTERM) while it was driving the nodes."""


class LifecycleManager:
    """Drives lifecycle nodes through their standard services (lifecycle_msgs
    ChangeState / GetState at /<node>/change_state, /<node>/get_state), on a node and
    executor of its own in this process.

    ``exited(name)`` (optional) returns a dead node's exit status, so a node that dies
    is reported at once instead of after a timeout; ``cancelled()`` (optional) stops a
    wait early (BringupInterrupted)."""

    TRANSITIONS = ("configure", "activate", "deactivate", "cleanup", "shutdown")

    def __init__(self, domain_id: int | None = None, exited=None, cancelled=None,
                 node_name: str = "apeiria_lifecycle_manager"):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self._rclpy = rclpy
        self.exited = exited or (lambda name: None)
        self.cancelled = cancelled or (lambda: False)
        self.context = rclpy.context.Context()
        kw = {} if domain_id is None else {"domain_id": int(domain_id)}
        rclpy.init(context=self.context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO, **kw)
        self.node = rclpy.create_node(f"{node_name}_{os.getpid()}", context=self.context)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True, name="apeiria-lifecycle-manager")
        self._thread.start()
        self._clients: dict[tuple[str, str], Any] = {}

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # context shut down under the spin: close() is ending it
            pass

    def _check(self, name: str) -> None:
        if self.cancelled():
            raise BringupInterrupted("interrupted")
        rc = self.exited(name)
        if rc is not None:
            raise BringupError(f"node {name} exited with status {rc}")

    def _call(self, name: str, service: str, request, timeout: float):
        from lifecycle_msgs.srv import ChangeState, GetState

        srv_type = {"change_state": ChangeState, "get_state": GetState}[service]
        key = (name, service)
        if key not in self._clients:
            self._clients[key] = self.node.create_client(srv_type, f"/{name.lstrip('/')}/{service}")
        client = self._clients[key]
        deadline = time.monotonic() + timeout
        while not client.service_is_ready():
            self._check(name)
            if time.monotonic() >= deadline:
                raise BringupError(f"node {name}: no lifecycle service /{name}/{service} within {timeout:g} s "
                                   "(is it a lifecycle node, started with autostart: false?)")
            time.sleep(0.05)
        future = client.call_async(request)
        while not future.done():
            self._check(name)
            if time.monotonic() >= deadline:
                client.remove_pending_request(future)
                raise BringupError(f"node {name}: /{name}/{service} did not answer within {timeout:g} s")
            time.sleep(0.02)
        return future.result()

    def get_state(self, name: str, timeout: float = 30.0) -> str:
        """The node's state label: unconfigured | inactive | active | finalized | ..."""
        from lifecycle_msgs.srv import GetState

        return self._call(name, "get_state", GetState.Request(), timeout).current_state.label

    def change_state(self, name: str, transition: str, timeout: float = 120.0) -> str:
        """Run one transition (configure | activate | deactivate | cleanup | shutdown);
        the new state, or BringupError when the node refused or failed it."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        if transition not in self.TRANSITIONS:
            raise ValueError(f"transition must be one of {self.TRANSITIONS}, got {transition!r}")
        if transition == "shutdown":
            tid = {"unconfigured": Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
                   "inactive": Transition.TRANSITION_INACTIVE_SHUTDOWN,
                   "active": Transition.TRANSITION_ACTIVE_SHUTDOWN}.get(self.get_state(name, timeout))
            if tid is None:
                return self.get_state(name, timeout)  # finalized (or mid-transition): nothing to do
        else:
            tid = getattr(Transition, f"TRANSITION_{transition.upper()}")
        ok = self._call(name, "change_state", ChangeState.Request(transition=Transition(id=tid)), timeout).success
        state = self.get_state(name, timeout)
        if not ok:
            raise BringupError(f"node {name}: transition '{transition}' failed (now {state}); its log says why")
        return state

    def bring_up(self, names: list[str], timeout: float = 120.0) -> None:
        """configure every node, then activate every node (in order); a node already
        past a step (autostarted) is left as it is."""
        for step, before in (("configure", "unconfigured"), ("activate", "inactive")):
            for name in names:
                if self.get_state(name, timeout) == before:
                    self.change_state(name, step, timeout)
        for name in names:
            state = self.get_state(name, timeout)
            if state != "active":
                raise BringupError(f"node {name} is {state}, not active, after bringup")

    def bring_down(self, names: list[str], timeout: float = 30.0) -> list[str]:
        """deactivate, clean up and shut down every node in reverse order, best effort:
        the problems met (a node that already exited is skipped)."""
        self.cancelled = lambda: False  # stopping is what a cancel asks for: never cut it short
        problems = []
        for name in reversed(names):
            try:
                if self.exited(name) is not None:
                    continue
                state = self.get_state(name, timeout)
                if state == "active":
                    state = self.change_state(name, "deactivate", timeout)
                if state == "inactive":
                    state = self.change_state(name, "cleanup", timeout)
                if state != "finalized":
                    self.change_state(name, "shutdown", timeout)
            except BringupError as e:
                problems.append(str(e))
        return problems

    def close(self) -> None:
        self._executor.shutdown(timeout_sec=2)
        self.node.destroy_node()
        self._rclpy.try_shutdown(context=self.context)
        self._thread.join(2)


@dataclass
class NodeSpec:
    module: str                      # apeiria_ros.<module>
    name: str = ""                   # ROS node name (default: the module name)
    params_files: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.module not in NODE_MODULES:
            raise BringupError(f"unknown node '{self.module}' (expected one of {', '.join(NODE_MODULES)})")
        self.name = self.name or self.module


def load_bringup_config(path: str | os.PathLike) -> tuple[list[str], dict]:
    """(node modules to start, the whole YAML) from a bringup file (a ROS params file
    with an extra ``apeiria_bringup.ros__parameters.nodes`` list)."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except OSError as e:
        raise BringupError(f"cannot read bringup config {p}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise BringupError(f"bringup config {p} is not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise BringupError(f"bringup config {p} must be a mapping of node names to ros__parameters")
    try:
        nodes = doc["apeiria_bringup"]["ros__parameters"]["nodes"]
    except (KeyError, TypeError):
        raise BringupError(f"bringup config {p}: apeiria_bringup.ros__parameters.nodes is required") from None
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes):
        raise BringupError(f"bringup config {p}: apeiria_bringup.ros__parameters.nodes must be a non-empty list of names")
    for n in nodes:
        if n not in NODE_MODULES:
            raise BringupError(f"bringup config {p}: unknown node '{n}' (expected one of {', '.join(NODE_MODULES)})")
    return nodes, doc


def node_command(spec: NodeSpec, tmpdir: str) -> list[str]:
    cmd = [sys.executable, "-m", f"apeiria_ros.{spec.module}", "--ros-args", "-r", f"__node:={spec.name}"]
    for f in spec.params_files:
        cmd += ["--params-file", str(f)]
    if spec.params:
        over = Path(tmpdir) / f"{spec.name}.params.yaml"
        over.write_text(yaml.safe_dump({spec.name: {"ros__parameters": spec.params}}))
        cmd += ["--params-file", str(over)]
    return cmd


class ProcessGroup:
    """Child node processes; ``stop()`` (also on context exit) ends every one of them."""

    def __init__(self, env: dict[str, str], log_dir: str | os.PathLike, echo: bool = False):
        self.env, self.echo = env, echo
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(prefix="apeiria_params_")
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, Any] = {}
        self.manager: LifecycleManager | None = None
        self.managed: list[str] = []

    def start(self, spec: NodeSpec) -> subprocess.Popen:
        if spec.name in self.procs:
            raise BringupError(f"node '{spec.name}' already started")
        cmd = node_command(spec, self._tmp.name)
        log_path = self.log_dir / f"{spec.name}.log"
        out = None if self.echo else open(log_path, "wb")
        # Own session: a terminal Ctrl-C reaches us once, and we forward it exactly once.
        p = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT if out else None,
                             start_new_session=True)
        self.procs[spec.name] = p
        self._logs[spec.name] = out
        return p

    def manage(self, names: list[str], timeout: float = 120.0, cancelled=None) -> None:
        """Drive the lifecycle nodes ``names`` (started with autostart: false) to active;
        ``stop()`` then takes them down through the lifecycle before ending them."""
        for k in ("FASTDDS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION"):  # this process's participant too
            if k in self.env:
                os.environ.setdefault(k, self.env[k])
        domain = self.env.get("ROS_DOMAIN_ID")
        if self.manager is None:
            self.manager = LifecycleManager(int(domain) if domain and domain.isdigit() else None,
                                            exited=self._exit_status, cancelled=cancelled)
        self.managed = list(names)
        try:
            self.manager.bring_up(self.managed, timeout)
        except BringupInterrupted:
            raise
        except BringupError as e:
            name = next((n for n in self.managed if f"node {n}" in str(e)), None)
            tail = f"\nLast lines of {self.log_path(name)}:\n{self.log_tail(name)}" if name else ""
            raise NodeFailed(f"{e}{tail}") from None

    def _exit_status(self, name: str) -> int | None:
        p = self.procs.get(name)
        return -signal.SIGKILL if p is None else p.poll()  # (not in procs: killed, see kill())

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def signal_all(self, sig: int) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    p.send_signal(sig)
                except ProcessLookupError:
                    pass

    def kill(self, name: str) -> None:
        """SIGKILL one node (tests: crash recovery)."""
        p = self.procs.pop(name)
        p.kill()
        p.wait(10)
        if self._logs.get(name):
            self._logs.pop(name).close()

    def stop(self, timeout: float = 10.0) -> dict[str, int]:
        """Managed nodes through deactivate / cleanup / shutdown first (reverse order);
        then SIGINT, SIGTERM, SIGKILL after ``timeout`` each; returns exit codes."""
        if self.manager is not None:
            manager, self.manager = self.manager, None
            try:
                for problem in manager.bring_down(self.managed, timeout=max(timeout, 30.0)):
                    print(f"apeiria: lifecycle shutdown: {problem}", file=sys.stderr, flush=True)
            finally:
                manager.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            self.signal_all(sig)
            deadline = time.monotonic() + (timeout if sig != signal.SIGKILL else 5.0)
            while time.monotonic() < deadline and any(p.poll() is None for p in self.procs.values()):
                time.sleep(0.05)
            if all(p.poll() is not None for p in self.procs.values()):
                break
        codes = {n: p.wait(5) for n, p in self.procs.items()}
        for f in self._logs.values():
            if f:
                f.close()
        self._logs.clear()
        self._tmp.cleanup()
        return codes

    def __enter__(self) -> "ProcessGroup":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
