"""trace_diagnosis: plan vs ID-set error split on hand-written traces (hand-counted)."""

from __future__ import annotations

from apeiria_model.model.trace_format import read_output
from apeiria_model.training.trace_diagnosis import diagnose_outputs

GOLD = "relate(filter(scene(), mug), filter(scene(), desk), on)"


def _trace(plan: list[str], steps: list[str], ids: str) -> str:
    return ("<think>\nPlan:\n" + "\n".join(f"{i + 1}. {p}" for i, p in enumerate(plan)) + "\nExecution:\n" +
            "\n".join(f"Step {i + 1}: {s}" for i, s in enumerate(steps)) + f"\n</think>\n<answer>\nIDs: {ids}\n</answer>")


def test_error_split(office_scene):
    plan = ["filter(scene, mug)", "filter(scene, desk)", "relate(#1, #2, on)"]
    right = _trace(plan, ["1, 2", "0", "1, 2"], "1, 2")
    wrong_ids = _trace(plan, ["1, 3", "0", "1"], "1")                     # filter step lists the lamp
    wrong_concept = _trace(["filter(scene, lamp)", "filter(scene, desk)", "relate(#1, #2, on)"],
                           ["3", "0", "3"], "3")
    wrong_shape = _trace(["filter(scene, mug)"], ["1, 2"], "1, 2")
    unreadable = "<think>\nno plan\n</think>\n<answer>\nIDs: 1\n</answer>"
    items = [(read_output(t, office_scene), GOLD, [1, 2], None, office_scene)
             for t in (right, wrong_ids, wrong_concept, wrong_shape, unreadable)]
    rep = diagnose_outputs(items)
    assert rep["n"] == 5
    assert rep["plan_exact"] == 2 and rep["plan_exact_answer_right"] == 1
    assert rep["plan_same_ops_wrong_args"] == 1 and rep["concepts_differ"] == 1
    assert rep["plan_wrong_structure"] == 1 and rep["plan_unreadable"] == 1
    assert rep["answer_right"] == 2  # the right trace and the one-filter trace name {1, 2}
    f = rep["steps"]["filter"]
    # filters: right x2, wrong_ids (1 bad, 1 ok), wrong_concept x2 (true for lamp/desk), wrong_shape x1
    assert (f["ok"], f["bad"]) == (6, 1)
    assert rep["steps"]["relate"]["ok"] >= 1


def test_value_answers_and_no_gold(office_scene):
    t = "<think>\nPlan:\n1. filter(scene, mug)\n2. count(#1)\nExecution:\nStep 1: 1, 2\nStep 2: 2\n</think>\n<answer>\n2\n</answer>"
    rep = diagnose_outputs([(read_output(t, office_scene), None, [], 2, office_scene)])
    assert rep["answer_right"] == 1 and "plan_exact" not in rep
    assert rep["steps"]["count"] == {"ok": 1, "bad": 0, "ok_share": 1.0}
