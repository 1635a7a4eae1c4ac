"""Start apeiria nodes each in its own process (what `apeiria bringup`, `apeiria demo`
and the ROS tests share): parameters from a ROS params YAML plus overrides, output to
per-node log files, signals forwarded, every child stopped on exit. Nothing is ever
restarted silently: a node that exits is reported with its status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NODE_MODULES = ("grounding_node", "scene_builder_node", "sim_node", "speech_node")


class BringupError(RuntimeError):
    """A bringup configuration or process problem, with a one-line explanation."""


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
        """SIGINT, then SIGTERM, then SIGKILL after ``timeout`` each; returns exit codes."""
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
