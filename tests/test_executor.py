"""Executor semantics and the lexical concept matcher."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from apeiria_model.programs import ast
from apeiria_model.programs.concepts import ConceptMatcher, LexicalConceptMatcher, split_concept
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.grammar import parse_program
from apeiria_model.programs.strategies import programs, scenes
from apeiria_model.scene import Scene, SceneObject


def run(text, scene, **kw):
    return Executor(**kw).execute(parse_program(text), scene)


# --- executor on the office fixture ----------------------------------------------------------
def test_mug_on_the_desk(office_scene):
    r = run("relate(filter(scene(), mug), filter(scene(), desk), on)", office_scene)
    assert r.value == [1, 2] and r.is_set and r.message == ""
    assert [s.op for s in r.steps] == ["filter", "filter", "relate"]
    last = r.steps[-1]
    assert last.index == 3 and last.inputs == [[1, 2], [0]] and last.input_steps == [1, 2]
    assert last.text == "relate(filter(scene(), mug), filter(scene(), desk), on)"
    assert last.args == {"relation": "on", "frame": "viewer"}
    assert [(e.object_id, e.anchor_ids) for e in last.evidence] == [(1, (0,)), (2, (0,))]
    assert r.steps[0].inputs == [office_scene.ids] and r.steps[0].input_steps == [None]


def test_colour_filter_closest_and_superlative(office_scene):
    assert run('filter(scene(), "red mug")', office_scene).value == [1]
    closest = run("relate_anchor(filter(scene(), mug), filter(scene(), window), closest)", office_scene)
    assert closest.value == [2]
    ev = closest.steps[-1].evidence[0]
    assert ev.anchor_ids == (6,) and ev.measure == "distance" and ev.value > 0
    assert run("relate_anchor(filter(scene(), mug), filter(scene(), window), farthest)", office_scene).value == [1]
    assert run("superlative(filter(scene(), chair), leftmost)", office_scene).value == [4]
    assert run("superlative(filter(scene(), chair), leftmost, 2)", office_scene).value == [5]
    assert run("superlative(filter(scene(), chair), leftmost, 3)", office_scene).value == []


def test_aliases_are_accepted_in_programs(office_scene):
    a = run("relate(filter(scene(), mug), filter(scene(), desk), on top of)", office_scene)
    b = run("relate(filter(scene(), mug), filter(scene(), desk), on)", office_scene)
    assert a.value == b.value == [1, 2]
    assert run("superlative(filter(scene(), chair), second from the left)", office_scene).value == [5]
    assert run("superlative(filter(scene(), chair), biggest)", office_scene).value == [4]  # tie -> lower id
    with pytest.raises(ProgramExecutionError, match="two ranks"):
        run("superlative(filter(scene(), chair), second from the left, 2)", office_scene)


def test_set_operations_are_sorted(office_scene):
    assert run("union(filter(scene(), lamp), filter(scene(), mug))", office_scene).value == [1, 2, 3]
    assert run("intersection(filter(scene(), black), filter(scene(), chair))", office_scene).value == [4]
    assert run("exclude(filter(scene(), chair), filter(scene(), blue))", office_scene).value == [4]


def test_count_and_query(office_scene):
    assert run("count(filter(scene(), chair))", office_scene).value == 2
    assert run("count(filter(scene(), giraffe))", office_scene).value == 0
    assert run("query(filter(scene(), lamp), color)", office_scene).value == "black"
    assert run("query(filter(scene(), lamp), colour)", office_scene).value == "black"
    assert run("query(filter(scene(), lamp), label)", office_scene).value == "lamp"
    assert run("query(filter(scene(), lamp), size)", office_scene).value == "0.20 x 0.20 x 0.50"
    assert run("query(filter(scene(), lamp), position)", office_scene).value == "(0.50, 1.70, 1.00)"


@pytest.mark.parametrize("program, fragment", [
    ("query(filter(scene(), giraffe), color)", "set is empty"),
    ("query(filter(scene(), mug), color)", "disagree (red, white)"),
    ("query(filter(scene(), window), color)", "have no color"),
    ("query(filter(scene(), lamp), material)", "have no material"),
])
def test_query_without_a_single_answer_gives_none_and_says_why(office_scene, program, fragment):
    r = run(program, office_scene)
    assert r.value is None and fragment in r.message


@pytest.mark.parametrize("program, fragment", [
    ("relate(scene(), scene(), sideways)", "unknown relation 'sideways'"),
    ("relate(scene(), scene(), closest)", "use relate_anchor"),
    ("relate(scene(), scene(), between)", "use relate_multi"),
    ("relate_anchor(scene(), scene(), sideways)", "unknown relation 'sideways'"),
    ("relate_multi(scene(), scene(), scene(), left)", "relate_multi supports"),
    ("superlative(scene(), purplest)", "unknown superlative"),
    ("query(scene(), smell)", "unknown query attribute 'smell'"),
])
def test_meaningless_programs_raise(office_scene, program, fragment):
    with pytest.raises(ProgramExecutionError, match=fragment):
        run(program, office_scene)


def test_programs_built_in_code_are_checked(office_scene):
    ex = Executor()
    with pytest.raises(ProgramExecutionError, match="outermost"):
        ex.execute(ast.Filter(ast.Count(ast.Scene()), "x"), office_scene)  # type: ignore[arg-type]
    with pytest.raises(ProgramExecutionError, match="not a program node"):
        ex.execute("scene()", office_scene)  # type: ignore[arg-type]
    with pytest.raises(ProgramExecutionError, match="must be a Scene"):
        ex.execute(ast.Scene(), [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ProgramExecutionError, match="rank"):
        ex.execute(ast.Superlative(ast.Scene(), "largest", 0), office_scene)


def test_empty_scene_and_empty_sets_flow_through():
    empty = Scene("empty", ())
    assert run("relate(filter(scene(), chair), filter(scene(), desk), left)", empty).value == []
    assert run("count(scene())", empty).value == 0
    assert run("relate_multi(scene(), scene(), scene(), between)", empty).value == []


def test_cached_geometry_never_leaks_between_scenes(office_scene):
    ex = Executor()
    prog = parse_program("superlative(filter(scene(), chair), leftmost)")
    assert ex.execute(prog, office_scene).value == [4]
    moved = office_scene.with_objects(
        o if o.id != 5 else SceneObject(5, "chair", (-3.0, 0.5, 0.45), (0.5, 0.5, 0.9)) for o in office_scene)
    assert ex.execute(prog, moved).value == [5]
    assert ex.execute(prog, office_scene).value == [4]


def test_one_executor_shared_by_threads_stays_correct(office_scene):
    from concurrent.futures import ThreadPoolExecutor
    ex = Executor()
    prog = parse_program("superlative(filter(scene(), chair), leftmost)")
    moved = office_scene.with_objects(
        o if o.id != 5 else SceneObject(5, "chair", (-3.0, 0.5, 0.45), (0.5, 0.5, 0.9)) for o in office_scene)
    jobs = [(office_scene, [4]), (moved, [5])] * 200
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: ex.execute(prog, job[0]).value == job[1], jobs))
    assert all(results)


def test_run_op_checks_ids_and_arity(office_scene):
    ex = Executor()
    out, _, _ = ex.run_op("filter", {"concept": "mug"}, [[0, 1, 2, 3]], office_scene)
    assert out == [1, 2]
    with pytest.raises(ProgramExecutionError, match="not in the scene"):
        ex.run_op("filter", {"concept": "mug"}, [[99]], office_scene)
    with pytest.raises(ProgramExecutionError, match="takes 2 input"):
        ex.run_op("relate", {"relation": "near"}, [[1]], office_scene)
    with pytest.raises(ProgramExecutionError, match="unknown operation"):
        ex.run_op("teleport", {}, [], office_scene)


# --- pluggable matchers --------------------------------------------------------------------------
class _Fixed:
    threshold = 0.5

    def __init__(self, scores):
        self._scores = scores

    def scores(self, concept, objects):
        return self._scores(len(objects))


def test_any_object_with_scores_and_threshold_is_a_matcher(office_scene):
    m = _Fixed(lambda n: np.linspace(0, 1, n))
    assert isinstance(m, ConceptMatcher) and isinstance(LexicalConceptMatcher(), ConceptMatcher)
    assert run("filter(scene(), anything)", office_scene, matcher=m).value == [3, 4, 5, 6]  # score >= 0.5


def test_bad_matcher_output_is_reported(office_scene):
    with pytest.raises(ProgramExecutionError, match="returned 2 scores for 7 objects"):
        run("filter(scene(), x)", office_scene, matcher=_Fixed(lambda n: np.ones(2)))
    nan = _Fixed(lambda n: np.full(n, np.nan))
    assert run("filter(scene(), x)", office_scene, matcher=nan).value == []
    with pytest.raises(TypeError):
        Executor(matcher=object())  # type: ignore[arg-type]


@settings(max_examples=120, deadline=None)
@given(programs(), scenes())
def test_random_programs_execute_consistently(program, scene):
    r = Executor().execute(program, scene)
    assert len(r.steps) == sum(1 for n in ast.walk(program) if not isinstance(n, ast.Scene))
    assert [s.index for s in r.steps] == list(range(1, len(r.steps) + 1))
    ids = set(scene.ids)
    for s in r.steps:
        if isinstance(s.output, list):
            assert s.output == sorted(set(s.output)) and set(s.output) <= ids
            if s.op in ("filter", "relate", "relate_multi", "relate_anchor", "superlative"):
                assert set(s.output) <= set(s.inputs[0])
            if s.op in ("relate_anchor", "superlative"):
                assert len(s.output) <= 1
    if isinstance(program, ast.Count):
        assert r.value == len(r.steps[-1].inputs[0])
    assert Executor().execute(program, scene).value == r.value  # deterministic


# --- lexical matcher -------------------------------------------------------------------------------
def obj(i, label, color=None, attributes=(), size=(0.5, 0.5, 0.5)):
    return SceneObject(i, label, (0.0, 0.0, size[2] / 2), size, color=color, attributes=attributes)


OBJS = [obj(0, "chair", "red"), obj(1, "Coffee_Table", "brown", ("wooden",)), obj(2, "table", "white"),
        obj(3, "sofa", "gray", ("fabric",)), obj(4, "orange", "orange"), obj(5, "trash can", "black"),
        obj(6, "chair", "blue", ("striped",), size=(0.8, 0.8, 1.2))]


def scores(concept):
    return list(np.round(LexicalConceptMatcher().scores(concept, OBJS), 2))


def test_labels_plurals_case_and_underscores():
    assert scores("chairs")[0] == 1.0 and scores("CHAIR")[6] == 1.0
    assert scores("coffee tables")[1] == 1.0 and scores("coffee_table")[1] == 1.0
    assert scores("chair")[2] == 0.0
    assert scores("chair,")[0] == 1.0 and scores("  (Chairs!) ")[0] == 1.0


def test_head_noun_scores_lower_than_exact():
    s = scores("table")
    assert s[2] == 1.0 and 0.5 <= s[1] < 1.0
    assert scores("coffee table")[2] < 0.5   # a plain table is not surely a coffee table


def test_colours_attributes_and_generic_words():
    assert scores("red chair") == [1.0, 0, 0, 0, 0, 0, 0]
    assert scores("blue chair") == [0, 0, 0, 0, 0, 0, 1.0]
    assert scores("grey couch")[3] == pytest.approx(0.9)       # synonym + colour spelling
    assert scores("wooden table")[1] > 0.5 and scores("wood table")[1] > 0.5
    assert scores("wooden table")[2] == 0.0                     # the white table is not wooden
    assert scores("striped chair") == [0, 0, 0, 0, 0, 0, 1.0]
    assert scores("red thing") == [1.0, 0, 0, 0, 0, 0, 0]
    assert scores("red") == [1.0, 0, 0, 0, 0, 0, 0]
    assert all(v == 1.0 for v in scores("object"))
    assert scores("orange")[4] == 1.0                           # the fruit, and the colour
    assert scores("garbage can")[5] == pytest.approx(0.9)


def test_size_words_compare_with_the_other_candidates():
    s = scores("large chair")
    assert s[6] > 0.5 > s[0]


def test_split_concept_is_reusable():
    assert split_concept("small red wooden chairs") == (("red",), ("small", "wood"), "chair")
    assert split_concept("the red one") == (("red",), (), "")
    assert split_concept("glass") == ((), (), "glass")
    assert split_concept("dark grey sofa") == (("gray",), (), "sofa")


def test_matcher_input_checks():
    m = LexicalConceptMatcher()
    assert m.scores("chair", []).shape == (0,)
    with pytest.raises(TypeError):
        m.scores(3, OBJS)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LexicalConceptMatcher(threshold=2.0)
