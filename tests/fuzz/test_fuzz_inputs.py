"""Fuzzing every way in (issue: bad input never crashes anything): the scene loader, the
instruction parser and reasoner, the trace parser and the frame validator. Each target
accepts what it gets or refuses it with its own error type; anything else is a bug.
`make test` runs a few hundred cases each; `make fuzz` runs 100000 (docs/robustness.md)."""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from apeiria_model.language.instruction_parser import ParseOutcome, parse_instruction
from apeiria_model.perception.frame import CameraIntrinsics, RGBDFrame
from apeiria_model.perception.projection import FrameError, validate_frame
from apeiria_model.programs.concepts import LexicalConceptMatcher
from apeiria_model.programs.trace_parse import ParsedTrace, parse_trace
from apeiria_model.reasoning.result import STATUSES
from apeiria_model.reasoning.symbolic import SymbolicReasoner
from apeiria_model.scene.io import SceneValidationError, load_scene, loads_scene
from apeiria_model.scene.model import Scene
from tests.fuzz.budget import FUZZ
from tests.fuzz.strategies import ANY_JSON, HOSTILE_NUMBER, HOSTILE_TEXT, SENTENCES, scene_documents

DEMO = load_scene("apeiria_model/assets/scenes/demo_living_room.json")
REASONER = SymbolicReasoner(matcher=LexicalConceptMatcher(), answer_mode="single")
REFUSALS = ("empty instruction", "instruction is not valid UTF-8", "instruction too long")  # reject_bad_request
TRACE = REASONER.ground("the lamp closest to the sofa", DEMO).trace


def _clean(text: str) -> bool:
    return not any(ord(ch) < 32 and ch not in "\n\t" or 0xD800 <= ord(ch) <= 0xDFFF or ch == "\x7f" for ch in text)


@FUZZ
@given(st.one_of(scene_documents(), ANY_JSON))
def test_fuzz_scene_loader(doc):
    try:
        text = json.dumps(doc, allow_nan=True)
    except (ValueError, OverflowError):  # not representable as JSON text at all
        return
    try:
        scene = loads_scene(text)
    except SceneValidationError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert isinstance(scene, Scene)
    for obj in scene:
        assert 0 <= obj.id < 2 ** 31 and all(math.isfinite(v) for v in (*obj.center, *obj.size))
        assert _clean(obj.label)


@FUZZ
@given(st.binary(max_size=200) | HOSTILE_TEXT)
def test_fuzz_scene_loader_raw_text(raw):
    try:
        loads_scene(raw)
    except SceneValidationError:
        pass


@FUZZ
@given(SENTENCES)
def test_fuzz_instruction_parser_and_reasoner(text):
    assert isinstance(parse_instruction(text), ParseOutcome)
    result = REASONER.ground(text, DEMO)
    assert result.status in STATUSES
    assert result.status != "error" or result.message.startswith(REFUSALS), result.message
    assert _clean(result.trace)


@FUZZ
@given(st.one_of(HOSTILE_TEXT, SENTENCES, st.tuples(st.integers(0, len(TRACE)), st.integers(0, len(TRACE)), HOSTILE_TEXT)
                 .map(lambda t: TRACE[:min(t[:2])] + t[2] + TRACE[max(t[:2]):])))
def test_fuzz_trace_parser(text):
    assert isinstance(parse_trace(text), ParsedTrace)


@FUZZ
@given(w=st.integers(1, 8) | HOSTILE_NUMBER, h=st.integers(1, 8) | HOSTILE_NUMBER,
       f=st.floats(0.5, 20) | HOSTILE_NUMBER, c=st.floats(0, 8) | HOSTILE_NUMBER,
       pose=st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.floats(-2, 2), min_size=16, max_size=16),
       identity=st.booleans(), depth=st.floats(allow_nan=True, allow_infinity=True) | st.floats(0.3, 5))
def test_fuzz_frame_validator(w, h, f, c, pose, identity, depth):
    try:
        intr = CameraIntrinsics(w, h, f, f, c, c)
        shape = (int(h), int(w))
        if not (0 < shape[0] <= 64 and 0 < shape[1] <= 64):
            shape = (4, 4)
    except (TypeError, ValueError, OverflowError):
        return  # the dataclass itself refused the values
    matrix = np.eye(4) if identity else np.array(pose, dtype=float).reshape(4, 4)
    frame = RGBDFrame(np.zeros(shape + (3,), np.uint8), np.full(shape, depth, np.float32), intr, matrix)
    try:
        validate_frame(frame)
    except FrameError as e:
        assert str(e)


def test_regression_escape_and_bell_never_reach_the_trace():
    """Found by the fuzzer: an instruction's ESC / BEL were echoed raw into the text trace."""
    result = REASONER.ground("the \x1b[2Jlamp\x07 closest to the sofa", DEMO)
    assert result.status == "ok" and "\x1b" not in result.trace and "\x07" not in result.trace
    assert "\x1b" not in result.instruction


def test_regression_huge_integer_intrinsics_are_a_frame_error():
    """Found by the fuzzer: a 400-digit focal length raised TypeError inside numpy."""
    frame = RGBDFrame(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.float32),
                      CameraIntrinsics(4, 4, 10 ** 400, 10 ** 400, 2, 2), np.eye(4))
    try:
        validate_frame(frame)
    except FrameError as e:
        assert "fx must be a finite number" in str(e) and "401 digits" in str(e)
    else:
        raise AssertionError("a 400-digit focal length was accepted")


def test_regression_control_characters_in_a_python_scene_never_reach_the_trace():
    """A Scene built in Python skips the JSON loader: the reasoner grounds on the cleaned copy."""
    import dataclasses

    objects = tuple(dataclasses.replace(o, label="sofa\x1b") if o.label == "sofa" else o for o in DEMO.objects)
    result = REASONER.ground("the sofa", dataclasses.replace(DEMO, objects=objects))
    assert result.status == "ok" and "sofa\ufffd" in result.trace  # the label is in the trace, cleaned
    assert "\x1b" not in result.trace and "\x1b" not in str(result.to_dict())
