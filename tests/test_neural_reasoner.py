"""Neural + hybrid reasoners: JSON contract, verification flags, fallbacks, bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from apeiria_model.model.tiny import build_tiny_model
from apeiria_model.model.trace_format import expand_answer, read_output, to_model_target
from apeiria_model.programs import parse_program
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.trace import render_trace
from apeiria_model.reasoning.hybrid import HybridReasoner
from apeiria_model.reasoning.neural import NeuralReasoner, plan_program
from apeiria_model.reasoning.result import STATUSES
from apeiria_model.reasoning.symbolic import SymbolicReasoner
from apeiria_model.scene import Scene, SceneObject
from tests.scripted_neural import ScriptedNeural as _Scripted

PROGRAM = "relate(filter(scene(), mug), filter(scene(), desk), on)"


@pytest.fixture(scope="module")
def reasoner():
    return NeuralReasoner(model=build_tiny_model())


def _gold_target(scene, program=PROGRAM, instruction="the mug on the desk"):
    prog = parse_program(program)
    res = Executor().execute(prog, scene)
    return to_model_target(render_trace(instruction, prog, res, scene, style="compact")), res


def _check_contract(r):
    d = r.to_dict()
    json.dumps(d)
    assert d["status"] in STATUSES and d["reasoner"] in ("neural", "hybrid")
    assert isinstance(d["latency_ms"], float) and isinstance(d["message"], str)
    for t in d["targets"]:
        assert set(t) == {"id", "label", "center", "size", "score"}
    for s in d["steps"]:
        assert s["verified"] in (True, False, None)
    return d


def test_untrained_model_gives_valid_result(reasoner, office_scene):
    r = reasoner.ground("the red mug on the desk", office_scene)
    d = _check_contract(r)
    assert d["verified"] in (True, False)            # verification ran (thinking model)
    assert all(isinstance(s["verified"], bool) for s in d["steps"])
    assert r.status != "ok" or r.targets            # ok always comes with targets
    assert all(office_scene.has(t.id) for t in r.targets)


@pytest.mark.parametrize("instruction,scene_kind,needle", [
    (None, "office", "must be a string"),
    ("", "office", "empty instruction"),
    ("x" * 5000, "office", "too long"),
    ("bad \udc80 text", "office", "UTF-8"),
    ("the mug", "not a scene", "must be a Scene"),
    ("the mug", "empty", "no objects"),
    ("the mug", "huge", "at most"),
])
def test_bad_input_never_raises(reasoner, office_scene, instruction, scene_kind, needle):
    scene = {"office": office_scene, "not a scene": {"objects": []}, "empty": Scene("e", ()),
             "huge": Scene("h", tuple(SceneObject(i, "box", (i * 0.01, 0, 0), (0.1, 0.1, 0.1)) for i in range(500)))}[scene_kind]
    r = reasoner.ground(instruction, scene)  # type: ignore[arg-type]
    _check_contract(r)
    assert r.status in ("error", "no_match") and needle in r.message


def test_gold_trace_reads_back_verified(reasoner, office_scene):
    target, res = _gold_target(office_scene)
    assert "IDs: 1, 2" in target and "at (" not in target  # the model writes IDs, not boxes
    out = read_output(target, office_scene, n_tokens=40)
    assert out.answer_ids == [1, 2] and out.structure.in_order
    r = reasoner.result_from_output("the mug on the desk", office_scene, out)
    _check_contract(r)
    assert r.status == "ok" and r.verified is True and r.target_ids == [1, 2]
    assert all(s.verified for s in r.steps) and [s.op for s in r.steps] == ["filter", "filter", "relate"]
    assert r.program == PROGRAM
    assert "Object 1: mug at (-0.40, 1.50, 0.80)" in r.trace  # boxes come from the scene


def test_wrong_step_is_flagged(reasoner, office_scene):
    target, _ = _gold_target(office_scene)
    bad = target.replace("Step 1: 1, 2", "Step 1: 1, 3")   # lamp is not a mug
    r = reasoner.result_from_output("the mug on the desk", office_scene, read_output(bad, office_scene, 40))
    assert r.verified is False
    assert r.steps[0].verified is False and r.steps[1].verified is True
    assert "verification failed" in r.message


def test_unknown_ids_and_no_answer(reasoner, office_scene):
    text, ids, invalid = expand_answer("<answer>\nIDs: 2, 99\n</answer>", office_scene)
    assert ids == [2, 99] and invalid == [99] and "Object 2: mug" in text and "99" not in text
    r = reasoner.result_from_output("x", office_scene, read_output("garbage output", office_scene, 2))
    assert r.status == "error" and "no readable answer" in r.message
    none = read_output(to_model_target(_gold_target(office_scene, "filter(scene(), sofa)")[0]), office_scene, 20)
    r2 = reasoner.result_from_output("the sofa", office_scene, none)
    assert r2.status == "no_match" and r2.verified is True


def test_count_answer(reasoner, office_scene):
    target, _ = _gold_target(office_scene, "count(filter(scene(), chair))", "how many chairs")
    r = reasoner.result_from_output("how many chairs", office_scene, read_output(target, office_scene, 30))
    assert r.answer == 2 and sorted(r.target_ids) == [4, 5] and r.verified is True


def test_plan_program_reconstruction(office_scene):
    target, _ = _gold_target(office_scene, 'relate_anchor(filter(scene(), mug), filter(scene(), window), closest)')
    out = read_output(target, office_scene, 30)
    assert plan_program(out.parsed) == "relate_anchor(filter(scene(), mug), filter(scene(), window), closest)"



class _Symbolic(SymbolicReasoner):
    """The real symbolic reasoner, counting how often the hybrid asks it."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def ground(self, instruction, scene):
        self.calls += 1
        return super().ground(instruction, scene)


