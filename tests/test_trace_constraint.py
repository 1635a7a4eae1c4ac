"""Constrained decoding (model/trace_constraint.py): every gold trace passes, malformed
ones are refused at the first bad character, the constraint never paints itself into a
corner, and generate() with a (random) model only writes well-formed trace prefixes."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.model.config import ApeiriaConfig, ConfigError
from apeiria_model.model.tiny import build_tiny_model
from apeiria_model.model.tokenizer import BPETokenizer, token_pieces
from apeiria_model.model.trace_constraint import TraceConstraint
from apeiria_model.model.trace_format import to_model_target
from apeiria_model.programs import parse_program
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.trace import parse_trace, render_trace
from apeiria_model.reasoning.neural import NeuralReasoner
from tests.scenes import office

# every op of the DSL, with and without empty intermediate sets (office scene, tests/scenes.py)
PROGRAMS = [
    "filter(scene(), chair)",
    "filter(scene(), sofa)",
    'filter(filter(scene(), chair), red)',
    "relate(filter(scene(), mug), filter(scene(), desk), on)",
    "relate(filter(scene(), chair), filter(scene(), desk), left, anchor)",
    "relate_multi(filter(scene(), chair), filter(scene(), desk), filter(scene(), window), between)",
    "relate_anchor(filter(scene(), chair), filter(scene(), window), closest)",
    "union(filter(scene(), mug), filter(scene(), lamp))",
    "intersection(filter(scene(), chair), relate(filter(scene(), chair), filter(scene(), desk), near))",
    "exclude(filter(scene(), chair), relate_anchor(filter(scene(), chair), filter(scene(), desk), closest))",
    "superlative(filter(scene(), chair), leftmost)",
    "superlative(filter(scene(), chair), largest, 2)",
    "count(filter(scene(), chair))",
    "count(filter(scene(), sofa))",
    "query(superlative(filter(scene(), chair), leftmost), color)",
]


def _target(program: str, scene, thinking: bool = True) -> str:
    prog = parse_program(program)
    res = Executor().execute(prog, scene)
    return to_model_target(render_trace("x", prog, res, scene, style="compact"), thinking)


def _feed(c: TraceConstraint, text: str) -> int | None:
    """Feed ``text`` a character at a time; the index of the first refused one, or None."""
    for i, ch in enumerate(text):
        if not c.allows(ch):
            return i
        c.accept(ch)
    return None


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("thinking, level", [(True, "format"), (True, "sets"), (False, "format")])
def test_every_gold_trace_is_allowed_to_the_end(office_scene, program, thinking, level):
    text = _target(program, office_scene, thinking)
    c = TraceConstraint(office_scene.ids, thinking=thinking, level=level)
    assert _feed(c, text) is None, text
    assert c.allows_end() and not c.broken
    assert not c.allows("\n") and not c.allows(" ")  # nothing after </answer>


def test_gold_traces_pass_token_by_token_too(office_scene):
    tok = BPETokenizer.train([_target(p, office_scene) for p in PROGRAMS] * 3, vocab_size=300, number_range=32)
    pieces = token_pieces(tok)
    for p in PROGRAMS:
        text = _target(p, office_scene)
        c = TraceConstraint(office_scene.ids, level="sets")
        for t in tok.encode(text):
            assert c.allows(pieces[t]), (p, c.line, pieces[t])
            c.accept(pieces[t])
        assert c.allows_end()


def test_token_pieces_concatenate_to_the_decoded_text():
    tok = BPETokenizer.train(["Step 1: 3, 7, 12\n</think>", "filter(scene, chair)"] * 5, vocab_size=120,
                             number_range=16)
    ids = tok.encode("Step 2: 4, 9\nfilter(scene, mug)")
    pieces = token_pieces(tok)
    assert "".join(pieces[i] for i in ids) == tok.decode(ids)
    assert pieces[tok.eos_id] == "" and pieces[tok.pad_id] == ""


HEAD = "<think>\nPlan:\n1. filter(scene, chair)\n2. filter(scene, desk)\n"


def _refused_at(scene, text: str) -> str | None:
    c = TraceConstraint(scene.ids)
    i = _feed(c, text)
    return None if i is None else text[:i + 1]


@pytest.mark.parametrize("bad, where", [
    ("<answer>", "<a"),                                          # no thinking block
    ("<think>\nPlan:\nExecution:", "E"),                        # no plan step before execution
    ("<think>\nPlan:\n2. filter(scene, chair)", "2"),           # step numbers start at 1
    ("<think>\nPlan:\n1. filter(#1, chair)", "#1"),             # a step cannot refer to itself
    (HEAD + "3. relate(#1, #4, left)", "#4"),                   # ... nor to a later step
    (HEAD + "3. relate(#1, #2, sideways)", "sideways"),         # unknown relation
    (HEAD + "3. relate(#1, #2, closest)", "closest)"),          # anchor relation in relate
    (HEAD + "3. superlative(#1, bluest)", "bluest"),            # unknown superlative
    (HEAD + "3. count(#1)\n4. filter(#3, red)", "#3"),          # a count is not a set
    (HEAD + "3. frobnicate(#1)", "fro"),                        # unknown op
])
def test_malformed_plans_are_refused_where_they_go_wrong(office_scene, bad, where):
    refused = _refused_at(office_scene, bad)
    assert refused is not None, bad
    # refused no later than the end of the offending token
    assert len(refused) <= bad.index(where) + len(where), (refused, where)


def test_format_level_checks_ids_but_not_set_types(office_scene):
    ids = sorted(office_scene.ids)
    plan = HEAD + "3. superlative(#1, leftmost)\nExecution:\nStep 1: "
    for bad in (f"{max(ids) + 1}\n", f"{ids[2]}, {ids[1]}", f"{ids[1]}, {ids[1]}", "1, , 2", "03"):
        c = TraceConstraint(office_scene.ids)
        assert _feed(c, plan + bad) is not None, bad
    desk = [o.id for o in office_scene.objects if o.label == "desk"][0]
    # a desk is no chair and a superlative names one object: only the "sets" level minds
    text = plan + f"{desk}\nStep 2: {desk}\nStep 3: {ids[1]}, {ids[2]}\n</think>\n<answer>\nIDs: {ids[3]}\n</answer>"
    c = TraceConstraint(office_scene.ids)
    assert _feed(c, text) is None and c.allows_end()
    assert _feed(TraceConstraint(office_scene.ids, level="sets"), text) is not None
    with pytest.raises(ValueError, match="level"):
        TraceConstraint(office_scene.ids, level="strict")


def test_execution_id_sets_are_checked(office_scene):
    ids = sorted(office_scene.ids)
    chairs = sorted(o.id for o in office_scene.objects if o.label == "chair")
    others = [i for i in ids if i not in chairs]
    plan = HEAD + "3. superlative(#1, leftmost)\n4. filter(#1, red)\nExecution:\n"
    ok = plan + f"Step 1: {', '.join(map(str, chairs))}\n"
    c = TraceConstraint(office_scene.ids, level="sets")
    assert _feed(c, ok) is None

    def refused(line: str) -> bool:
        c = TraceConstraint(office_scene.ids, level="sets")
        return _feed(c, ok + line) is not None

    missing = max(ids) + 1
    assert refused(f"Step 2: {missing}\n")                          # not in the scene
    assert refused("Step 3:")                                        # steps in order
    desk = [o.id for o in office_scene.objects if o.label == "desk"][0]
    step2 = ok + f"Step 2: {desk}\n"
    c = TraceConstraint(office_scene.ids, level="sets")
    assert _feed(c, step2) is None
    for bad in (f"Step 3: {chairs[0]}, {chairs[1]}",               # a superlative picks one
                f"Step 3: {others[0]}",                             # not in its input set
                ):
        c = TraceConstraint(office_scene.ids, level="sets")
        assert _feed(c, step2 + bad) is not None, bad
    c = TraceConstraint(office_scene.ids, level="sets")
    assert _feed(c, step2 + f"Step 3: {chairs[1]}\nStep 4: {chairs[1]}, {chairs[0]}") is not None  # ascending
    c = TraceConstraint(office_scene.ids, level="sets")
    assert _feed(c, step2 + f"Step 3: {chairs[1]}\nStep 4: {chairs[0]}, {chairs[0]}") is not None  # no repeats
    c = TraceConstraint(office_scene.ids, level="sets")
    assert _feed(c, step2 + f"Step 3: {chairs[1]}\nStep 4: none\n</think>\n<answer>\nIDs: {chairs[0]}") is not None
    c = TraceConstraint(office_scene.ids, level="sets")
    assert _feed(c, step2 + f"Step 3: {chairs[1]}\nStep 4: none\n</think>\n<answer>\n"
                 "No object matches the description.\n</answer>") is None
    assert c.allows_end()


def test_count_cannot_exceed_its_input(office_scene):
    n = sum(o.label == "chair" for o in office_scene.objects)
    chairs = ", ".join(str(o.id) for o in sorted(office_scene.objects, key=lambda o: o.id) if o.label == "chair")
    text = f"<think>\nPlan:\n1. filter(scene, chair)\n2. count(#1)\nExecution:\nStep 1: {chairs}\nStep 2: "
    c = TraceConstraint(office_scene.ids, level="sets")
    assert _feed(c, text) is None
    assert c.allows(str(n)) and not c.allows(str(n + 1)) and not c.allows("x")


def test_the_end_only_after_the_answer(office_scene):
    c = TraceConstraint(office_scene.ids)
    text = _target("filter(scene(), chair)", office_scene)
    for ch in text[:-1]:
        assert not c.allows_end()
        c.accept(ch)
    assert not c.allows_end()
    c.accept(text[-1])
    assert c.allows_end()


def test_a_forced_bad_piece_makes_the_constraint_step_aside(office_scene):
    c = TraceConstraint(office_scene.ids)
    c.accept("<think>\nnonsense")
    assert c.broken and c.allows("anything") and c.allows_end()


_ALPHABET = list("abcdefghijklmnopqrstuvwxyz_0123456789#(), .:\"<>/\n") + [
    "<think>", "Plan:", "Execution:", "</think>", "<answer>", "</answer>", "Step ", "IDs: ", "none",
    "filter(", "relate(", "relate_multi(", "relate_anchor(", "superlative(", "count(", "query(", "union(",
    "exclude(", "intersection(", "scene", "chair", "left", "closest", "between", "leftmost", "color", ", ",
    "No object matches the description."]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), thinking=st.booleans(), level=st.sampled_from(["format", "sets"]))
def test_random_walks_never_reach_a_dead_end(seed, thinking, level):
    """Whatever allowed pieces a decoder picks, some piece (or the end) stays allowed."""
    office_scene = office()
    rng = random.Random(seed)
    c = TraceConstraint(office_scene.ids, thinking=thinking, level=level, max_plan_steps=6)
    for _ in range(300):
        if c.finished:
            assert c.allows_end()
            break
        options = [p for p in _ALPHABET if c.allows(p)]
        assert options, f"dead end after {c.done_text + c.line!r}"
        # prefer structure-advancing pieces so walks reach the execution and the answer
        long = [p for p in options if len(p) > 1]
        c.accept(rng.choice(long if long and rng.random() < 0.7 else options))
        assert not c.broken
    text = c.done_text + c.line
    if c.finished:
        parsed = parse_trace(text)
        assert parsed.has_answer and not [e for e in parsed.errors if "not understood" in e], text


@pytest.fixture(scope="module")
def trace_model(tmp_path_factory):
    texts = ["<think>\nPlan:\n1. filter(scene, chair)\n2. relate(#1, #2, left)\nExecution:\nStep 1: 0, 3\n"
             "Step 2: none\n</think>\n<answer>\nIDs: 0, 3\n</answer>", "No object matches the description."]
    return build_tiny_model(texts=texts, seed=3, vocab_size=300, max_new_tokens=160)


def test_generate_with_a_constraint_writes_a_well_formed_prefix(trace_model, office_scene):
    prompt = trace_model.processor.encode_prompt("the chair left of the desk", office_scene)
    for temperature, n, level in ((0.0, 1, "format"), (1.0, 3, "format"), (0.0, 1, "sets")):
        cons = [TraceConstraint(office_scene.ids, level=level) for _ in range(n)]
        g = trace_model.generate(prompt, temperature=temperature, num_samples=n, constraints=cons,
                                 generator=torch.Generator().manual_seed(0))
        for text, c in zip(g.texts, cons):
            assert not c.broken, text
            fresh = TraceConstraint(office_scene.ids, level=level)
            assert _feed(fresh, text) is None, text  # what it wrote is allowed from the start
            assert text.startswith("<think>")
    with pytest.raises(ValueError, match="one constraint per sample"):
        trace_model.generate(prompt, num_samples=2, constraints=[TraceConstraint(office_scene.ids)])


def test_reasoner_switch_and_config(trace_model, office_scene):
    on = NeuralReasoner(model=trace_model, constrained="sets")
    off = NeuralReasoner(model=trace_model, constrained="off")
    assert on._constraints(office_scene)[0].level == "sets" and off._constraints(office_scene) is None
    assert NeuralReasoner(model=trace_model)._constraints(office_scene)[0].level == "format"  # config default
    trace_model.config.constrained_decoding = "off"
    try:
        assert NeuralReasoner(model=trace_model)._constraints(office_scene) is None
    finally:
        trace_model.config.constrained_decoding = "format"
    with pytest.raises(ValueError, match="constrained"):
        NeuralReasoner(model=trace_model, constrained=True)
    res = on.ground("the chair left of the desk", office_scene)
    assert res.status in ("ok", "no_match", "error") and res.trace.startswith("<think>")
    d = ApeiriaConfig().to_dict()
    d.pop("constrained_decoding")
    assert ApeiriaConfig.from_dict(d).constrained_decoding == "format"  # older checkpoints: on
    with pytest.raises(ConfigError, match="constrained_decoding"):
        ApeiriaConfig.from_dict({**d, "constrained_decoding": "yes"})


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(st.text(max_size=12), max_size=40), level=st.sampled_from(["format", "sets"]),
       ids=st.sets(st.integers(0, 300), max_size=12))
def test_arbitrary_pieces_never_raise(pieces, level, ids):
    """Any text a tokenizer might produce (unicode, newlines, digits) gets a yes or no, never an exception."""
    c = TraceConstraint(ids, level=level)
    for p in pieces:
        ok = c.allows(p)
        assert isinstance(ok, bool)
        c.accept(p)  # forcing a refused piece in is allowed: the constraint then steps aside
        assert isinstance(c.allows_end(), bool)
    if not c.broken:
        fresh = TraceConstraint(ids, level=level)
        assert _feed(fresh, "".join(pieces)) is None  # what was accepted piecewise is accepted charwise
