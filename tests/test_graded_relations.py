"""Graded picks (relate_anchor with any relation): the best candidate, its score and margin,
ties, touching boxes, the anchor-set viewpoint with known and estimated fronts; and the
trace of a pick re-checks."""

from __future__ import annotations

import math

import pytest

from apeiria_model.programs import ast
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.grammar import parse_program
from apeiria_model.programs.trace import parse_trace, render_trace, verify_trace
from apeiria_model.scene import Scene, SceneObject, Viewpoint

EX = Executor()


def o(i, label, center, size=(0.5, 0.5, 0.5), **kw):
    return SceneObject(i, label, tuple(map(float, center)), tuple(map(float, size)), **kw)


def scene(*objs, viewpoint=Viewpoint((0.0, -5.0, 1.6), (0.0, 0.0, 1.0))):
    return Scene("graded", tuple(objs), viewpoint=viewpoint)


def pick(program_text, sc):
    res = EX.execute(parse_program(program_text), sc)
    step = res.steps[-1]
    return res.ids, step


def test_far_picks_the_one_farther_table_where_the_hard_relation_gives_two():
    """'the table that is far from the armchair': both tables are 'far' (> 1 m); one is farther."""
    sc = scene(o(0, "armchair", (0, 0, 0.4)), o(1, "table", (3, 0, 0.4)), o(2, "table", (-4.5, 0, 0.4)))
    hard = EX.execute(parse_program("relate(filter(scene(), table), filter(scene(), armchair), far)"), sc)
    assert hard.ids == [1, 2]
    ids, step = pick("relate_anchor(filter(scene(), table), filter(scene(), armchair), far)", sc)
    assert ids == [2]
    ev = step.evidence[0]
    assert ev.measure == "score" and ev.value == pytest.approx(4.0) and ev.anchor_ids == (0,)
    assert "margin 1.50 over Object 1" in ev.note


def test_near_on_touching_boxes_scores_zero_gap_and_ties_go_to_the_lower_id():
    sc = scene(o(0, "bed", (0, 0, 0.3), (2, 1.6, 0.6)),
               o(5, "lamp", (1.25, 0, 0.3)),     # touches the bed's side: gap 0
               o(3, "lamp", (-1.25, 0, 0.3)),    # touches the other side: gap 0 too
               o(4, "lamp", (3, 0, 0.3)))
    ids, step = pick("relate_anchor(filter(scene(), lamp), filter(scene(), bed), near)", sc)
    assert ids == [3]  # tie at gap 0: lower id
    assert step.evidence[0].value == 0.0 and "margin 0.00 over Object 5" in step.evidence[0].note


def test_above_and_below_prefer_the_object_over_the_anchor():
    sc = scene(o(0, "bed", (0, 0, 0.3), (2, 1.6, 0.6)),
               o(1, "picture", (0, 0.7, 1.5), (0.8, 0.05, 0.6)),   # over the bed
               o(2, "picture", (3, 0.7, 1.5), (0.8, 0.05, 0.6)),   # same height, beside it
               o(3, "picture", (0, 0.7, 0.2), (0.3, 0.05, 0.3)))   # low: not above
    assert pick("relate_anchor(filter(scene(), picture), filter(scene(), bed), above)", sc)[0] == [1]
    sc2 = scene(o(0, "shelf", (0, 0, 1.5), (1, 0.3, 0.1)), o(1, "desk", (0, 0, 0.4), (1.2, 0.6, 0.8)),
                o(2, "desk", (2.5, 0, 0.4), (1.2, 0.6, 0.8)))
    assert pick("relate_anchor(filter(scene(), desk), filter(scene(), shelf), below)", sc2)[0] == [1]


def test_on_picks_the_object_resting_on_the_anchor():
    sc = scene(o(0, "table", (0, 0, 0.375), (1.2, 0.8, 0.75)),
               o(1, "book", (0.2, 0.1, 0.77), (0.2, 0.15, 0.04)),   # on the table
               o(2, "book", (0.9, 0.1, 0.02), (0.2, 0.15, 0.04)))   # on the floor next to it
    assert pick("relate_anchor(filter(scene(), book), filter(scene(), table), on)", sc)[0] == [1]