class _NoParse(_Symbolic):
    def ground(self, instruction, scene):
        from apeiria_model.reasoning.result import GroundingResult
        self.calls += 1
        return GroundingResult(instruction, "unparsed", "symbolic", message="no parse")


def test_hybrid_paths(reasoner, office_scene):
    """A verified symbolic parse answers first; without one a verified neural trace; a
    step's claim wrong -> the plan executed symbolically; nothing usable -> the symbolic
    answer, unverified (the plan-execution rule in full: tests/test_answer_check.py)."""
    model = reasoner.model
    gold, _ = _gold_target(office_scene)
    sym = _Symbolic()
    first = HybridReasoner(neural=_Scripted(model, gold), symbolic=sym).ground("the mug on the desk", office_scene)
    assert first.verified and "symbolic parse verified" in first.message and sym.calls == 1
    none = _NoParse()
    ok = HybridReasoner(neural=_Scripted(model, gold), symbolic=none).ground("the mug on the desk", office_scene)
    assert ok.reasoner == "hybrid" and ok.verified and "neural trace verified" in ok.message
    bad = gold.replace("Step 3: 1, 2", "Step 3: 1")
    fixed = HybridReasoner(neural=_Scripted(model, bad), symbolic=none).ground("the mug on the desk", office_scene)
    assert "failed the steps check" in fixed.message and "executed the neural plan symbolically" in fixed.message
    assert fixed.target_ids == [1, 2] and fixed.verified is True
    _check_contract(fixed)
    fb = HybridReasoner(neural=_Scripted(model, "<answer>\nIDs: 3\n</answer>"), symbolic=none).ground("the lamp",
                                                                                                    office_scene)
    assert "answered by the symbolic parse, unverified" in fb.message and fb.reasoner == "hybrid"
    assert fb.status == "unparsed" and fb.verified is not True and fb.failed_check == "steps"


_FUZZ_SCENE = Scene("fuzz", (SceneObject(0, "desk", (0.0, 1.5, 0.375), (1.4, 0.7, 0.75)),
                             SceneObject(1, "mug", (-0.4, 1.5, 0.8), (0.08, 0.08, 0.1))))
_PIECES = ["<think>", "</think>", "<answer>", "</answer>", "Plan:", "Execution:", "Step 1: ", "1. ",
           "filter(scene, mug)", "relate(#1, #2, on)", "IDs: ", "0", "1", "99", ", ", "\n", "none",
           "No object matches the description."]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=6), max_size=30))
