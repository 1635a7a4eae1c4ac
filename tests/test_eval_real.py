"""`apeiria eval --real` (apeiria_model/evaluation/real_data.py) and benchmarks/bench_real.py, on a
tiny hand-written directory in tmp_path (the real data never enters the repository)."""

from __future__ import annotations

import hashlib
import json
import random
import re

import pytest

from apeiria_model.cli import eval as eval_cli
from apeiria_model.cli.main import main as apeiria_main
from apeiria_model.evaluation import real_data as R
from apeiria_model.reasoning.result import GroundingResult, Target


def _obj(i, label, x, color="gray"):
    return {"id": i, "label": label, "center": [x, 0.0, 0.5], "size": [0.5, 0.5, 1.0], "color": color}


SCENES = {
    # roomA_00 / roomA_01: two scans of one room (both dev); roomF_00: calib
    "roomA_00": [_obj(0, "chair", 0.0), _obj(1, "chair", 1.0), _obj(2, "chair", 2.0), _obj(3, "table", 3.0),
                 _obj(4, "window", 4.0, "white")],
    "roomA_01": [_obj(0, "chair", 0.0), _obj(1, "lamp", 1.0)],
    "roomF_00": [_obj(0, "sofa", 0.0, "brown"), _obj(1, "lamp", 1.0), _obj(2, "lamp", 2.0)],
}


def _q(text, target, *tags):
    return {"q": text, "ids": [target], "tags": list(tags), "source": tags[0], "object_name": "x"}


QUERIES = {
    "roomA_00": [_q("the chair by the window", 0, "nr3d", "multiple", "hard", "view_indep"),
                 _q("the chair on the left", 1, "nr3d", "multiple", "hard", "view_dep"),
                 _q("the table", 3, "scanrefer", "unique"),
                 _q("the window", 4, "sr3d", "unique", "easy", "view_indep")],
    "roomA_01": [_q("the lamp", 1, "scanrefer", "unique")],
    "roomF_00": [_q("the sofa", 0, "scanrefer", "unique"),
                 _q("the lamp near the sofa", 1, "nr3d", "multiple", "easy", "view_indep")],
}

# what the fake reasoner answers: target ids, or an exception to raise
SCRIPT = {
    "the chair by the window": [0],       # right
    "the chair on the left": [1, 2],      # target among others: wrong
    "the table": [3],                     # right
    "the window": RuntimeError("boom"),  # error, the run goes on
    "the lamp": [],                       # no_match
    "the sofa": [0],
    "the lamp near the sofa": [2],
}


class Scripted:
    name = "scripted"

    def __init__(self, script=SCRIPT, answer_mode="sets"):
        self.script = script
        self.answer_mode = answer_mode
        self.calls: list[str] = []

    def ground(self, text, scene):
        self.calls.append(text)
        ids = self.script[text]
        if isinstance(ids, Exception):
            raise ids
        targets = [Target.from_object(scene.get(i)) for i in ids]
        # vouches for every answer it finds (right or not): verified_wrong counts the wrong ones
        return GroundingResult(text, "ok" if targets else "no_match", self.name, targets,
                               verified=True if targets else None)


def write_dir(root, scenes=SCENES, queries=QUERIES):
    root.mkdir(parents=True, exist_ok=True)
    for sid, objs in scenes.items():
        (root / f"{sid}.json").write_text(json.dumps({"scene_id": sid, "frame_id": "map", "objects": objs}))
    for sid, rows in queries.items():
        # a blank line in the middle must be skipped, not reported
        lines = [json.dumps(r) for r in rows]
        (root / f"{sid}.queries.jsonl").write_text("\n".join(lines[:1] + [""] + lines[1:]) + "\n")
    return root


@pytest.fixture
def real_dir(tmp_path):
    return write_dir(tmp_path / "real")


# --------------------------------------------------------------------- split
def test_scene_part_is_the_documented_hash_and_keeps_rescans_together():
    for sid in ("roomA_00", "roomF_00", "scene0000_00", "scene0707_02"):
        base = sid.rsplit("_", 1)[0]
        want = "dev" if int(hashlib.sha1(base.encode()).hexdigest(), 16) % 2 else "calib"
        assert R.scene_part(sid) == want
    assert R.scene_part("roomA_00") == "dev" and R.scene_part("roomF_00") == "calib"  # pinned
    parts = set()
    for i in range(200):
        scans = {R.scene_part(f"scene{i:04d}_{k:02d}") for k in range(3)}
        assert len(scans) == 1
        parts |= scans
    assert parts == {"calib", "dev"}