def test_between_pairs_one_anchor_of_each_label():
    sc = scene(o(0, "desk", (0, 0, 0.4)), o(1, "door", (4, 0, 1.0)), o(2, "desk", (4, 3, 0.4)),
               o(3, "trash can", (2, 0.2, 0.2), (0.3, 0.3, 0.4)),    # between desk 0 and the door
               o(4, "trash can", (2, 1.5, 0.2), (0.3, 0.3, 0.4)))    # on the line between the two desks
    ids, step = pick('relate_anchor(filter(scene(), "trash can"), union(filter(scene(), desk), '
                     'filter(scene(), door)), between)', sc)
    assert ids == [3] and set(step.evidence[0].anchor_ids) == {0, 1}
    # "between the two desks": one label, so pairs of desks
    assert pick('relate_anchor(filter(scene(), "trash can"), filter(scene(), desk), between)', sc)[0] == [4]


def test_facing_frame_uses_the_anchor_front_and_swaps_left_and_right():
    """'facing the front of the bed, the nightstand on the left': the bed's own right side."""
    bed_front = (0.0, -1.0, 0.0)  # the bed's foot points to -y, so its own right is -x
    sc = scene(o(0, "bed", (0, 0, 0.3), (1.6, 2, 0.6), front=bed_front),
               o(1, "nightstand", (-1.1, 0.8, 0.3)), o(2, "nightstand", (1.1, 0.8, 0.3)))
    facing = "relate_anchor(filter(scene(), nightstand), filter(scene(), bed), left, facing)"
    own = "relate_anchor(filter(scene(), nightstand), filter(scene(), bed), left, anchor)"
    assert pick(facing, sc)[0] == [1]   # standing at the foot, looking at the bed (+y): -x is on the left
    assert pick(own, sc)[0] == [2]      # the bed's own left is +x
    assert not pick(facing, sc)[1].notes  # the front is known: nothing estimated


def test_missing_front_is_estimated_towards_the_room_and_said_so():
    # the bed stands at the north wall (y = 4); the room's objects lie south of it
    sc = scene(o(0, "bed", (0, 4, 0.3), (1.6, 2, 0.6)), o(1, "nightstand", (-1.1, 4.5, 0.3)),
               o(2, "nightstand", (1.1, 4.5, 0.3)), o(3, "sofa", (0, -2, 0.4)), o(4, "table", (0, 0, 0.4)))
    ids, step = pick("relate_anchor(filter(scene(), nightstand), filter(scene(), bed), left, facing)", sc)
    # estimated front: towards the room (-y), as in the known-front test above
    assert ids == [1]
    assert any("estimated front" in n and "0" in n for n in step.notes)


def test_pick_trace_round_trips_and_verifies():
    sc = scene(o(0, "armchair", (0, 0, 0.4)), o(1, "table", (3, 0, 0.4)), o(2, "table", (-4.5, 0, 0.4)),
               o(3, "door", (0, 4, 1.0)))
    for text in ("relate_anchor(filter(scene(), table), filter(scene(), armchair), far)",
                 "relate_anchor(filter(scene(), table), filter(scene(), armchair), left, facing)",
                 "relate_anchor(filter(scene(), table), union(filter(scene(), armchair), filter(scene(), door)), "
                 "between)"):
        program = parse_program(text)
        assert str(program) == text and parse_program(str(program)) == program
        res = EX.execute(program, sc)
        for style in ("full", "compact"):
            trace = render_trace("the table", program, res, sc, style)
            check = verify_trace(parse_trace(trace), sc, executor=EX)
            assert check.all_ok, (trace, check.reasons)


def test_a_forged_pick_fails_verification():
    sc = scene(o(0, "armchair", (0, 0, 0.4)), o(1, "table", (3, 0, 0.4)), o(2, "table", (-4.5, 0, 0.4)))
    program = parse_program("relate_anchor(filter(scene(), table), filter(scene(), armchair), far)")
    trace = render_trace("the table far from the armchair", program, EX.execute(program, sc), sc, "full")
    forged = trace.replace("Step 3: Found 1 object(s): ID(s): 2 (table)", "Step 3: Found 1 object(s): ID(s): 1 (table)")
    assert forged != trace
    assert not verify_trace(parse_trace(forged), sc, executor=EX).all_ok


def test_empty_inputs_and_self_anchors_give_empty_picks():
    sc = scene(o(0, "chair", (0, 0, 0.4)))
    assert pick("relate_anchor(filter(scene(), chair), filter(scene(), chair), left)", sc)[0] == []
    assert pick("relate_anchor(filter(scene(), sofa), filter(scene(), chair), above)", sc)[0] == []
    res = EX.execute(ast.RelateAnchor(ast.Filter(ast.Scene(), "chair"), ast.Filter(ast.Scene(), "chair"),
                                      "between"), sc)
    assert res.ids == [] and not any(math.isnan(e.value) for s in res.steps for e in s.evidence)
