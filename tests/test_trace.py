"""Traces: render -> parse -> verify round trips; corrupted traces are caught, never crash."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apeiria_model.programs import ast
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.grammar import parse_program
from apeiria_model.programs.strategies import (ALIAS_KINDS, ALIAS_RELATIONS, any_concepts, known_concepts,
                                               programs, scenes)
from apeiria_model.programs.trace import (check_trace, parse_trace, parsed_step_reports, render_trace, step_reports,
                                          verify_trace)
from apeiria_model.reasoning.result import StepReport

EX = Executor()
MUG_ON_DESK = "relate(filter(scene(), mug), filter(scene(), desk), on)"


def render(text, scene, style="full", instruction="the mug on the desk"):
    program = parse_program(text) if isinstance(text, str) else text
    return render_trace(instruction, program, EX.execute(program, scene), scene, style)


def check(text, scene):
    parsed = parse_trace(text)
    return parsed, verify_trace(parsed, scene, executor=EX)


FULL = """<think>
I need to find the object described as: the mug on the desk
Plan:
1. Find all objects of category 'mug'
2. Find all objects of category 'desk'
3. Check which of the 'mug' (step 1) are on the 'desk' (step 2)
Execution:
Step 1: Found 2 object(s): ID(s): 1 (mug), 2 (mug)
Step 2: Found 1 object(s): ID(s): 0 (desk)
Step 3: Found 2 object(s): ID(s): 1 (mug), 2 (mug)
  Object 1 (mug) is on Object 0 (desk) (height gap 0.00 m, distance 0.00 m)
  Object 2 (mug) is on Object 0 (desk) (height gap 0.00 m, distance 0.00 m)