@pytest.mark.parametrize("part,scenes,n", [("dev", ["roomA_00", "roomA_01"], 5), ("calib", ["roomF_00"], 2),
                                           ("all", ["roomA_00", "roomA_01", "roomF_00"], 7)])
def test_load_by_part(real_dir, part, scenes, n):
    data = R.load_real(real_dir, part)
    assert sorted(data.scenes) == scenes and len(data.queries) == n and data.part == part
    assert {q.scene_id for q in data.queries} == set(scenes)
    q = data.queries[0]
    assert (q.scene_id, q.line, q.text, q.target, q.dataset, q.tags) == \
        (scenes[0], 1, QUERIES[scenes[0]][0]["q"], QUERIES[scenes[0]][0]["ids"][0],
         QUERIES[scenes[0]][0]["tags"][0], tuple(QUERIES[scenes[0]][0]["tags"][1:]))
    assert [q.line for q in data.queries if q.scene_id == scenes[0]][1] == 3  # line numbers count the blank line


# ------------------------------------------------------------------- loader errors
def _broken(tmp_path, edit):
    root = write_dir(tmp_path / "real")
    edit(root)
    return root


def _append(root, sid, text):
    with open(root / f"{sid}.queries.jsonl", "a") as f:
        f.write(text + "\n")


@pytest.mark.parametrize("edit,match", [
    (lambda r: _append(r, "roomA_00", '{"q": "the chair", "ids": [0], '), r"roomA_00\.queries\.jsonl:6: not valid JSON"),
    (lambda r: (r / "roomA_01.json").unlink(), r"roomA_01\.queries\.jsonl: no scene file roomA_01\.json"),
    (lambda r: _append(r, "roomA_01", '{"q": "x", "tags": ["nr3d"]}'), r"roomA_01\.queries\.jsonl:3: missing field 'ids'"),
    (lambda r: _append(r, "roomA_01", json.dumps(_q("x", 0, "scannet"))), r":3: tags: first tag must be one of"),
    (lambda r: _append(r, "roomA_01", json.dumps(_q("", 0, "nr3d"))), r":3: q: must be a non-empty string"),
    (lambda r: _append(r, "roomA_01", '{"q": "x", "ids": ["0"], "tags": ["nr3d"]}'), r":3: ids: must be a non-empty list"),
    (lambda r: _append(r, "roomA_01", json.dumps(_q("the bed", 9, "nr3d"))), r":3: ids: target id 9 is not in scene roomA_01"),
    (lambda r: (r / "roomA_00.json").write_text('{"scene_id": "roomA_00", "objects": [{"id": 0}]}'), r"roomA_00\.json: .*label"),
    (lambda r: (r / "roomA_00.json").write_text(json.dumps({"scene_id": "other", "objects": []})),
     r"roomA_00\.json: scene_id is 'other', expected 'roomA_00'"),
    (lambda r: [p.unlink() for p in r.glob("*.queries.jsonl")], r"holds no \*\.queries\.jsonl files"),
])
def test_loader_errors_name_file_and_line(tmp_path, edit, match):
    root = _broken(tmp_path, edit)
    with pytest.raises(R.RealDataError) as e:
        R.load_real(root, "dev")
    assert re.search(match, str(e.value)) and "\n" not in str(e.value)


def test_loader_only_checks_the_part_asked_for(tmp_path):
    root = _broken(tmp_path, lambda r: _append(r, "roomF_00", "not json"))   # a calib file
    assert len(R.load_real(root, "dev").queries) == 5
    with pytest.raises(R.RealDataError, match=r"roomF_00\.queries\.jsonl:4: not valid JSON"):
        R.load_real(root, "calib")


def test_loader_argument_errors(tmp_path):
    with pytest.raises(R.RealDataError, match="no such directory"):
        R.load_real(tmp_path / "missing")
    with pytest.raises(ValueError, match="part must be one of"):
        R.load_real(tmp_path, "test")
    with pytest.raises(ValueError, match="per_dataset"):
        R.load_real(tmp_path, "dev", per_dataset=0)


