"""The console's request checks (apeiria_ros/console/protocol.py), no ROS or browser: every
frame a page can send is a Request or a ProtocolError with a message, never another
exception; what the server sends is strict JSON."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apeiria_model.reasoning import load_reasoner
from apeiria_model.reasoning.base import MAX_INSTRUCTION_CHARS
from apeiria_model.scene import Scene, SceneObject
from apeiria_ros.console.protocol import (MAX_WAV_BYTES, ProtocolError, dumps, parse_request, result_to_json,
                                          scene_to_json)
from tests.fuzz.budget import FUZZ
from tests.ros.scenes import kitchen


def test_ground_request_is_normalised():
    r = parse_request(json.dumps({"type": "ground", "id": 7, "instruction": "  the   red\tmug ", "reasoner": "hybrid"}))
    assert (r.type, r.id, r.instruction, r.reasoner) == ("ground", "7", "the red mug", "hybrid")
    assert parse_request('{"type": "ping"}').type == "ping"


@pytest.mark.parametrize("frame, message", [
    ("{", "not JSON"),
    ("[]", "must be a JSON object"),
    ('{"id": "a"}', "needs a string 'type'"),
    ('{"type": "fly"}', "unknown request type 'fly'"),
    ('{"type": "ground", "id": true}', "'id' must be a string or an integer"),
    ('{"type": "ground", "id": "' + "x" * 65 + '"}', "at most 64 printable"),
    ('{"type": "ground", "instruction": null}', "'instruction' must be a string"),
    ('{"type": "ground", "instruction": "  "}', "the instruction is empty"),
    ('{"type": "ground", "instruction": "' + "a" * (MAX_INSTRUCTION_CHARS + 1) + '"}', "at most 2000 are accepted"),
    ('{"type": "ground", "instruction": "a\\u0000b"}', "control characters"),
    ('{"type": "ground", "instruction": "mug", "reasoner": "gpt"}', "'reasoner' must be one of"),
    ('{"type": "speech", "wav": ""}', "'wav' must be a base64 string"),
    ('{"type": "speech", "wav": "***"}', "not valid base64"),
    ("[" * 100000 + "]" * 100000, "not JSON"),
])
def test_bad_frames_get_a_message(frame, message):
    with pytest.raises(ProtocolError, match=None) as e:
        parse_request(frame)
    assert message in str(e.value)


def test_the_request_id_comes_back_with_its_error():
    with pytest.raises(ProtocolError) as e:
        parse_request('{"type": "ground", "id": "q9", "instruction": ""}')
    assert e.value.request_id == "q9"


def test_binary_frames_and_oversized_recordings_are_refused():
    with pytest.raises(ProtocolError, match="binary frames"):
        parse_request(b'{"type": "ping"}')
    big = base64.b64encode(b"\0" * (MAX_WAV_BYTES + 10)).decode()
    with pytest.raises(ProtocolError, match="larger than 4 MiB"):
        parse_request(json.dumps({"type": "speech", "wav": big}))
    ok = parse_request(json.dumps({"type": "speech", "id": "s", "wav": base64.b64encode(b"RIFF").decode()}))
    assert ok.wav == b"RIFF"


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=100),
                 st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=4),
                              max_leaves=12).map(json.dumps),
                 st.fixed_dictionaries({"type": st.sampled_from(["ground", "speech", "ping", "x"])},
                                       optional={"id": st.one_of(st.text(max_size=80), st.integers(), st.floats()),
                                                 "instruction": st.one_of(st.text(max_size=80), st.integers()),
                                                 "reasoner": st.one_of(st.text(max_size=10), st.none()),
                                                 "wav": st.text(max_size=40)}).map(json.dumps)))
def test_fuzz_any_frame_is_a_request_or_a_protocol_error(frame):
    try:
        r = parse_request(frame)
    except ProtocolError as e:
        assert str(e)
        return
    assert r.type in ("ground", "speech", "ping")
    if r.type == "ground":
        assert r.instruction and r.instruction == " ".join(r.instruction.split())
        assert len(r.instruction) <= MAX_INSTRUCTION_CHARS


def test_scene_and_result_json_are_strict_and_complete():
    scene = kitchen()
    doc = json.loads(dumps({"type": "scene", "scene": scene_to_json(scene, "file k.json")}))["scene"]
    assert [o["id"] for o in doc["objects"]] == [10, 11, 12]
    assert doc["objects"][1]["describe"] == "green bowl" and doc["objects"][1]["size"] == [0.2, 0.2, 0.1]
    assert doc["viewpoint"]["given"] is False  # the default viewpoint, drawn so left/right read right
    res = load_reasoner("symbolic").ground("the bowl on the table", scene)
    out = result_to_json(res, scene.scene_id, "srv-1")
    assert [t["id"] for t in out["targets"]] == [11] and out["anchors"] == [10]
    assert out["scene_id"] == "kitchen_test" and all("verified" in s for s in out["steps"])
    json.loads(dumps(out))
    with pytest.raises(ValueError):
        dumps({"x": float("nan")})  # never invalid JSON on the wire
    weird = Scene("w", (SceneObject(1, "box", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), score=float("nan")),))
    assert scene_to_json(weird, "t")["objects"][0]["score"] is None
