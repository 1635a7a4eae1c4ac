"""The evaluation runner and `apeiria eval`, with small deterministic fake reasoners
(so these tests depend on no other module's progress)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apeiria_model.cli import eval as eval_cli
from apeiria_model.cli.main import main as apeiria_main
from apeiria_model.data import loaders as L
from apeiria_model.data.schema import GroundingSample
from apeiria_model.evaluation import EvaluationError, evaluate, print_report
from apeiria_model.reasoning.result import GroundingResult, StepReport, Target

FIX = Path(__file__).parent / "fixtures" / "external"

REPORT_KEYS = [
    "reasoner", "dataset", "iou_thresholds", "warmup_calls", "n_samples", "sources", "status_counts", "latency_ms", "accuracy",
    "scanrefer", "multi3drefer", "referit3d", "by_depth", "by_depth_exact", "by_phrasing", "by_target_kind",
    "by_source", "trace", "qa", "n_skipped", "skipped",
]


class ScriptedReasoner:
    """Answers each instruction from a script: (ids, answer, steps' verified flags, box shift)."""

    name = "scripted"

    def __init__(self, script):
        self.script = script

    def ground(self, instruction, scene):
        ids, answer, flags, shift = self.script[instruction]
        targets = []
        for i in ids:
            t = Target.from_object(scene.get(i))
            t.center = [t.center[0] + shift, t.center[1], t.center[2]]
            targets.append(t)
        steps = [StepReport(k, "filter", "plan", "exec", verified=v) for k, v in enumerate(flags)]
        verified, failed = VERIFIED.get(instruction, (None, ""))
        return GroundingResult(instruction, "ok" if ids or answer is not None else "no_match", self.name,
                               targets, answer=answer, steps=steps, verified=verified, failed_check=failed)


# the results' own flags: a right answer vouched for, a wrong one vouched for (counted as
# verified_wrong), one refused by the answer check
VERIFIED = {"red mug": (True, ""), "white mug": (True, ""), "how many mugs": (True, ""),
            "the lamp": (False, "answer_kind")}


class Oracle:
    name = "oracle"

    def __init__(self, samples):
        self.gold = {(s.scene_id, s.instruction): s for s in samples}

    def ground(self, instruction, scene):
        s = self.gold[(scene.scene_id, instruction)]
        return GroundingResult(instruction, "ok" if s.target_ids else "no_match", self.name,
                               [Target.from_object(scene.get(i)) for i in s.target_ids], answer=s.answer)


class LabelMatcher:
    """Every object whose label occurs in the instruction (a crude but real reasoner)."""

    name = "label-matcher"

    def ground(self, instruction, scene):
        text = instruction.lower().replace("_", " ")
        hits = [o for o in scene if o.label in text]
        longest = max((len(o.label) for o in hits), default=0)
        hits = [o for o in hits if len(o.label) == longest]
        return GroundingResult(instruction, "ok" if hits else "no_match", self.name, [Target.from_object(o) for o in hits])


def _sample(sid, text, gold, depth, answer=None):
    return GroundingSample(sid, "office_test", text, gold, depth=depth, answer=answer)


@pytest.fixture
def hand_case(office_scene):
    samples = [
        _sample("s1", "red mug", [1], 2),
        _sample("s2", "white mug", [2], 2),
        _sample("s3", "the lamp", [3], 1),
        _sample("s4", "the chairs", [4, 5], 1),
        _sample("s5", "the sofa", [], 5),
        _sample("s6", "the bed", [], 6),
        _sample("s7", "how many mugs", [1, 2], 2, answer=2),
    ]
    script = {
        "red mug": ([1], None, [True, True], 0.0),        # right
        "white mug": ([1], None, [True, False], 0.0),     # wrong mug, boxes disjoint
        "the lamp": ([3], None, [True, None], 0.1),       # right id, box shifted: IoU 1/3
        "the chairs": ([4], None, [], 0.0),               # one of two: F1 = 2/3
        "the sofa": ([], None, [], 0.0),                  # correctly nothing
        "the bed": ([6], None, [], 0.0),                  # predicted on a zero-target query
        "how many mugs": ([], "two", [], 0.0),            # QA, right after normalisation
    }
    return samples, {"office_test": office_scene}, ScriptedReasoner(script)


def test_hand_computed_report(hand_case):
    samples, scenes, reasoner = hand_case
    d = evaluate(reasoner, samples, scenes, progress=False).to_dict()
    assert list(d) == REPORT_KEYS
    assert d["n_samples"] == 7
    assert d["status_counts"] == {"ok": 6, "no_match": 1, "unparsed": 0, "error": 0}
    assert d["accuracy"] == pytest.approx(round(4 / 7, 4))
    sr = d["scanrefer"]
    assert sr["n"] == {"overall": 3, "unique": 1, "multiple": 2}
    assert sr["acc@0.25"] == {"overall": pytest.approx(0.6667), "unique": 1.0, "multiple": 0.5}
    assert sr["acc@0.5"] == {"overall": pytest.approx(0.3333), "unique": 0.0, "multiple": 0.5}
    m3 = d["multi3drefer"]
    assert m3["n"]["overall"] == 6 and m3["n"]["zero"] == 2 and m3["n"]["multi"] == 1
    assert m3["f1@0.25"]["overall"] == pytest.approx(round((1 + 0 + 1 + 2 / 3 + 1 + 0) / 6, 4))
    assert m3["f1@0.5"]["overall"] == pytest.approx(round((1 + 0 + 0 + 2 / 3 + 1 + 0) / 6, 4))
    assert m3["f1@0.25"]["zero"] == 0.5 and m3["f1@0.25"]["multi"] == pytest.approx(0.6667)
    assert m3["f1@0.25"]["st_w_d"] == 0.5 and m3["f1@0.25"]["st_wo_d"] == 1.0   # mugs vs the lamp
    ri = d["referit3d"]
    assert ri["accuracy"]["overall"] == pytest.approx(0.6667) and ri["n"]["hard"] == 0
    assert d["by_depth"]["<=4"] == {"n": 5, "accuracy": 0.6, "acc@0.25": pytest.approx(0.6667),
                                    "acc@0.5": pytest.approx(0.3333), "f1@0.25": pytest.approx(0.6667),
                                    "f1@0.5": pytest.approx(round((1 + 0 + 0 + 2 / 3) / 4, 4))}
    assert d["by_depth"]["5"]["accuracy"] == 1.0 and d["by_depth"][">=6"]["accuracy"] == 0.0
    assert sorted(d["by_depth_exact"], key=int) == ["1", "2", "5", "6"]
    assert d["trace"] == {"n_traces": 3, "n_steps": 6, "n_steps_unchecked": 1,
                          "step_accuracy": pytest.approx(0.6667), "fully_verified": pytest.approx(0.3333),
                          "verified": 0.75, "verified_wrong": 1, "verified_wrong_qa": 0,
                          "failed_checks": {"answer_kind": 1}}
    assert d["qa"] == {"n": 1, "exact_match": 1.0}
    assert d["by_target_kind"]["zero"]["accuracy"] == 0.5
    lat = d["latency_ms"]
    assert 0 <= lat["p50"] <= lat["p95"] <= lat["max"]
    json.dumps(d, allow_nan=False)


def test_queries_are_dumped_on_request(hand_case):
    samples, scenes, reasoner = hand_case
    d = evaluate(reasoner, samples, scenes, progress=False).to_dict(include_queries=True)
    q = {r["sample_id"]: r for r in d["queries"]}
    assert q["s3"]["top_iou"] == pytest.approx(0.3333) and q["s3"]["referit_correct"] is True
    assert q["s4"]["f1"] == {"0.25": pytest.approx(0.6667), "0.5": pytest.approx(0.6667)}
    assert q["s7"]["is_qa"] is True and q["s7"]["exact"] is True
    assert q["s1"]["unique"] is False and q["s1"]["hard"] is False   # filled in from the scene


def test_oracle_scores_perfectly_on_every_external_format():
    cmap = L.load_category_map(FIX / "scannetv2-labels.combined.tsv")
    samples = (L.load_scanrefer(FIX / "scanrefer.json", cmap) + L.load_multi3drefer(FIX / "multi3drefer.json")
               + L.load_referit3d(FIX / "sr3d_test.csv") + L.load_referit3d(FIX / "nr3d_test.csv"))
    d = evaluate(Oracle(samples), samples, L.load_scenes(FIX / "scenes"), progress=False).to_dict()
    assert d["n_samples"] == 38 and d["sources"] == {"multi3drefer": 10, "nr3d": 6, "scanrefer": 12, "sr3d": 10}
    assert d["accuracy"] == 1.0
    for g, n in d["multi3drefer"]["n"].items():
        assert n == 0 or d["multi3drefer"]["f1@0.5"][g] == 1.0
    assert d["multi3drefer"]["n"]["zt_w_d"] == 1 and d["multi3drefer"]["n"]["zt_wo_d"] == 2
    assert d["scanrefer"]["acc@0.5"]["overall"] == 1.0 and d["referit3d"]["accuracy"]["overall"] == 1.0


def test_label_matcher_on_generated_data_is_between_chance_and_perfect():
    samples, scenes = L.load_generated(FIX / "generated", "test")
    d = evaluate(LabelMatcher(), samples, scenes, progress=False).to_dict()
    # It finds "the sofa" / "the chairs" / "the office chair" / "the bookshelf" (nothing) but
    # cannot resolve relations or answer questions.
    assert 0.0 < d["accuracy"] < 1.0
    assert d["qa"]["exact_match"] == 0.0
    assert set(d["by_depth"]) == {"<=4", "5", ">=6"}
    assert set(d["by_phrasing"]) == {"train", "heldout", "human"}


def test_reasoner_that_raises_is_recorded_not_fatal(hand_case):
    samples, scenes, _ = hand_case

    class Flaky:
        name = "flaky"

        def ground(self, instruction, scene):
            if instruction == "the lamp":
                raise RuntimeError("boom")
            if instruction == "the sofa":
                return {"not": "a result"}
            return GroundingResult(instruction, "no_match", self.name)

    report = evaluate(Flaky(), samples, scenes, progress=False)
    d = report.to_dict(include_queries=True)
    assert d["status_counts"]["error"] == 2 and d["n_samples"] == 7
    msgs = {q["sample_id"]: q["message"] for q in d["queries"]}
    assert "RuntimeError: boom" in msgs["s3"] and "not GroundingResult" in msgs["s5"]


def test_malformed_predicted_box_is_scored_wrong(hand_case):
    samples, scenes, _ = hand_case

    class NaNBox:
        name = "nan"

        def ground(self, instruction, scene):
            return GroundingResult(instruction, "ok", self.name, [Target(1, "mug", [float("nan"), 0, 0], [1, 1, 1])])

    d = evaluate(NaNBox(), samples[:1], scenes, progress=False).to_dict(include_queries=True)
    q = d["queries"][0]
    assert q["f1"] == {"0.25": 0.0, "0.5": 0.0} and "unusable predicted box" in q["message"]
    assert d["scanrefer"]["acc@0.25"]["overall"] == 0.0


def test_missing_scene_or_id_errors_or_skips(hand_case, office_scene):
    samples, scenes, reasoner = hand_case
    bad = samples + [GroundingSample("x1", "nowhere", "red mug", [1]), GroundingSample("x2", "office_test", "red mug", [99])]
    with pytest.raises(EvaluationError, match=r"sample x1: scene 'nowhere' not found \(and 1 more\)"):
        evaluate(reasoner, bad, scenes, progress=False)
    d = evaluate(reasoner, bad, scenes, progress=False, on_missing="skip").to_dict()
    assert d["n_samples"] == 7 and d["n_skipped"] == 2
    assert "x2: target id(s) [99] not in scene 'office_test'" in d["skipped"]


def test_empty_run_reports_nulls_not_zeros(office_scene):
    d = evaluate(Oracle([]), [], {"office_test": office_scene}, progress=False).to_dict()
    assert d["n_samples"] == 0 and d["accuracy"] is None
    assert d["scanrefer"]["acc@0.25"]["overall"] is None and d["latency_ms"]["p50"] is None
    print_report(d)  # must not crash on an empty report


def test_print_report_renders_sections(hand_case, capsys):
    samples, scenes, reasoner = hand_case
    print_report(evaluate(reasoner, samples, scenes, progress=False).to_dict())
    out = capsys.readouterr().out
    for title in ("ScanRefer", "Multi3DRefer", "ReferIt3D", "By program depth", "QA exact match"):
        assert title in out


# ----------------------------------------------------------------------- CLI
@pytest.fixture
def fake_reasoner(monkeypatch):
    monkeypatch.setattr(eval_cli, "load_reasoner", lambda name: LabelMatcher())


def test_cli_generated_data_writes_json(fake_reasoner, tmp_path, capsys):
    out = tmp_path / "res" / "results.json"
    rc = apeiria_main(["eval", "--data", str(FIX / "generated"), "--limit", "4", "--out", str(out), "--no-progress"])
    assert rc == 0
    d = json.loads(out.read_text())
    assert list(d) == REPORT_KEYS and d["n_samples"] == 4 and d["reasoner"] == "label-matcher"
    assert "Multi3DRefer" in capsys.readouterr().out


@pytest.mark.parametrize("flag,file", [("--scanrefer", "scanrefer.json"), ("--multi3drefer", "multi3drefer.json"),
                                       ("--referit3d", "sr3d_test.csv"), ("--referit3d", "nr3d_test.csv")])
def test_cli_external_formats(fake_reasoner, capsys, flag, file):
    rc = apeiria_main(["eval", flag, str(FIX / file), "--scenes", str(FIX / "scenes.jsonl"), "--json",
                       "--category-map", str(FIX / "scannetv2-labels.combined.tsv"), "--queries", "--no-progress"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["n_samples"] == len(d["queries"]) > 0


@pytest.mark.parametrize("args,match", [
    (["--scanrefer", str(FIX / "scanrefer.json")], "--scenes is required"),
    (["--scanrefer", str(FIX / "sr3d_test.csv"), "--scenes", str(FIX / "scenes")], r"sr3d_test.csv:1: not valid JSON"),
    (["--referit3d", str(FIX / "missing.csv"), "--scenes", str(FIX / "scenes")], "missing.csv: no such file"),
    (["--data", str(FIX / "generated"), "--split", "train"], r"train.jsonl: no such file \(splits here: test\)"),
    (["--data", str(FIX / "generated"), "--limit", "0"], "--limit must be >= 1"),
    (["--scanrefer", str(FIX / "scanrefer.json"), "--scenes", str(FIX / "generated" / "scenes" / "test.jsonl")],
     r"scene 'scene0001_00' not found .*--skip-missing"),
])
def test_cli_errors_are_one_line(fake_reasoner, capsys, args, match):
    with pytest.raises(SystemExit) as e:
        apeiria_main(["eval", *args, "--no-progress"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("apeiria: error:") and "\n" not in err and "Traceback" not in err
    import re
    assert re.search(match, err)


def test_cli_skip_missing(fake_reasoner, capsys):
    rc = apeiria_main(["eval", "--scanrefer", str(FIX / "scanrefer.json"), "--skip-missing", "--json", "--no-progress",
                       "--scenes", str(FIX / "generated" / "scenes" / "test.jsonl")])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["n_skipped"] == 3 and d["n_samples"] == 9


def test_cli_reports_unloadable_reasoner(monkeypatch, capsys):
    def broken(name):
        raise FileNotFoundError("no checkpoint at runs/neural/model.safetensors")
    monkeypatch.setattr(eval_cli, "load_reasoner", broken)
    with pytest.raises(SystemExit):
        apeiria_main(["eval", "--data", str(FIX / "generated"), "--reasoner", "neural", "--no-progress"])
    assert "cannot load reasoner 'neural': no checkpoint" in capsys.readouterr().err


@pytest.mark.slow  # loads the language module's embedding model (seconds)
def test_cli_with_the_real_symbolic_reasoner(capsys):
    rc = apeiria_main(["eval", "--data", str(FIX / "generated"), "--reasoner", "symbolic", "--json", "--no-progress"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["n_samples"] == 10 and d["reasoner"] == "symbolic"


# ------------------------------------------------------------------- fuzzing
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

junk_numbers = st.one_of(st.floats(), st.integers(-3, 3), st.none(), st.text(max_size=2))
junk_targets = st.lists(st.builds(
    Target, id=st.integers(-2, 12), label=st.text(max_size=5),
    center=st.lists(junk_numbers, min_size=0, max_size=4), size=st.lists(junk_numbers, min_size=0, max_size=4)),
    max_size=4)


@settings(max_examples=60, deadline=None)
@given(outputs=st.lists(st.tuples(junk_targets, st.sampled_from(["ok", "no_match", "unparsed", "error"]),
                                  st.one_of(st.none(), st.integers(0, 3), st.text(max_size=4))), min_size=7, max_size=7))
def test_fuzz_reasoner_outputs_never_break_scoring(outputs):
    from apeiria_model.scene import Scene, SceneObject
    scene = Scene("office_test", tuple(SceneObject(i, l, (i * 1.0, 0.0, 0.5), (0.5, 0.5, 1.0)) for i, l in
                                       enumerate(["desk", "mug", "mug", "lamp", "chair", "chair", "window"])))
    samples = [_sample(f"s{i}", f"q{i}", gold, 1 + i, answer=2 if i == 6 else None)
               for i, gold in enumerate([[1], [2], [3], [4, 5], [], [], [1, 2]])]

    class Junk:
        name = "junk"

        def ground(self, instruction, scene):
            targets, status, answer = outputs[int(instruction[1:])]
            return GroundingResult(instruction, status, self.name, targets, answer=answer)

    d = evaluate(Junk(), samples, {"office_test": scene}, progress=False, warmup=0).to_dict()
    json.dumps(d, allow_nan=False)
    assert d["n_samples"] == 7
    for section, key in (("scanrefer", "acc@0.25"), ("multi3drefer", "f1@0.5"), ("referit3d", "accuracy")):
        for v in d[section][key].values():
            assert v is None or 0.0 <= v <= 1.0


def test_odd_answers_stay_valid_json(office_scene):
    import numpy as np
    samples = [_sample("q1", "count a", [], 1, answer=2), _sample("q2", "count b", [], 1, answer=3),
               _sample("q3", "count c", [], 1, answer=1)]
    answers = {"count a": np.int64(2), "count b": float("nan"), "count c": object()}

    class Odd:
        name = "odd"

        def ground(self, instruction, scene):
            return GroundingResult(instruction, "ok", self.name, answer=answers[instruction])

    d = evaluate(Odd(), samples, {"office_test": office_scene}, progress=False).to_dict(include_queries=True)
    json.dumps(d, allow_nan=False)
    assert [q["exact"] for q in d["queries"]] == [True, False, False]


def test_depth_comes_from_the_gold_program_when_not_given(office_scene):
    pytest.importorskip("apeiria_model.programs.grammar")
    samples = [GroundingSample("p1", "office_test", "red mug", [1], program="filter(filter(scene(), mug), red)"),
               GroundingSample("p2", "office_test", "white mug", [2], program="filter(scene(")]  # unparsable: unknown
    script = {"red mug": ([1], None, [], 0.0), "white mug": ([2], None, [], 0.0)}
    d = evaluate(ScriptedReasoner(script), samples, {"office_test": office_scene}, progress=False).to_dict()
    assert list(d["by_depth_exact"]) == ["2"] and d["by_depth"]["<=4"]["n"] == 1


def test_cli_relabel_uses_category_classes(fake_reasoner, capsys):
    # "the chair at the desk" (target: an office chair): with nyu40 labels the label matcher finds chairs
    args = ["eval", "--scanrefer", str(FIX / "scanrefer.json"), "--scenes", str(FIX / "scenes"), "--json", "--queries",
            "--no-progress", "--category-map", str(FIX / "scannetv2-labels.combined.tsv")]
    assert apeiria_main(args) == 0
    raw = {q["sample_id"]: q for q in json.loads(capsys.readouterr().out)["queries"]}
    assert apeiria_main(args + ["--relabel", "nyu40"]) == 0
    nyu = {q["sample_id"]: q for q in json.loads(capsys.readouterr().out)["queries"]}
    assert raw["scene0002_00:6:0"]["pred_ids"] == [5]          # only "desk" occurs as a raw label
    assert nyu["scene0002_00:6:0"]["pred_ids"] == [6]          # "chair" now matches the office chair
    with pytest.raises(SystemExit):
        apeiria_main(["eval", "--data", str(FIX / "generated"), "--relabel", "nyu40"])
    assert "--relabel needs --category-map" in capsys.readouterr().err


def test_malformed_result_fields_are_scored_as_errors(hand_case):
    samples, scenes, _ = hand_case

    class Broken:
        name = "broken"

        def ground(self, instruction, scene):
            r = GroundingResult(instruction, "ok", self.name, [Target.from_object(scene.get(1))])
            if instruction == "red mug":
                r.targets[0].id = "one"
            elif instruction == "white mug":
                r.targets = None
            return r

    d = evaluate(Broken(), samples[:3], scenes, progress=False).to_dict(include_queries=True)
    assert d["status_counts"]["error"] == 2
    assert all("malformed result" in q["message"] for q in d["queries"][:2])


def test_cli_samples_jsonl_reads_the_human_set(fake_reasoner, capsys):
    assets = Path(__file__).resolve().parents[1] / "apeiria_model" / "assets" / "eval"
    rc = apeiria_main(["eval", "--samples", str(assets / "human_queries.jsonl"), "--scenes", str(assets / "scenes"),
                       "--json", "--limit", "10", "--no-progress"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["n_samples"] == 10 and d["by_phrasing"]["human"]["n"] == 10