# ---------------------------------------------------------------- per-dataset cap
def test_per_dataset_cap_is_a_fixed_seeded_sample(tmp_path):
    rows = [_q(f"chair {i}", i % 3, "sr3d" if i % 2 else "nr3d", "multiple") for i in range(20)]
    root = write_dir(tmp_path / "big", {"roomA_00": SCENES["roomA_00"]}, {"roomA_00": rows})
    data = R.load_real(root, "dev", per_dataset=4)
    again = R.load_real(root, "dev", per_dataset=4)
    assert data.queries == again.queries
    for ds in ("nr3d", "sr3d"):
        full = [q for q in R.load_real(root, "dev").queries if q.dataset == ds]
        random.Random(0).shuffle(full)
        assert {q.text for q in data.queries if q.dataset == ds} == {q.text for q in full[:4]}
    assert [q.line for q in data.queries] == sorted(q.line for q in data.queries)  # file order kept
    assert len(R.load_real(root, "dev", per_dataset=100).queries) == 20


# -------------------------------------------------------------------- scoring
def test_scoring_baseline_and_statuses(real_dir):
    reasoner = Scripted()
    report = R.evaluate_real(reasoner, R.load_real(real_dir, "dev"), warmup=0)
    recs = {r.query: r for r in report.records}
    assert [r.right for r in report.records] == [True, False, True, False, False]
    assert recs["the chair on the left"].pred_ids == [1, 2] and not recs["the chair on the left"].right
    assert recs["the chair by the window"].baseline == pytest.approx(1 / 3)   # 3 chairs
    assert recs["the table"].baseline == 1.0
    assert recs["the window"].status == "error" and "RuntimeError: boom" in recs["the window"].message
    assert recs["the lamp"].status == "no_match"
    assert reasoner.calls == [q["q"] for q in QUERIES["roomA_00"] + QUERIES["roomA_01"]]  # the run went on
    d = report.to_dict()
    assert d["reasoner"] == "scripted" and d["part"] == "dev" and d["n_scenes"] == 2 and d["n_queries"] == 5
    assert d["overall"] == {"n": 5, "accuracy": 0.4, "same_class_random": round((2 / 3 + 3) / 5, 4),
                            "statuses": {"ok": 3, "no_match": 1, "unparsed": 0, "error": 1},
                            "verified": 0.6, "verified_wrong": 1}
    assert set(d["latency_ms"]) == {"p50", "p95", "max"} and d["latency_ms"]["p50"] >= 0
    assert "queries" not in d


def test_breakdown_keys(real_dir):
    d = R.evaluate_real(Scripted(), R.load_real(real_dir, "all")).to_dict(include_queries=True)
    assert list(d["by_dataset"]) == ["scanrefer", "nr3d", "sr3d"]
    assert list(d["by_dataset"]["scanrefer"]) == ["overall", "unique"]
    assert list(d["by_dataset"]["nr3d"]) == ["overall", "multiple", "easy", "hard", "view_dep", "view_indep"]
    nr3d = d["by_dataset"]["nr3d"]
    assert nr3d["hard"]["n"] == 2 and nr3d["hard"]["accuracy"] == 0.5 and nr3d["easy"]["same_class_random"] == 0.5
    assert nr3d["view_dep"] == {"n": 1, "accuracy": 0.0, "same_class_random": round(1 / 3, 4),
                                "statuses": {"ok": 1, "no_match": 0, "unparsed": 0, "error": 0},
                                "verified": 1.0, "verified_wrong": 1}
    assert d["by_dataset"]["sr3d"]["overall"]["statuses"]["error"] == 1
    q = d["queries"][0]
    assert set(q) == {"scene_id", "query", "dataset", "tags", "target", "pred_ids", "status", "right", "baseline",
                      "latency_ms", "message", "verified", "failed_check"}
    assert d["n_queries"] == len(d["queries"]) == 7 and d["warmup_calls"] == 1


def test_junk_results_are_errors(real_dir):
    class Junk:
        def ground(self, text, scene):
            return None if "chair" in text else object()
    d = R.evaluate_real(Junk(), R.load_real(real_dir, "dev")).to_dict()
    assert d["overall"]["statuses"]["error"] == 5 and d["overall"]["accuracy"] == 0.0 and d["reasoner"] == "Junk"


# ------------------------------------------------------------------------ CLI
@pytest.fixture
def fake_reasoner(monkeypatch):
    made = []

    def load(name, **kwargs):
        made.append(Scripted(**kwargs))
        return made[-1]
    monkeypatch.setattr(eval_cli, "load_reasoner", load)
    return made


