"""`apeiria ask` / `apeiria bringup` as users run them (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from apeiria_model.scene.io import save_scene
from apeiria_ros.launching import NodeSpec, ProcessGroup
from tests.ros.conftest import DOMAIN_ID
from tests.ros.scenes import office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(180)]

APEIRIA = [sys.executable, "-m", "apeiria_model.cli.main"]


def _run(args, env, timeout=60):
    return subprocess.run(APEIRIA + args, env=env, capture_output=True, text=True, timeout=timeout)


def test_ask_prints_the_ground_json(ros, ros_env, log_dir, tmp_path):
    from apeiria.srv import Ground

    save_scene(office(), tmp_path / "office.json")
    g = ProcessGroup(ros_env, log_dir / "ask")
    g.start(NodeSpec("grounding_node", params={"scene_file": str(tmp_path / "office.json")}))
    try:
        cli = ros.node.create_client(Ground, "/apeiria/ground")
        assert cli.wait_for_service(timeout_sec=60)
        p = _run(["ask", "the white mug", "--json", "--domain-id", str(DOMAIN_ID), "--log-dir", str(tmp_path)], ros_env)
        assert p.returncode == 0, p.stderr
        d = json.loads(p.stdout)
        assert list(d) == ["instruction", "status", "targets", "answer", "program", "trace", "steps",
                           "verified", "failed_check", "reasoner", "latency_ms", "message", "ignored"]
        assert d["status"] == "ok" and [t["id"] for t in d["targets"]] == [2]
        text = _run(["ask", "the white mug", "--domain-id", str(DOMAIN_ID), "--log-dir", str(tmp_path)], ros_env)
        assert text.returncode == 0 and "status: ok" in text.stdout and "2: mug" in text.stdout
        bad = _run(["ask", "", "--json", "--domain-id", str(DOMAIN_ID), "--log-dir", str(tmp_path)], ros_env)
        assert bad.returncode == 1 and json.loads(bad.stdout)["message"] == "instruction is empty"
    finally:
        g.stop()


def test_ask_without_a_node_fails_with_one_line(ros_env, tmp_path):
    other = str((DOMAIN_ID + 50) % 100 + 1)
    p = _run(["ask", "the mug", "--timeout", "1", "--domain-id", other, "--log-dir", str(tmp_path)], ros_env)
    assert p.returncode == 3
    assert "no Ground service at /apeiria/ground within 1 s" in p.stderr and "Traceback" not in p.stderr


def test_bringup_reports_a_dying_node_and_stops_the_rest(ros_env, tmp_path):
    cfg = tmp_path / "bringup.yaml"
    cfg.write_text(yaml.safe_dump({
        "apeiria_bringup": {"ros__parameters": {"nodes": ["grounding_node", "sim_node"]}},
        "sim_node": {"ros__parameters": {"scene_file": str(tmp_path / "missing.json")}},
    }))
    p = _run(["bringup", "--config", str(cfg), "--domain-id", str(DOMAIN_ID), "--log-dir", str(tmp_path / "log"),
              "--duration", "60"], ros_env, timeout=90)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "node sim_node exited with status" in p.stderr and "nothing is restarted" in p.stderr
    assert "missing.json" in p.stderr  # the log tail says why
    assert "grounding_node=" in p.stdout  # the healthy node was stopped, with its status


def test_bringup_rejects_bad_configs(ros_env, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("apeiria_bringup:\n  ros__parameters:\n    nodes: [teleport_node]\n")
    p = _run(["bringup", "--config", str(cfg), "--log-dir", str(tmp_path)], ros_env)
    assert p.returncode == 2 and "unknown node 'teleport_node'" in p.stderr
    p = _run(["bringup", "--config", str(tmp_path / "nope.yaml"), "--log-dir", str(tmp_path)], ros_env)
    assert p.returncode == 2 and "cannot read bringup config" in p.stderr
