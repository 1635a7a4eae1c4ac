"""The dataset generator: files, splits, determinism, and gold answers = executor answers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from apeiria_model.cli.main import main as cli_main
from apeiria_model.data import templates as T
from apeiria_model.data.generator import (KINDS, SPLITS, GeneratorConfig, generate_dataset, read_manifest,
                                          split_of_scenes)
from apeiria_model.data.schema import GroundingSample
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.grammar import parse_program
from apeiria_model.programs.trace import parse_trace, verify_trace
from apeiria_model.scene.io import loads_scene

N_SCENES = 24


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn")
    manifest = generate_dataset(out, N_SCENES, seed=3)
    return out, manifest


@pytest.fixture(scope="module")
def scenes(dataset):
    out, _ = dataset
    by_id = {}
    for split in SPLITS:
        for line in (out / "scenes" / f"{split}.jsonl").read_text().splitlines():
            s = loads_scene(line)  # every scene validates as Scene JSON v1
            by_id[s.scene_id] = (split, s)
    return by_id


def test_layout_and_manifest(dataset):
    out, manifest = dataset
    for kind in KINDS:
        for split in SPLITS:
            assert (out / kind / f"{split}.jsonl").is_file()
            assert len(_read(out / kind / f"{split}.jsonl")) == manifest["counts"][kind][split]
    assert read_manifest(out) == manifest
    assert sum(manifest["counts"]["scenes"].values()) == N_SCENES
    assert manifest["dropped_mismatch"] == 0
    assert manifest["seed"] == 3 and manifest["version"]


def test_splits_are_disjoint_by_scene(dataset, scenes):
    out, _ = dataset
    for kind in ("grounding", "stage1", "stage2", "stage3"):
        for split in SPLITS:
            for rec in _read(out / kind / f"{split}.jsonl"):
                assert scenes[rec["scene_id"]][0] == split
    assert {s for s, _ in scenes.values()} == set(SPLITS)


def test_every_gold_answer_is_the_executors(dataset, scenes):
    out, _ = dataset
    ex = Executor()
    n = 0
    for kind in ("grounding", "stage3"):
        for split in SPLITS:
            for rec in _read(out / kind / f"{split}.jsonl"):
                g = GroundingSample.from_dict(rec)
                scene = scenes[g.scene_id][1]
                result = ex.execute(parse_program(g.program), scene)
                if isinstance(result.value, list):
                    assert result.value == g.target_ids, g
                    assert g.answer is None
                else:
                    assert result.value == g.answer, g
                assert g.depth == len(result.steps)
                assert g.target_kind == rec["target_kind"]
                assert not set(g.distractor_ids) & set(g.target_ids)
                n += 1
    assert n > N_SCENES * 10


def test_stage2_traces_verify(dataset, scenes):
    out, _ = dataset
    levels = set()
    for split in SPLITS:
        for rec in _read(out / "stage2" / f"{split}.jsonl"):
            scene = scenes[rec["scene_id"]][1]
            for key in ("trace", "trace_full"):
                ver = verify_trace(parse_trace(rec[key]), scene)
                assert ver.all_ok, (rec[key], ver.reasons)
            assert Executor().execute(parse_program(rec["program"]), scene).ids == rec["target_ids"]
            levels.add(rec["level"])
    assert levels == {1, 2}


def test_stage1_and_stage3_contents(dataset, scenes):
    out, _ = dataset
    tasks = set()
    for rec in _read(out / "stage1" / "train.jsonl"):
        tasks.add(rec["task"])
        scene = scenes[rec["scene_id"]][1]
        assert rec["prompt"] and rec["response"] and all(scene.has(i) for i in rec["object_ids"])
        if rec["task"] == "recognition":
            assert rec["response"].endswith(scene.get(rec["object_ids"][0]).label)
    assert tasks == {"recognition", "localisation", "caption"}
    assert all(r["depth"] >= 3 for r in _read(out / "stage3" / "train.jsonl"))


def test_depths_targets_and_phrasings(dataset):
    out, manifest = dataset
    depths = {int(d) for s in SPLITS for d in manifest["grounding_by_depth"][s]}
    assert depths == set(range(1, 9))
    kinds = {k for s in SPLITS for k in manifest["grounding_by_target_kind"][s]}
    assert kinds == {"zero", "single", "multi"}
    assert set(manifest["grounding_by_phrasing"]["train"]) == {"train"}
    assert set(manifest["grounding_by_phrasing"]["val"]) | set(manifest["grounding_by_phrasing"]["test"]) \
        == {"train", "heldout"}


def test_no_heldout_wording_in_any_train_record(dataset):
    out, _ = dataset
    markers = T.heldout_markers()
    for kind in ("grounding", "stage2", "stage3"):
        for split in SPLITS:
            for rec in _read(out / kind / f"{split}.jsonl"):
                if rec["phrasing"] != "train":
                    continue
                bad = [m for m in markers if T.contains_phrase(rec["instruction"], m)]
                assert not bad, (rec["instruction"], bad)
    for split in SPLITS:  # perception prompts use category labels only
        for rec in _read(out / "stage1" / f"{split}.jsonl"):
            text = rec["prompt"] + " " + rec["response"]
            assert not [m for m in markers if T.contains_phrase(text, m)], text


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    cfg = GeneratorConfig(samples_per_scene=6, stage2_per_scene=2)
    generate_dataset(tmp_path / "a", 6, seed=9, cfg=cfg)
    generate_dataset(tmp_path / "b", 6, seed=9, cfg=cfg)
    generate_dataset(tmp_path / "c", 6, seed=10, cfg=cfg)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_output_does_not_depend_on_string_hashing(tmp_path):
    """Set iteration order changes with PYTHONHASHSEED: no choice may depend on it."""
    import os
    import subprocess
    import sys

    cfg = GeneratorConfig(samples_per_scene=6, stage2_per_scene=1)
    generate_dataset(tmp_path / "here", 4, seed=2, cfg=cfg)
    code = ("from apeiria_model.data.generator import generate_dataset, GeneratorConfig\n"
            f"generate_dataset({str(tmp_path / 'there')!r}, 4, 2, GeneratorConfig(samples_per_scene=6, "
            "stage2_per_scene=1))\n")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    assert _digest(tmp_path / "here") == _digest(tmp_path / "there")


@pytest.mark.slow
def test_workers_do_not_change_the_output(tmp_path):
    cfg = GeneratorConfig(samples_per_scene=4, stage2_per_scene=1)
    generate_dataset(tmp_path / "one", 10, seed=4, cfg=cfg, workers=1)
    generate_dataset(tmp_path / "two", 10, seed=4, cfg=cfg, workers=2)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")


def test_split_of_scenes():
    s = split_of_scenes(100, 0)
    assert (s.count("train"), s.count("val"), s.count("test")) == (80, 10, 10)
    assert set(split_of_scenes(3, 0)) == {"train", "val", "test"}
    assert split_of_scenes(1, 0) == ["train"]


@pytest.mark.parametrize("kwargs,match", [
    ({"n_scenes": 0}, "n_scenes"), ({"n_scenes": True}, "n_scenes"), ({"n_scenes": 2.5}, "n_scenes"),
    ({"seed": -1}, "seed"), ({"seed": "x"}, "seed"), ({"workers": 0}, "workers"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    args = {"out_dir": tmp_path / "x", "n_scenes": 2, "seed": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        generate_dataset(**args)


def test_bad_config_and_out_dir(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        generate_dataset(f, 2, 0)
    for cfg in (GeneratorConfig(samples_per_scene=-1), GeneratorConfig(split_fractions=(0.5, 0.5, 0.5)),
                GeneratorConfig(goal_weights={"single": float("nan")}), GeneratorConfig(goal_weights={"x": 1.0}),
                GeneratorConfig(min_depth=5, max_depth=2), GeneratorConfig(heldout_share=2.0)):
        with pytest.raises(ValueError):
            generate_dataset(tmp_path / "y", 2, 0, cfg)


def test_read_manifest_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not an apeiria dataset"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"counts": [1]}')
    with pytest.raises(ValueError, match="counts"):
        read_manifest(tmp_path)


def test_cli_generate_and_stats(tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli_main(["data", "generate", "--out", str(out), "--scenes", "3", "--seed", "1",
                     "--samples-per-scene", "3", "--stage2-per-scene", "1", "--json", "--quiet"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["n_scenes"] == 3
    assert cli_main(["data", "stats", str(out), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["mismatches"] == []
    # a truncated file is reported
    p = out / "grounding" / "train.jsonl"
    p.write_text("\n".join(p.read_text().splitlines()[:1]) + "\n")
    assert cli_main(["data", "stats", str(out)]) == 1
    with pytest.raises(SystemExit) as e:
        cli_main(["data", "stats", str(tmp_path / "nothing")])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        cli_main(["data", "generate", "--out", str(out), "--scenes", "-4"])