def test_cli_real_writes_json_and_prints_tables(fake_reasoner, real_dir, tmp_path, capsys):
    out = tmp_path / "res" / "real.json"
    rc = apeiria_main(["eval", "--real", str(real_dir), "--part", "all", "--out", str(out), "--no-progress"])
    assert rc == 0
    d = json.loads(out.read_text())
    assert list(d) == ["reasoner", "dataset", "part", "n_scenes", "n_queries", "warmup_calls", "overall",
                       "by_dataset", "latency_ms"]
    assert d["part"] == "all" and d["n_queries"] == 7 and d["n_scenes"] == 3
    assert fake_reasoner[-1].answer_mode == "single"  # the symbolic reasoner answers one object each
    text = capsys.readouterr().out
    for s in ("apeiria eval --real: scripted", "By dataset", "same-class random", "nr3d", "view_dep",
              "error 1", f"report written to {out}"):
        assert s in text


def test_cli_real_json_default_part_and_limits(fake_reasoner, real_dir, capsys):
    rc = apeiria_main(["eval", "--real", str(real_dir), "--json", "--queries", "--no-progress",
                       "--per-dataset", "1", "--limit", "2"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["part"] == "dev" and d["n_queries"] == len(d["queries"]) == 2
    assert {q["scene_id"] for q in d["queries"]} <= {"roomA_00", "roomA_01"}


@pytest.mark.parametrize("args,match", [
    (["--per-dataset", "0"], "--per-dataset must be >= 1"),
    (["--limit", "0"], "--limit must be >= 1"),
])
def test_cli_real_argument_errors(fake_reasoner, real_dir, capsys, args, match):
    with pytest.raises(SystemExit) as e:
        apeiria_main(["eval", "--real", str(real_dir), *args, "--no-progress"])
    assert e.value.code == 2 and match in capsys.readouterr().err


def test_cli_real_bad_line_is_one_line(fake_reasoner, tmp_path, capsys):
    root = _broken(tmp_path, lambda r: _append(r, "roomA_00", "{oops"))
    with pytest.raises(SystemExit) as e:
        apeiria_main(["eval", "--real", str(root), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err.startswith("apeiria: error:") and "\n" not in err
    assert "roomA_00.queries.jsonl:6: not valid JSON" in err


def test_cli_real_rejects_both_sources(real_dir, capsys):
    with pytest.raises(SystemExit):
        apeiria_main(["eval", "--real", str(real_dir), "--data", str(real_dir)])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.slow  # loads the language module's embedding model (seconds)
def test_real_symbolic_reasoner_on_one_object_queries(tmp_path):
    from apeiria_model.reasoning import load_reasoner
    queries = {"roomA_00": [_q("the table", 3, "scanrefer", "unique"), _q("the window", 4, "scanrefer", "unique")]}
    root = write_dir(tmp_path / "real", {"roomA_00": SCENES["roomA_00"]}, queries)
    d = R.evaluate_real(load_reasoner("symbolic"), R.load_real(root, "dev")).to_dict()
    assert d["overall"]["accuracy"] == 1.0 and d["overall"]["statuses"]["ok"] == 2


# ---------------------------------------------------------------------- bench
def test_bench_skips_without_data(tmp_path, monkeypatch):
    import benchmarks.bench_real as bench
    from benchmarks import run as harness

    monkeypatch.setenv("APEIRIA_REAL_DATA", str(tmp_path / "nowhere"))
    res = bench.run(quick=True)
    assert list(res) == ["skipped"] and str(tmp_path / "nowhere") in res["skipped"]
    harness._check_json(res)
    md = harness.render_markdown({"benches": {"real": {"status": "ok", "result": res, "machine": {}}}})
    assert "Skipped: real data not found at" in md and "FAILED" not in md


def test_bench_on_the_fixture(real_dir, monkeypatch):
    import benchmarks.bench_real as bench

    class Symbolic(Scripted):
        def warm_up(self):
            pass
    monkeypatch.setenv("APEIRIA_REAL_DATA", str(real_dir))
    monkeypatch.setattr("apeiria_model.reasoning.symbolic.SymbolicReasoner", Symbolic)
    res = bench.run(quick=True)
    assert res["part"] == "dev" and res["per_dataset_cap"] == 100 and res["n_queries"] == 5
    assert res["answer_mode"] == "single"  # ReferIt3D scoring: one object per expression
    assert res["overall"]["accuracy"] == 0.4 and set(res["by_dataset"]) == {"scanrefer", "nr3d", "sr3d"}


def test_real_data_reasoners_answer_single_objects():
    """ReferIt3D / ScanRefer scoring: the symbolic parse answers in 'single' mode, the
    hybrid's symbolic part too."""
    from apeiria_model.cli.eval import real_data_reasoner
    assert real_data_reasoner("symbolic").answer_mode == "single"
    assert real_data_reasoner("hybrid").symbolic.answer_mode == "single"