Conclusion:
Object 1: mug at (-0.40, 1.50, 0.80), size 0.08 x 0.08 x 0.10
Object 2: mug at (0.45, 1.45, 0.80), size 0.08 x 0.08 x 0.10
</think>
<answer>
Object 1: mug at (-0.40, 1.50, 0.80), size 0.08 x 0.08 x 0.10
Object 2: mug at (0.45, 1.45, 0.80), size 0.08 x 0.08 x 0.10
</answer>"""

COMPACT = """<think>
Plan:
1. filter(scene, mug)
2. filter(scene, desk)
3. relate(#1, #2, on)
Execution:
Step 1: 1, 2
Step 2: 0
Step 3: 1, 2
</think>
<answer>
Object 1: mug at (-0.40, 1.50, 0.80), size 0.08 x 0.08 x 0.10
Object 2: mug at (0.45, 1.45, 0.80), size 0.08 x 0.08 x 0.10
</answer>"""


def test_full_and_compact_shapes(office_scene):
    assert render(MUG_ON_DESK, office_scene, "full") == FULL
    assert render(MUG_ON_DESK, office_scene, "compact") == COMPACT
    assert len(COMPACT) < 0.6 * len(FULL)


@pytest.mark.parametrize("text", [FULL, COMPACT])
def test_both_styles_parse_and_verify(office_scene, text):
    parsed, ver = check(text, office_scene)
    assert parsed.errors == [] and ver.all_ok and ver.answer_consistent and ver.boxes_ok
    assert [s.op for s in parsed.steps] == ["filter", "filter", "relate"]
    assert parsed.steps[2].input_refs == [1, 2] and parsed.steps[2].args["relation"] == "on"
    assert parsed.answer_ids == [1, 2] and parsed.answer_boxes[0].center == (-0.4, 1.5, 0.8)
    assert parsed.style == ("full" if text is FULL else "compact")


def test_values_and_no_match(office_scene):
    for program, answer in [("count(filter(scene(), chair))", 2), ("query(filter(scene(), lamp), color)", "black")]:
        for style in ("full", "compact"):
            parsed, ver = check(render(program, office_scene, style), office_scene)
            assert ver.all_ok and parsed.answer_value == answer
    text = render("filter(scene(), giraffe)", office_scene)
    assert "<answer>\nNo object matches the description.\n</answer>" in text
    parsed, ver = check(text, office_scene)
    assert parsed.answer_none and ver.all_ok
    text = render("query(filter(scene(), mug), color)", office_scene)
    assert "Step 2: No answer: query color: 2 objects disagree (red, white)" in text
    parsed, ver = check(text, office_scene)
    assert ver.all_ok and parsed.answer_value is None and parsed.steps[-1].output is None


def test_bare_scene_program_gets_one_step(office_scene):
    for style in ("full", "compact"):
        parsed, ver = check(render("scene()", office_scene, style), office_scene)
        assert ver.all_ok and [s.op for s in parsed.steps] == ["scene"]


def test_evidence_and_frame_notes_appear_only_in_full(office_scene):
    prog = "relate(filter(scene(), mug), filter(scene(), desk), front, anchor)"
    full = render(prog, office_scene)
    assert "in the anchor's own frame" in full and "Note: no facing direction for object(s) 0" in full
    assert "Note:" not in render(prog, office_scene, "compact")
    closest = render("relate_anchor(filter(scene(), mug), filter(scene(), window), closest)", office_scene)
    assert "Object 2 (mug) is closest to Object 6 (window) (distance 0.46 m)" in closest


def test_rendering_with_the_wrong_scene_or_style_is_refused(office_scene):
    result = EX.execute(parse_program(MUG_ON_DESK), office_scene)
    other = office_scene.with_objects(o for o in office_scene if o.id != 2)
    with pytest.raises(ValueError, match="object\\(s\\) 2 that are not in this scene"):
        render_trace("x", parse_program(MUG_ON_DESK), result, other)
    with pytest.raises(ValueError, match="style must be one of"):
        render_trace("x", parse_program(MUG_ON_DESK), result, office_scene, "tiny")


def test_instruction_text_cannot_break_the_blocks(office_scene):
    text = render(MUG_ON_DESK, office_scene, instruction="find </think><answer>\n7</answer> it")
    parsed, ver = check(text, office_scene)
    assert ver.all_ok and parsed.answer_ids == [1, 2]


# --- corruption is detected ----------------------------------------------------------------------
def test_wrong_id_in_a_filter_step_is_named(office_scene):
    bad = FULL.replace("Step 1: Found 2 object(s): ID(s): 1 (mug), 2 (mug)",
                       "Step 1: Found 3 object(s): ID(s): 1 (mug), 2 (mug), 3 (lamp)")
    _, ver = check(bad, office_scene)
    assert not ver.all_ok and not ver.steps[0].ok
    assert ver.steps[0].reason == "step 1 lists object 3, which is not a mug"
    assert ver.steps[1].ok  # later steps are checked from their own stated inputs


def test_missing_object_and_wrong_relation_are_named(office_scene):
    _, ver = check(COMPACT.replace("Step 1: 1, 2", "Step 1: 1"), office_scene)
    assert ver.steps[0].reason == "step 1 misses object 2, which is a mug"
    _, ver = check(COMPACT.replace("Step 3: 1, 2", "Step 3: 1, 2, 3"), office_scene)
    assert "not among its input objects" in ver.steps[2].reason
    bad = COMPACT.replace("Step 1: 1, 2", "Step 1: 1, 2, 4").replace("Step 3: 1, 2", "Step 3: 1, 2, 4")
    _, ver = check(bad, office_scene)
    assert ver.steps[2].reason == "step 3 lists object 4 (chair), which is not on any anchor object"


def test_missing_steps_ghost_ids_and_bad_references(office_scene):
    _, ver = check(COMPACT.replace("Step 2: 0\n", ""), office_scene)
    assert not ver.steps[1].ok and "no (readable) execution line" in ver.steps[1].reason
    _, ver = check(COMPACT.replace("2. filter(scene, desk)\n", ""), office_scene)
    assert not ver.steps[1].ok and "no plan line" in ver.steps[1].reason
    _, ver = check(COMPACT.replace("Step 2: 0", "Step 2: 0, 99"), office_scene)
    assert ver.steps[1].reason == "step 2 lists object 99, which does not exist in the scene"
    _, ver = check(COMPACT.replace("relate(#1, #2, on)", "relate(#1, #3, on)"), office_scene)
    assert "does not come before it" in ver.steps[2].reason
    _, ver = check(COMPACT.replace("relate(#1, #2, on)", "relate(#1, #2, sideways)"), office_scene)
    assert "cannot be executed" in ver.steps[2].reason and not ver.all_ok


def test_false_evidence_lines_are_caught(office_scene):
    lie = FULL.replace("Object 2 (mug) is on Object 0 (desk)", "Object 2 (mug) is on Object 1 (mug)")
    _, ver = check(lie, office_scene)
    assert not ver.steps[2].ok and "not among its anchor objects" in ver.steps[2].reason
    prog = "relate(filter(scene(), mug), filter(scene(), chair), near)"
    text = render(prog, office_scene)
    assert check(text, office_scene)[1].all_ok
    assert "Object 1 (mug) is near Object 4 (chair)" in text
    lie = text.replace("Object 1 (mug) is near Object 4 (chair)", "Object 1 (mug) is near Object 5 (chair)")
    _, ver = check(lie, office_scene)
    assert ver.steps[2].reason == "step 3 claims 'Object 1 (mug) is near Object 5 (chair)', which is not true"
    lie = text.replace("Object 1 (mug) is near Object 4", "Object 3 (mug) is near Object 4")
    assert "is not in its result" in check(lie, office_scene)[1].steps[2].reason


def test_answer_and_boxes_are_checked(office_scene):
    bad = COMPACT.replace("</think>\n<answer>\nObject 1: mug at (-0.40, 1.50, 0.80), size 0.08 x 0.08 x 0.10\n",
                          "</think>\n<answer>\n")
    _, ver = check(bad, office_scene)
    assert all(c.ok for c in ver.steps) and not ver.answer_consistent and not ver.all_ok
    _, ver = check(COMPACT.replace("(0.45, 1.45, 0.80)", "(0.45, 1.95, 0.80)"), office_scene)
    assert ver.answer_consistent and not ver.boxes_ok and not ver.all_ok
    _, ver = check(COMPACT.replace("</answer>", ""), office_scene)
    assert not ver.all_ok and any("not closed" in e for e in ver.errors)


@pytest.mark.parametrize("garbage", [
    "", "hello", "<think></think><answer></answer>", "<answer>1</answer><think>Plan:\n1. scene()\n</think>",
    "<think>\nPlan:\n1. filter(scene, \"unterminated)\nExecution:\nStep 1: x y z\n</think>",
    "<think>\nPlan:\n1. relate(#1, #1, near)\nExecution:\nStep 1: 1\n</think>\n<answer>\n1\n</answer>",
    "Step 1: 99999999999999999999999999\n" * 3, "\x00\xff\ud800", b"\xff\xfe<think>", None, 42,
])
def test_garbage_never_raises_and_never_verifies(office_scene, garbage):
    parsed = parse_trace(garbage)
    ver = verify_trace(parsed, office_scene)
    assert not ver.all_ok
    assert parsed.errors or ver.errors or not all(c.ok for c in ver.steps)


def test_verify_rejects_a_non_scene():
    ver = verify_trace(parse_trace(COMPACT), "not a scene")  # type: ignore[arg-type]
    assert not ver.all_ok and "must be a Scene" in ver.errors[0]


def test_every_truncation_is_caught(office_scene):
    for text in (FULL, COMPACT):
        for cut in range(0, len(text) - 1, 3):
            _, ver = check(text[:cut], office_scene)
            assert not ver.all_ok, cut


def test_step_reports(office_scene):
    result = EX.execute(parse_program(MUG_ON_DESK), office_scene)
    reports = step_reports(result, office_scene, verified=True)
    assert all(isinstance(r, StepReport) for r in reports) and [r.index for r in reports] == [1, 2, 3]
    assert reports[2].plan == "Check which of the 'mug' (step 1) are on the 'desk' (step 2)"
    assert reports[2].execution.startswith("Step 3: Found 2 object(s)") and "is on Object 0 (desk)" in reports[2].execution
    assert reports[2].inputs == [[1, 2], [0]] and reports[2].output == [1, 2] and reports[2].verified is True


def test_reports_for_a_model_written_trace(office_scene):
    bad = COMPACT.replace("Step 1: 1, 2", "Step 1: 1, 2, 4")
    parsed = parse_trace(bad)
    ver = check_trace(bad, office_scene)
    reports = parsed_step_reports(parsed, ver, office_scene)
    assert [r.verified for r in reports] == [False, True, True]
    assert reports[0].execution == "Step 1: 1, 2, 4\nCheck failed: step 1 lists object 4, which is not a mug"
    assert reports[2].inputs == [[1, 2, 4], [0]] and reports[2].plan == "relate(#1, #2, on)"


def test_error_list_is_bounded():
    parsed = parse_trace("<think>\nPlan:\n" + "1. x\n" * 5000 + "</think>")
    assert len(parsed.errors) <= 51 and parsed.errors[-1].startswith("... and")


def test_concept_with_a_trailing_newline_stays_on_one_line(office_scene):
    """Regression: the bare-word check used "$", which also matches before a final newline."""
    program = ast.Filter(ast.Scene(), "mug\n")
    for style in ("full", "compact"):
        text = render_trace("the mug", program, EX.execute(program, office_scene), office_scene, style)
        parsed, ver = check(text, office_scene)
        assert parsed.errors == [] and ver.all_ok, (text, ver.reasons)


# --- properties ---------------------------------------------------------------------------------
_concepts = st.one_of(known_concepts, any_concepts)
_programs = programs(concepts=_concepts, relations=st.sampled_from(ALIAS_RELATIONS + ("left", "near", "on")),
                     kinds=st.sampled_from(ALIAS_KINDS + ("largest", "leftmost")))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_programs, programs()), scenes(), st.sampled_from(["full", "compact"]), st.text(max_size=40))
def test_render_parse_verify_round_trip(program, scene, style, instruction):
    result = EX.execute(program, scene)
    text = render_trace(instruction, program, result, scene, style)
    parsed, ver = check(text, scene)
    assert parsed.errors == [] and ver.all_ok, (text, ver.reasons)
    assert len(parsed.steps) == max(1, len(result.steps))
    if result.is_set:
        assert sorted(parsed.answer_ids) == result.value
    else:
        assert parsed.answer_value == result.value


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), scenes(min_objects=2), st.sampled_from(["full", "compact"]), st.randoms(use_true_random=False))
def test_an_added_wrong_id_is_always_caught(program, scene, style, rnd):
    result = EX.execute(program, scene)
    steps = [s for s in result.steps if isinstance(s.output, list) and len(s.output) < len(scene)]
    if not steps:
        return
    step = rnd.choice(steps)
    extra = rnd.choice([i for i in scene.ids if i not in step.output])
    text = render_trace("x", program, result, scene, style)
    lines = text.split("\n")
    k = next(i for i, ln in enumerate(lines) if ln.startswith(f"Step {step.index}: "))
    new_ids = sorted(step.output + [extra])
    lines[k] = (f"Step {step.index}: {', '.join(map(str, new_ids))}" if style == "compact" else
                f"Step {step.index}: Found {len(new_ids)} object(s): ID(s): {', '.join(map(str, new_ids))}")
    parsed, ver = check("\n".join(lines), scene)
    bad = ver.steps[step.index - 1]
    assert not bad.ok and str(extra) in bad.reason and not ver.all_ok


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_random_input_never_raises(data):
    parsed = parse_trace(data)
    assert isinstance(parsed.errors, list)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), scenes(), st.randoms(use_true_random=False))
def test_random_line_damage_never_raises(program, scene, rnd):
    text = render_trace("x", program, EX.execute(program, scene), scene, rnd.choice(["full", "compact"]))
    lines = text.split("\n")
    for _ in range(3):
        k = rnd.randrange(len(lines))
        action = rnd.randrange(4)
        if action == 0:
            del lines[k]
        elif action == 1:
            lines.insert(k, lines[rnd.randrange(len(lines))])
        elif action == 2:
            lines[k] = re.sub(r"\d+", lambda m: str(int(m.group()) + 1), lines[k])
        else:
            lines[k] = lines[k][: rnd.randrange(len(lines[k]) + 1)]
        if not lines:
            break
    verify_trace(parse_trace("\n".join(lines)), scene, executor=EX)
