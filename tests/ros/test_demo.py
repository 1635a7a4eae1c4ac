"""`apeiria demo` (the README's first command) end to end: exit 0, answers, pictures,
and no node process left behind."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(240)]


def test_demo_runs_and_cleans_up(ros_env, tmp_path):
    out = tmp_path / "demo"
    p = subprocess.run([sys.executable, "-m", "apeiria_model.cli.main", "demo", "--out", str(out), "--max-queries", "3"],
                       env=ros_env, capture_output=True, text=True, timeout=200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3
    for ln in lines:
        d = json.loads(ln)
        assert d["status"] in ("ok", "no_match", "unparsed") and d["trace"]
    assert len(list(out.glob("demo_*.png"))) == 3
    assert "instructions answered" in p.stdout
    # each answer is compared with the same reasoner on the simulator's ground truth
    assert p.stdout.count("on the simulator's ground truth") == 3
    # every node process of this demo is gone (they carry the demo's ROS_LOG_DIR)
    from pathlib import Path

    marker = f"ROS_LOG_DIR={(out / 'log' / 'ros').resolve()}".encode()
    left = []
    for env_file in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in env_file.read_bytes().split(b"\0"):
                left.append(env_file.parent.name)
        except OSError:
            continue
    assert not left, f"demo left processes behind: {left}"
