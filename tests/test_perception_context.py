"""Room-context relabelling and soft votes: known answers on toy rooms, files, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.perception.object_map import MapConfig, MapFormatError, ObjectMap
from apeiria_model.perception.pipeline import ConfigError, PerceptionConfig
from apeiria_model.perception.room_context import DEFAULT_CONTEXT, RoomContext, RoomContextError
from apeiria_model.perception.segment import Segment

ROOMS = ([("office", ["desk", "chair", "monitor", "keyboard"])] * 5
         + [("dining_room", ["dining table", "chair", "plate", "plate", "vase"])] * 5)


@pytest.fixture(scope="module")
def ctx() -> RoomContext:
    return RoomContext.fit(ROOMS)


TIE = {"desk": 0.5, "dining table": 0.5}


def test_the_rest_of_the_room_breaks_a_tie_between_look_alikes(ctx):
    office = ctx.relabel([TIE, {"monitor": 1.0}, {"keyboard": 0.9}])
    dining = ctx.relabel([TIE, {"plate": 1.0}, {"vase": 0.8, "monitor": 0.2}])
    assert office[0][0] == "desk" and office[0][1] > 0.5
    assert dining[0][0] == "dining table" and dining[0][1] > 0.5
    # objects that fit the room keep their labels
    assert office[1][0] == "monitor" and dining[1][0] == "plate"


def test_strength_zero_is_the_plain_vote_and_a_confident_label_survives_context(ctx):
    out = ctx.relabel([{"desk": 0.4, "dining table": 0.6}, {"monitor": 1.0}], strength=0.0)
    assert out[0] == ("dining table", pytest.approx(0.6))
    sure = ctx.relabel([{"desk": 0.02, "dining table": 0.98}, {"monitor": 1.0}])
    assert sure[0][0] == "dining table"


def test_an_object_is_not_its_own_context(ctx):
    # alone in the map: only the room-type prior (5 / 5) speaks, so the tie stays a tie
    (alone,) = ctx.relabel([TIE])
    assert alone[1] == pytest.approx(0.5)


def test_unknown_labels_and_empty_votes_pass_through(ctx):
    out = ctx.relabel([{"piano": 1.0}, {}, {"desk": float("nan"), "chair": 1.0}, {"monitor": 1.0}])
    assert out[0] == ("piano", 1.0) and out[1] is None and out[2][0] == "chair"


def test_round_trip_and_damaged_files(ctx, tmp_path):
    p = tmp_path / "ctx.json"
    ctx.save(p)
    again = RoomContext.load(p)
    assert again.labels == ctx.labels and again.room_types == ctx.room_types
    np.testing.assert_allclose(again.log_p_label, ctx.log_p_label, atol=1e-6)
    doc = json.loads(p.read_text())
    cases = {
        "missing.json": None,
        "text.json": b"\xff\xfe not json",
        "format.json": json.dumps({**doc, "format": "other"}),
        "shape.json": json.dumps({**doc, "log_prior": doc["log_prior"][:1]}),
        "positive.json": json.dumps({**doc, "log_prior": [0.5] * len(doc["log_prior"])}),
        "field.json": json.dumps({k: v for k, v in doc.items() if k != "labels"}),
    }
    for name, content in cases.items():
        f = tmp_path / name
        if content is not None:
            f.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(RoomContextError):
            RoomContext.load(f)


def test_fit_and_relabel_refuse_bad_input(ctx):
    with pytest.raises(RoomContextError, match="no rooms"):
        RoomContext.fit([])
    with pytest.raises(RoomContextError, match="no labelled objects"):
        RoomContext.fit([("office", [])])
    for bad in (-1.0, float("nan"), "1"):
        with pytest.raises(RoomContextError, match="strength"):
            ctx.relabel([TIE], strength=bad)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["desk", "dining table", "chair", "plate", "monitor", "piano"]),
                                st.floats(min_value=0, max_value=5, allow_nan=False), max_size=4), max_size=8))
def test_relabel_always_returns_one_of_the_voted_labels(votes):
    c = RoomContext.fit(ROOMS)
    for d, out in zip(votes, c.relabel(votes)):
        if any(v > 0 for v in d.values()):
            assert out[0] in d and 0.0 <= out[1] <= 1.0
        else:
            assert out is None


def _segment(x: float, probs: dict[str, float]) -> Segment:
    pts = np.random.default_rng(int(x * 10)).uniform([x, 0, 0], [x + 0.4, 0.4, 0.4], (200, 3))
    label = max(probs, key=probs.get)
    return Segment(np.zeros((200, 2), int), pts, np.full((200, 3), 120, np.uint8), label, probs[label],
                   class_probs=probs)


def test_map_publishes_context_labels_and_soft_votes(ctx, tmp_path):
    path = tmp_path / "ctx.json"
    ctx.save(path)
    segs = [_segment(0.0, {"dining table": 0.45, "desk": 0.40}), _segment(2.0, {"monitor": 0.9}),
            _segment(4.0, {"keyboard": 0.8})]
    plain = ObjectMap(MapConfig(min_observations=1))
    plain.update(segs)
    assert plain.to_scene().objects[0].label == "dining table"
    soft = ObjectMap(MapConfig(min_observations=1, soft_votes=True))
    soft.update(segs)
    soft.update(segs)
    assert soft.objects[0].votes == pytest.approx({"dining table": 0.9, "desk": 0.8})
    both = ObjectMap(MapConfig(min_observations=1, soft_votes=True, context_strength=1.0, context_file=str(path)))
    both.update(segs)
    assert [o.label for o in both.to_scene().objects] == ["desk", "monitor", "keyboard"]
    saved = tmp_path / "map.json"
    both.save(saved)
    assert [o.label for o in ObjectMap.load(saved).to_scene().objects] == ["desk", "monitor", "keyboard"]


def test_a_missing_context_file_fails_when_the_map_is_built(tmp_path):
    with pytest.raises(RoomContextError, match="no such file"):
        ObjectMap(MapConfig(context_strength=1.0, context_file=str(tmp_path / "nope.json")))
    m = ObjectMap(MapConfig(context_strength=1.0, context_file=str(DEFAULT_CONTEXT)))
    m.save(tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    doc["config"]["context_file"] = str(tmp_path / "gone.json")
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(MapFormatError, match="context_file"):
        ObjectMap.load(tmp_path / "m.json")


def test_config_refuses_a_negative_context_strength(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("map:\n  context_strength: -1\n")
    with pytest.raises(ConfigError, match="context_strength"):
        PerceptionConfig.from_yaml(f)


def test_shipped_context_knows_every_room_type_of_the_generator():
    from apeiria_model.data.categories import ROOM_TYPES
    c = RoomContext.load(DEFAULT_CONTEXT)
    assert set(c.room_types) == set(ROOM_TYPES) and c.n_rooms >= 100
