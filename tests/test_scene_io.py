"""Scene JSON v1: validation names the exact field; round trips; fuzzing never crashes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.sanitize import clean_text
from apeiria_model.scene import (
    Scene,
    SceneObject,
    SceneValidationError,
    box_gap,
    box_iou,
    load_scene,
    loads_scene,
    pairwise_iou,
    save_scene,
    scene_from_dict,
    scene_to_dict,
)


def _doc(**overrides):
    doc = {
        "scene_id": "s1",
        "objects": [
            {"id": 0, "label": "chair", "center": [0, 0, 0.45], "size": [0.5, 0.5, 0.9]},
            {"id": 3, "label": "coffee table", "center": [1, 0, 0.2], "size": [1.0, 0.6, 0.4],
             "color": "brown", "attributes": ["wooden"], "front": [0, 1, 0], "score": 0.9},
        ],
    }
    doc.update(overrides)
    return doc


def test_valid_scene_loads_with_all_optional_fields():
    scene = scene_from_dict(_doc(viewpoint={"position": [0, -3, 1.6], "look_at": [0, 0, 0.5]}, frame_id="odom"))
    assert scene.scene_id == "s1" and scene.frame_id == "odom"
    assert scene.ids == [0, 3]
    table = scene.get(3)
    assert table.label == "coffee table" and table.color == "brown"
    assert table.attributes == ("wooden",) and table.front == (0.0, 1.0, 0.0) and table.score == 0.9
    assert table.top == pytest.approx(0.4) and table.bottom == pytest.approx(0.0)
    assert scene.viewpoint is not None


@pytest.mark.parametrize(
    "mutate, path",
    [
        (lambda d: d["objects"][1]["size"].__setitem__(1, 0), "objects[1].size[1] must be > 0"),
        (lambda d: d["objects"][1]["size"].__setitem__(2, -1), "objects[1].size[2] must be > 0"),
        (lambda d: d["objects"][0].pop("label"), "objects[0].label is required"),
        (lambda d: d["objects"][0].__setitem__("id", -4), "objects[0].id must be an integer in [0, 2^31)"),
        (lambda d: d["objects"][0].__setitem__("id", 1.5), "objects[0].id must be an integer"),
        (lambda d: d["objects"][0].__setitem__("id", True), "objects[0].id must be an integer"),
        (lambda d: d["objects"][1].__setitem__("id", 0), "objects[1].id duplicates objects[0].id"),
        (lambda d: d["objects"][0].__setitem__("center", [0, 0]), "objects[0].center must have 3 elements"),
        (lambda d: d["objects"][0].__setitem__("center", [0, "x", 0]), "objects[0].center[1] must be a number"),
        (lambda d: d["objects"][0].__setitem__("center", [0, float("nan"), 0]), "objects[0].center[1] must be finite"),
        (lambda d: d["objects"][0].__setitem__("label", "  "), "objects[0].label must not be empty"),
        (lambda d: d["objects"][1].__setitem__("front", [0, 0, 0]), "objects[1].front must not be the zero vector"),
        (lambda d: d["objects"][1].__setitem__("attributes", "wooden"), "objects[1].attributes must be a list"),
        (lambda d: d.pop("scene_id"), "scene_id is required"),
        (lambda d: d.__setitem__("objects", {}), "objects must be a list"),
        (lambda d: d.__setitem__("viewpoint", {"position": [0, 0, 1]}), "viewpoint.look_at is required"),
    ],
)
def test_validation_names_the_offending_field(mutate, path):
    doc = _doc()
    mutate(doc)
    with pytest.raises(SceneValidationError) as err:
        scene_from_dict(doc)
    assert str(err.value).startswith(path)


def test_not_json_and_not_an_object():
    with pytest.raises(SceneValidationError, match="not valid JSON"):
        loads_scene("{nope")
    with pytest.raises(SceneValidationError, match="must be a JSON object"):
        loads_scene("[1, 2]")
    with pytest.raises(SceneValidationError, match="not valid JSON"):
        loads_scene(b"\xff\xfe\x00garbage")


def test_round_trip_and_atomic_save(tmp_path):
    scene = scene_from_dict(_doc())
    path = tmp_path / "sub" / "scene.json"
    save_scene(scene, path)
    assert load_scene(path) == scene
    assert scene_from_dict(json.loads(path.read_text())) == scene
    assert not list(path.parent.glob("*.tmp")), "temp file left behind"


def test_features_survive_only_when_asked():
    doc = _doc()
    doc["objects"][0]["features"] = [0.1, 0.2]
    scene = scene_from_dict(doc)
    assert scene.get(0).features == (0.1, 0.2)
    assert "features" not in scene_to_dict(scene)["objects"][0]
    assert scene_to_dict(scene, with_features=True)["objects"][0]["features"] == [0.1, 0.2]


def test_load_scene_error_names_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_doc(objects=[{"id": 0}])))
    with pytest.raises(SceneValidationError, match=r"objects\[0\]\.label is required \(in .*bad.json\)"):
        load_scene(bad)


def test_default_viewpoint_looks_from_minus_y(office_scene):
    bare = Scene("b", office_scene.objects)
    vp = bare.default_viewpoint()
    assert vp.position[1] < bare.bounds()[0][1]
    assert vp.forward()[1] == pytest.approx(1.0)
    assert vp.right()[0] == pytest.approx(1.0)  # viewer's right is +x
    assert office_scene.default_viewpoint() is office_scene.viewpoint


def test_geometry_hand_computed():
    # identical, half-overlapping, touching, disjoint, nested
    assert box_iou((0, 0, 0), (1, 1, 1), (0, 0, 0), (1, 1, 1)) == pytest.approx(1.0)
    assert box_iou((0, 0, 0), (2, 1, 1), (1, 0, 0), (2, 1, 1)) == pytest.approx(1 / 3)
    assert box_iou((0, 0, 0), (1, 1, 1), (1, 0, 0), (1, 1, 1)) == 0.0
    assert box_iou((0, 0, 0), (2, 2, 2), (0, 0, 0), (1, 1, 1)) == pytest.approx(1 / 8)
    assert box_gap((0, 0, 0), (1, 1, 1), (1, 0, 0), (1, 1, 1)) == 0.0
    assert box_gap((0, 0, 0), (1, 1, 1), (3, 4, 0.5), (1, 1, 1)) == pytest.approx((2**2 + 3**2) ** 0.5)
    m = pairwise_iou([(0, 0, 0), (5, 5, 5)], [(1, 1, 1)] * 2, [(0, 0, 0)], [(2, 2, 2)])
    assert m.shape == (2, 1) and m[0, 0] == pytest.approx(1 / 8) and m[1, 0] == 0.0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["id", "label", "center", "size", "color", "attributes", "front", "score", "features", "objects",
         "scene_id", "viewpoint", "position", "look_at", "frame_id"]), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzz_arbitrary_documents_never_crash(doc):
    try:
        scene = scene_from_dict(doc)
    except SceneValidationError as e:
        assert str(e)
    else:
        assert isinstance(scene, Scene)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes_never_crash(data):
    with pytest.raises(SceneValidationError):
        loads_scene(data)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(
    st.text(min_size=1, max_size=12).filter(lambda s: s.strip()),
    st.tuples(*[st.floats(-50, 50)] * 3),
    st.tuples(*[st.floats(0.01, 10)] * 3)), max_size=8))
def test_fuzz_valid_scenes_round_trip(items):
    scene = Scene("fz", tuple(SceneObject(i, lab.strip()[:256], c, s) for i, (lab, c, s) in enumerate(items)))
    again = scene_from_dict(json.loads(json.dumps(scene_to_dict(scene))))
    assert again.ids == scene.ids
    for a, b in zip(again, scene):
        assert a.label == clean_text(b.label).strip()  # control characters are replaced on load
        assert a.center == pytest.approx(b.center, abs=1e-5) and a.size == pytest.approx(b.size, abs=1e-5)
