"""`apeiria ground` / `apeiria parse`: JSON contract, JSON Lines, readable output, and
one-line errors for unusable input files (in-process, plus one installed-binary smoke)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from apeiria_model.cli.main import main
from apeiria_model.scene.io import save_scene

REPO = Path(__file__).resolve().parents[1]
KEYS = ["instruction", "status", "targets", "answer", "program", "trace", "steps", "verified", "failed_check", "reasoner",
        "latency_ms", "message", "ignored"]


@pytest.fixture
def scene_file(tmp_path, office_scene):
    path = tmp_path / "office.json"
    save_scene(office_scene, path)
    return path


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_cli_exit(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_ground_json(capsys, scene_file):
    code, out, err = run_cli(capsys, "ground", "--scene", str(scene_file), "--json",
                             "the mug on the desk closest to the window")
    assert code == 0
    d = json.loads(out)
    assert list(d) == KEYS
    assert d["status"] == "ok" and [t["id"] for t in d["targets"]] == [2]
    assert set(d["targets"][0]) == {"id", "label", "center", "size", "score"}
    assert d["reasoner"] == "symbolic" and d["verified"] is True


def test_ground_text_shows_trace_then_targets(capsys, scene_file):
    code, out, _ = run_cli(capsys, "ground", "--scene", str(scene_file), "the lamp on the desk")
    assert code == 0
    assert out.index("<think>") < out.index("targets:")
    assert "3: lamp" in out and "verified: yes" in out


@pytest.mark.parametrize("instruction,status", [("the sofa", "no_match"), ("the chair near", "ok"), ("the zebra near", "unparsed"),
                                                ("how many chairs are there", "ok")])
def test_ground_exit_zero_for_every_answer(capsys, scene_file, instruction, status):
    code, out, _ = run_cli(capsys, "ground", "--scene", str(scene_file), "--json", instruction)
    assert code == 0 and json.loads(out)["status"] == status


def test_ground_queries_file_gives_json_lines(capsys, scene_file, tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("the red mug\n\n# a comment\nhow many chairs are there\nthe sofa\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "ground", "--scene", str(scene_file), "--queries", str(q), "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["instruction"] for r in rows] == ["the red mug", "how many chairs are there", "the sofa"]
    assert [r["status"] for r in rows] == ["ok", "ok", "no_match"]
    assert rows[1]["answer"] == 2


def _bad_scene_files(tmp_path):
    missing = tmp_path / "nope.json"
    invalid_json = tmp_path / "broken.json"
    invalid_json.write_text("{not json", encoding="utf-8")
    bad_field = tmp_path / "bad_field.json"
    bad_field.write_text(json.dumps({"scene_id": "s", "objects": [
        {"id": 0, "label": "chair", "center": [0, 0, 0], "size": [1, 1, 1]},
        {"id": 1, "label": "table", "center": [0, 0, 0], "size": [1, -1, 1]}]}), encoding="utf-8")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    return [(missing, "not found"), (invalid_json, "not valid JSON"), (bad_field, "objects[1].size[1]"),
            (binary, "invalid scene"), (tmp_path, "directory")]


def test_unusable_scene_files_fail_with_one_line(capsys, tmp_path):
    for path, text in _bad_scene_files(tmp_path):
        code, out, err = run_cli_exit(capsys, "ground", "--scene", str(path), "--json", "the chair")
        assert code != 0, path
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and text in lines[0] and "Traceback" not in err, err


def test_unusable_queries_file(capsys, scene_file, tmp_path):
    bad = tmp_path / "q.txt"
    bad.write_bytes(b"the chair\n\xff\xfe\n")
    code, _, err = run_cli_exit(capsys, "ground", "--scene", str(scene_file), "--queries", str(bad), "--json")
    assert code != 0 and "UTF-8" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli_exit(capsys, "ground", "--scene", str(scene_file), "--queries",
                                str(tmp_path / "missing.txt"))
    assert code != 0 and "not found" in err


def test_instruction_or_queries_required(capsys, scene_file):
    code, _, err = run_cli_exit(capsys, "ground", "--scene", str(scene_file))
    assert code != 0 and "instruction" in err


def test_unavailable_reasoner_is_one_line(capsys, scene_file, monkeypatch):
    import apeiria_model.reasoning as reasoning

    def unavailable(name, **kw):
        raise reasoning.ReasonerUnavailableError(f"the {name} reasoner is not available: test")

    monkeypatch.setattr(reasoning, "load_reasoner", unavailable)
    code, _, err = run_cli_exit(capsys, "ground", "--scene", str(scene_file), "--reasoner", "neural", "the chair")
    assert code != 0 and "neural reasoner is not available" in err and len(err.strip().splitlines()) == 1


def test_parse_json(capsys):
    code, out, _ = run_cli(capsys, "parse", "the second chair from the left", "--json")
    assert code == 0
    assert json.loads(out) == {"program": "superlative(filter(scene(), chair), leftmost, 2)", "target_concept": "chair"}
    code, out, _ = run_cli(capsys, "parse", "--json", "the chair near")
    d = json.loads(out)
    assert code == 0 and d["program"] is None and d["status"] == "unparsed" and "near" in d["reason"]


def test_parse_text(capsys):
    code, out, _ = run_cli(capsys, "parse", "the chiar near the window")
    assert code == 0
    assert "relate(filter(scene(), chair), filter(scene(), window), near)" in out and "chiar -> chair" in out


def test_installed_binary_smoke(scene_file):
    exe = REPO / ".venv" / "bin" / "apeiria"
    if not exe.exists():
        pytest.skip("apeiria is not installed in .venv")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    p = subprocess.run([str(exe), "ground", "--scene", str(scene_file), "--json", "the red mug"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["targets"][0]["id"] == 1
    p = subprocess.run([str(exe), "ground", "--scene", str(scene_file) + ".missing", "the red mug"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1
