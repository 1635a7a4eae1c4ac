"""SymbolicReasoner end to end on the office scene, its error handling (never raises),
and the load_reasoner factory."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from apeiria_model.language.open_vocab import SynonymConceptMatcher
from apeiria_model.programs.trace import parse_trace, verify_trace
from apeiria_model.reasoning import Reasoner, ReasonerUnavailableError, SymbolicReasoner, load_reasoner
from apeiria_model.reasoning.base import MAX_INSTRUCTION_CHARS
from apeiria_model.scene import Scene, SceneObject


@pytest.fixture(scope="module")
def reasoner():
    return SymbolicReasoner()  # embedding matcher (falls back to lexical without the model)


@pytest.fixture(scope="module")
def lexical():
    return SymbolicReasoner(matcher=SynonymConceptMatcher())


def test_is_a_reasoner(reasoner):
    assert isinstance(reasoner, Reasoner)
    assert reasoner.name == "symbolic"


@pytest.mark.parametrize("instruction,ids", [
    ("the mug on the desk closest to the window", [2]),
    ("the mug closest to the window", [2]),
    ("the red mug", [1]),
    ("the cup on the desk that is farthest from the window", [1]),
    ("the blue chair", [5]),
    ("the leftmost chair", [4]),
    ("the chair on the right", [5]),
    ("the desk with the lamp on it", [0]),
    ("all the mugs on the desk", [1, 2]),
    ("the chair in front of the desk", [4, 5]),   # chair 5 is inside the 60-degree front cone
    ("the chair closest to the desk", [4]),
    ("the chair farthest from the desk", [5]),
    ("the lamp on the desk", [3]),
    ("the chair not next to the desk", [5]),
    ("the chair that is next to the desk", [4]),
    ("find the chiar nxet to the dsek", [4]),
])
def test_grounds_office_instructions(reasoner, office_scene, instruction, ids):
    res = reasoner.ground(instruction, office_scene)
    assert res.status == "ok", res.message
    assert res.target_ids == ids
    assert res.verified is True
    assert all(s.verified for s in res.steps)
    assert res.latency_ms > 0


def test_result_contract_and_trace(reasoner, office_scene):
    res = reasoner.ground("the mug on the desk closest to the window", office_scene)
    d = res.to_dict()
    assert list(d) == ["instruction", "status", "targets", "answer", "program", "trace", "steps", "verified",
                       "failed_check", "reasoner", "latency_ms", "message", "ignored"]
    json.dumps(d)
    assert d["program"] == ("relate_anchor(relate(filter(scene(), mug), filter(scene(), desk), on), "
                            "filter(scene(), window), closest)")
    t = d["targets"][0]
    assert t["id"] == 2 and t["label"] == "mug" and t["center"] == [0.45, 1.45, 0.8] and 0 < t["score"] <= 1
    assert [s["op"] for s in d["steps"]] == ["filter", "filter", "relate", "filter", "relate_anchor"]
    assert "Object 2 (mug)" in res.trace and "<answer>" in res.trace
    # the trace it shows verifies independently
    assert verify_trace(parse_trace(res.trace), office_scene).all_ok


def test_count_and_query_answers(reasoner, office_scene):
    res = reasoner.ground("how many chairs are there", office_scene)
    assert res.status == "ok" and res.answer == 2 and res.target_ids == [4, 5]
    res = reasoner.ground("what colour is the lamp", office_scene)
    assert res.status == "ok" and res.answer == "black"
    res = reasoner.ground("what color is the window", office_scene)  # the window has no colour
    assert res.status == "no_match" and res.answer is None and "color" in res.message


def test_no_match_says_what_was_missing(reasoner, office_scene):
    res = reasoner.ground("the sofa", office_scene)
    assert res.status == "no_match" and res.targets == [] and "sofa" in res.message
    assert res.trace  # a no-match still shows its reasoning
    res = reasoner.ground("the mug under the chair", office_scene)
    assert res.status == "no_match"


def test_ambiguous_singular_reference_is_flagged(lexical, office_scene):
    res = lexical.ground("the mug", office_scene)
    assert res.target_ids == [1, 2] and "2 objects match" in res.message
    assert "match" not in lexical.ground("all the mugs", office_scene).message


@pytest.mark.parametrize("instruction,status,text", [
    ("", "error", "empty"),
    ("   ", "error", "empty"),
    ("x" * (MAX_INSTRUCTION_CHARS + 1), "error", "too long"),
    ("the chair \ud800", "error", "UTF-8"),
    # what the grammar cannot parse still names a class: a best guess, a low score, the reason
    ("the chair near", "ok", "no object after it"),
    ("why is the chair here", "ok", "not supported"),
    ("the zebra near", "unparsed", "no object after it"),   # nothing in the scene is named
])
def test_bad_instructions_come_back_with_a_reason(lexical, office_scene, instruction, status, text):
    res = lexical.ground(instruction, office_scene)
    assert res.status == status
    assert text in res.message
    if status == "ok":
        assert "best guess" in res.message and len(res.targets) == 1 and res.targets[0].label == "chair"
        assert res.targets[0].score <= 0.5 and res.verified is True
    json.dumps(res.to_dict())


def test_bad_scenes_never_raise(lexical, office_scene):
    assert lexical.ground("the chair", None).status == "error"  # type: ignore[arg-type]
    assert "Scene" in lexical.ground("the chair", {"objects": []}).message  # type: ignore[arg-type]
    assert lexical.ground("the chair", Scene("empty", ())).status == "no_match"
    assert lexical.ground(123, office_scene).status == "error"  # type: ignore[arg-type]


def test_internal_failure_becomes_an_error_result(office_scene):
    class Broken:
        threshold = 0.5

        def scores(self, concept, objects):
            raise RuntimeError("boom")

    res = SymbolicReasoner(matcher=Broken()).ground("the chair", office_scene)
    assert res.status == "error" and "boom" in res.message


def test_typo_corrections_are_reported(lexical, office_scene):
    res = lexical.ground("the chiar", office_scene)
    assert res.status == "ok" and "'chiar' -> 'chair'" in res.message


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=80))
def test_fuzz_never_raises(text):
    scene = Scene("s", (SceneObject(0, "chair", (0, 0, 0.4), (0.5, 0.5, 0.8)),
                        SceneObject(1, "table", (1, 0, 0.4), (1, 1, 0.8))))
    res = SymbolicReasoner(matcher=SynonymConceptMatcher()).ground(text, scene)
    assert res.status in ("ok", "no_match", "unparsed", "error")
    json.dumps(res.to_dict())


def test_load_reasoner():
    assert isinstance(load_reasoner("symbolic", matcher=SynonymConceptMatcher()), SymbolicReasoner)
    with pytest.raises(ReasonerUnavailableError, match="unknown reasoner"):
        load_reasoner("magic")


def test_load_reasoner_missing_module_is_a_clear_error(monkeypatch):
    import importlib

    real = importlib.import_module

    def fake(name, *a, **k):
        if name == "apeiria_model.reasoning.neural":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ReasonerUnavailableError, match="neural reasoner is not available"):
        load_reasoner("neural")


@pytest.mark.parametrize("text", [
    "the chair " + " ".join(["near the table"] * 120),
    "the chair near the table " + " ".join(["that is near the table"] * 60),
    "the chair " + "and " * 450,  # under the character cap, over the word cap
    "(" * 1500,
])
def test_long_and_deep_instructions_are_answered(lexical, text):
    scene = Scene("s", (SceneObject(0, "chair", (0, 0, 0.4), (0.5, 0.5, 0.8)),
                        SceneObject(1, "table", (1, 0, 0.4), (1, 1, 0.8))))
    res = lexical.ground(text, scene)
    assert res.status in ("ok", "no_match", "unparsed")
    json.dumps(res.to_dict())
