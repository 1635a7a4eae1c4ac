"""The hand-written human-phrasing evaluation set (apeiria_model/assets/eval/).

These tests check that the files are well formed and self-consistent (gold ids exist,
QA answers agree with their target objects, every sample has a justification note,
the target-kind balance holds) and that the symbolic reasoner runs over the whole set.
They never assert an accuracy: the set is a measurement (docs/human-eval.md).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest

from apeiria_model.data.loaders import load_samples_jsonl, load_scenes, sample_from_record
from apeiria_model.evaluation import evaluate
from apeiria_model.evaluation.metrics import is_view_dependent
from apeiria_model.reasoning.result import STATUS_ERROR, STATUSES

EVAL_DIR = Path(__file__).resolve().parents[1] / "apeiria_model" / "assets" / "eval"
QUERIES = EVAL_DIR / "human_queries.jsonl"
NOTES = EVAL_DIR / "human_queries_notes.jsonl"
SCENES = EVAL_DIR / "scenes"

QA_PREFIXES = ("how many", "what colour", "what color")


@pytest.fixture(scope="module")
def samples():
    return load_samples_jsonl(QUERIES)


@pytest.fixture(scope="module")
def records():
    return [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def scenes():
    return load_scenes(SCENES)


@pytest.fixture(scope="module")
def notes():
    return [json.loads(line) for line in NOTES.read_text(encoding="utf-8").splitlines() if line.strip()]


def kind_of(sample) -> str:
    """QA when the sample has a gold answer, else its grounding target kind."""
    return "qa" if sample.answer is not None else sample.target_kind


def problems(samples, scenes, notes) -> list[str]:
    """Every inconsistency in the set, as readable lines (empty = valid)."""
    out = []
    ids = Counter(s.sample_id for s in samples)
    out += [f"duplicate sample_id {sid}" for sid, n in ids.items() if n > 1]
    pairs = Counter((s.scene_id, s.instruction.strip().lower()) for s in samples)
    out += [f"duplicate instruction {p}" for p, n in pairs.items() if n > 1]
    note_ids = Counter(n.get("sample_id") for n in notes)
    out += [f"{sid}: no note" for sid in ids if note_ids[sid] == 0]
    out += [f"note for unknown sample {sid}" for sid in note_ids if sid not in ids]
    out += [f"{n.get('sample_id')}: empty note" for n in notes if not str(n.get("note", "")).strip()]
    for s in samples:
        scene = scenes.get(s.scene_id)
        if scene is None:
            out.append(f"{s.sample_id}: scene {s.scene_id} missing")
            continue
        out += [f"{s.sample_id}: target {t} not in {s.scene_id}" for t in s.target_ids if not scene.has(t)]
        if len(set(s.target_ids)) != len(s.target_ids):
            out.append(f"{s.sample_id}: repeated target id")
        if (s.phrasing, s.source, s.split, s.program) != ("human", "apeiria-human", "test", None):
            out.append(f"{s.sample_id}: phrasing/source/split/program must be human/apeiria-human/test/null")
        if s.view_dependent != is_view_dependent(s.instruction):
            out.append(f"{s.sample_id}: view_dependent disagrees with the ReferIt3D word rule")
        is_question = s.instruction.lower().startswith(QA_PREFIXES)
        if is_question != (s.answer is not None):
            out.append(f"{s.sample_id}: a question needs an answer and only a question has one")
        if s.answer is not None:
            if not s.target_ids:
                out.append(f"{s.sample_id}: QA sample names no objects concerned")
            elif s.instruction.lower().startswith("how many"):
                if not isinstance(s.answer, int) or isinstance(s.answer, bool) or s.answer != len(s.target_ids):
                    out.append(f"{s.sample_id}: count answer {s.answer!r} != {len(s.target_ids)} objects concerned")
            else:
                colours = {scene.get(t).color for t in s.target_ids if scene.has(t)}
                if colours != {s.answer}:
                    out.append(f"{s.sample_id}: colour answer {s.answer!r} but the objects are {colours}")
        if len(s.target_ids) == 1 and scene.has(s.target_ids[0]):
            label = scene.get(s.target_ids[0]).label
            same = sorted(o.id for o in scene if o.label == label and o.id != s.target_ids[0])
            if s.unique is not (not same) or sorted(s.distractor_ids) != same:
                out.append(f"{s.sample_id}: unique/distractor_ids disagree with the scene")
    return out


# ----------------------------------------------------------------------- files
def test_files_load_and_validate(samples, records, scenes, notes):
    assert len(samples) == len(records) >= 120
    for i, rec in enumerate(records):  # the loader's strict validator accepts every record
        sample_from_record(rec, QUERIES, i + 1)
    assert problems(samples, scenes, notes) == []


def test_scene_files_are_named_by_scene_id(scenes):
    assert sorted(scenes) == sorted(p.stem for p in SCENES.glob("*.json"))
    assert len(scenes) == 5


def test_every_scene_has_at_least_20_samples(samples, scenes):
    per_scene = Counter(s.scene_id for s in samples)
    assert set(per_scene) == set(scenes)
    assert min(per_scene.values()) >= 20


def test_balance_of_target_kinds(samples):
    shares = {k: n / len(samples) for k, n in Counter(kind_of(s) for s in samples).items()}
    assert 0.40 <= shares["single"] <= 0.60
    assert 0.15 <= shares["multi"] <= 0.30
    assert 0.10 <= shares["zero"] <= 0.25
    assert 0.10 <= shares["qa"] <= 0.25


def test_records_carry_the_schema_target_kind(records):
    for rec in records:
        n = len(rec["target_ids"])
        assert rec["target_kind"] == ("zero" if n == 0 else "single" if n == 1 else "multi")


# --------------------------------------------------- the validator catches breakage
def _break(samples, field, value, index=0):
    out = copy.deepcopy(samples)
    setattr(out[index], field, value)
    return out


@pytest.mark.parametrize("field, value, expected", [
    ("target_ids", [9999], "not in"),
    ("sample_id", "human-office-002", "duplicate sample_id"),
    ("scene_id", "no_such_scene", "missing"),
    ("phrasing", "train", "phrasing/source"),
    ("answer", 7, "a question needs an answer"),
])
def test_problems_reports_broken_samples(samples, scenes, notes, field, value, expected):
    found = problems(_break(samples, field, value), scenes, notes)
    assert any(expected in p for p in found), found


def test_problems_reports_wrong_qa_answers_and_missing_notes(samples, scenes, notes):
    qa = [i for i, s in enumerate(samples) if s.answer is not None]
    count_i = next(i for i in qa if samples[i].instruction.lower().startswith("how many"))
    colour_i = next(i for i in qa if not samples[i].instruction.lower().startswith("how many"))
    assert any("count answer" in p for p in problems(_break(samples, "answer", 99, count_i), scenes, notes))
    assert any("colour answer" in p for p in problems(_break(samples, "answer", "purple", colour_i), scenes, notes))
    assert any("no note" in p for p in problems(samples, scenes, notes[1:]))


# ------------------------------------------------------------- reasoner runs
def _check_run(reasoner, samples, scenes):
    report = evaluate(reasoner, samples, scenes, progress=False, warmup=0)
    assert len(report.records) == len(samples) and not report.skipped
    statuses = Counter(r.status for r in report.records)
    assert set(statuses) <= set(STATUSES)
    assert statuses[STATUS_ERROR] == 0, [r.message for r in report.records if r.status == STATUS_ERROR]
    d = report.to_dict()
    assert d["n_samples"] == len(samples) and d["qa"]["n"] == sum(s.answer is not None for s in samples)
    return d


def test_symbolic_reasoner_with_lexical_matcher_runs_over_the_set(samples, scenes):
    from apeiria_model.programs import LexicalConceptMatcher
    from apeiria_model.reasoning.symbolic import SymbolicReasoner

    _check_run(SymbolicReasoner(matcher=LexicalConceptMatcher()), samples, scenes)


@pytest.mark.slow
def test_default_symbolic_reasoner_runs_over_the_set(samples, scenes):
    """The configuration docs/human-eval.md reports (open-vocabulary embedding matcher)."""
    from apeiria_model.reasoning import load_reasoner

    _check_run(load_reasoner("symbolic"), samples, scenes)


def test_doc_pictures_exist_and_are_small():
    docs = Path(__file__).resolve().parents[1] / "docs"
    text = (docs / "human-eval.md").read_text(encoding="utf-8")
    pictures = sorted((docs / "images").glob("human_eval_*.png"))
    assert len(pictures) == 5
    for p in pictures:
        assert f"images/{p.name}" in text and 0 < p.stat().st_size < 300_000