def test_any_generation_gives_a_valid_result(pieces):
    """Whatever the model writes, reading it never raises and the contract holds."""
    text = "".join(pieces)
    out = read_output(text, _FUZZ_SCENE, n_tokens=len(pieces))
    r = _FUZZ_REASONER.result_from_output("the mug", _FUZZ_SCENE, out)
    d = _check_contract(r)
    assert all(_FUZZ_SCENE.has(t["id"]) for t in d["targets"])
    if r.verified:
        assert r.status in ("ok", "no_match") and all(s.verified for s in r.steps)


_FUZZ_REASONER = NeuralReasoner(model=build_tiny_model())


def test_shipped_checkpoint_through_load_reasoner(office_scene):
    """The default checkpoint ships in the package and answers with the full contract."""
    from apeiria_model.reasoning import load_reasoner
    from apeiria_model.reasoning.neural import DEFAULT_CHECKPOINT

    assert (DEFAULT_CHECKPOINT / "model.safetensors").stat().st_size < 25 * 1024 * 1024
    r = load_reasoner("neural")
    assert isinstance(r, NeuralReasoner) and r.name == "neural"
    res = r.ground("the red mug on the desk", office_scene)
    d = _check_contract(res)
    assert d["status"] in ("ok", "no_match", "error") and d["verified"] in (True, False)
    assert all(isinstance(s["verified"], bool) for s in d["steps"])
    h = load_reasoner("hybrid")
    assert isinstance(h, HybridReasoner)
    hd = _check_contract(h.ground("the red mug on the desk", office_scene))
    assert hd["reasoner"] == "hybrid" and hd["message"]


def test_trace_lines_stream_while_decoding_and_match_the_generation(office_scene):
    """on_line sees every non-empty line of what the model wrote, in order, during decoding."""
    r = NeuralReasoner()  # the shipped checkpoint: it writes real multi-line traces
    seen: list[tuple[str, int]] = []
    tokens_at_call: list[int] = []
    original = r.model.generate

    def spy_generate(*args, on_token=None, **kw):
        def counting(tok):
            tokens_at_call.append(tok)
            on_token(tok)
        return original(*args, on_token=counting if on_token else None, **kw)

    r.model.generate = spy_generate
    res = r.ground("the mug on the desk", office_scene,
                   on_line=lambda line: seen.append((line, len(tokens_at_call))))
    assert res.status in STATUSES
    written = r.model.tokenizer.decode(tokens_at_call)
    assert [line for line, _ in seen] == [ln.strip() for ln in written.split("\n") if ln.strip()]
    assert len(seen) >= 3 and seen[0][0].startswith("<think>")
    # streamed, not replayed at the end: the first line arrived before the last token
    assert seen[0][1] < len(tokens_at_call)


def test_hybrid_passes_the_line_stream_through(office_scene):
    lines: list[str] = []
    h = HybridReasoner(neural=NeuralReasoner(), symbolic=_NoParse())  # no parse: the model runs
    res = h.ground("the mug on the desk", office_scene, on_line=lines.append)
    assert res.reasoner == "hybrid" and lines and lines[0].startswith("<think>")


def test_shipped_model_takes_a_scene_of_real_size():
    """Real scans hold up to 132 objects: the shipped checkpoint takes 200 (IDs 0..199 are
    one token each, so the pointer head can copy every one; the prompt fits the context),
    and constrained decoding over 200 IDs gives a valid, checked result."""
    import random
    rng = random.Random(0)
    labels = ["chair", "table", "door", "lamp", "window", "cabinet", "bed", "pillow"]
    scene = Scene("real_size", tuple(
        SceneObject(i, labels[i % len(labels)], (rng.uniform(0, 10), rng.uniform(0, 10), 0.4), (0.5, 0.5, 0.9))
        for i in range(200)))
    r = NeuralReasoner(max_new_tokens=48)
    assert r.model.config.max_objects >= 200
    prompt = r.model.processor.encode_prompt("the lamp closest to the door", scene)
    assert all(len(r.model.processor._id_tokens(i)) == 1 for i in scene.ids)
    assert len(prompt.input_ids) + r.model.config.max_new_tokens <= r.model.config.backbone.max_positions
    res = r.ground("the lamp closest to the door", scene)
    d = _check_contract(res)
    assert res.status != "error", res.message
    assert all(scene.has(t["id"]) for t in d["targets"]) and res.verified in (True, False)
