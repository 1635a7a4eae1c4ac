"""Geometric segmentation and object-map fusion on exact toy frames (floor + boxes)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from apeiria_model.perception.colors import color_name
from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.object_map import MapConfig, MapFormatError, ObjectMap
from apeiria_model.perception.pipeline import ConfigError, PerceptionConfig, PerceptionPipeline
from apeiria_model.perception.projection import validate_frame
from apeiria_model.perception.segment import Segment
from apeiria_model.perception.segmenters.geometric import GeometricSegmenter
from apeiria_model.perception.toy_frames import ToyBox, look_at, render_boxes
from apeiria_model.scene.io import scene_from_dict, scene_to_dict

K = CameraIntrinsics.from_fov(320, 240)
DESK = ToyBox((0.0, 2.0, 0.375), (1.4, 0.7, 0.75), (139, 90, 43))
MUG = ToyBox((-0.3, 1.9, 0.8), (0.08, 0.08, 0.1), (200, 30, 30))
CHAIR = ToyBox((1.2, 1.2, 0.45), (0.5, 0.5, 0.9), (30, 30, 200))


def _view(boxes, eye=(0.0, -0.5, 1.5), target=(0.0, 2.0, 0.5)):
    return render_boxes(boxes, K, look_at(eye, target))


def _purity(frame, segments):
    """Per segment: (dominant GT id, share of its pixels)."""
    out = []
    for s in segments:
        ids = frame.instance_ids[s.pixels[:, 0], s.pixels[:, 1]]
        vals, counts = np.unique(ids, return_counts=True)
        out.append((int(vals[np.argmax(counts)]), counts.max() / counts.sum()))
    return out


def test_geometric_segments_one_per_box_including_object_on_desk():
    frame = validate_frame(_view([DESK, MUG, CHAIR]))
    segs = GeometricSegmenter().segment(frame)
    purity = _purity(frame, segs)
    assert sorted(g for g, _ in purity) == [0, 1, 2]
    assert all(p > 0.95 for _, p in purity)
    for s in segs:  # floor (z = 0) removed, points are world points on the boxes
        assert s.points[:, 2].min() > 0.02 and s.label is None and s.confidence is None


def test_all_background_frame_gives_no_segments_and_no_objects():
    frame = _view([])
    assert GeometricSegmenter().segment(validate_frame(frame)) == []
    p = PerceptionPipeline("geometric")
    rep = p.process(frame)
    assert rep.ok and rep.segments == 0 and len(p.scene()) == 0


def test_same_object_seen_twice_is_one_object_with_stable_id():
    p = PerceptionPipeline("geometric")
    ids = []
    for x in (-1.0, -0.5, 0.0, 0.5, 1.0):
        rep = p.process(_view([CHAIR], eye=(x, -0.5, 1.5), target=(1.2, 1.2, 0.45)))
        assert rep.ok, rep.error
        ids.append(tuple(p.scene().ids))
    scene = p.scene()
    assert len(scene) == 1
    assert all(i == ids[-1] for i in ids[1:])  # published from the 2nd frame on, never renumbered
    obj = scene.objects[0]
    np.testing.assert_allclose(obj.center, CHAIR.center, atol=0.05)
    np.testing.assert_allclose(obj.size, CHAIR.size, atol=0.08)
    assert obj.color == "blue" and obj.label == "object" and 0 < obj.score <= 1


def test_bad_frames_are_reported_and_do_not_touch_the_map():
    p = PerceptionPipeline("geometric")
    good = _view([CHAIR])
    p.process(good)
    p.process(good)
    before = p.scene()
    bad = [
        replace(good, depth=np.full_like(good.depth, np.nan)),
        replace(good, depth=np.zeros_like(good.depth)),
        replace(good, color=good.color[:10]),
        replace(good, camera_to_world=np.full((4, 4), np.inf)),
        replace(good, depth=good.depth.astype(np.int64)),
    ]
    for f in bad:
        rep = p.process(f)
        assert not rep.ok and rep.error
    assert p.scene() == before
    assert p.process(good).ok


def test_nan_holes_in_depth_are_tolerated():
    f = _view([DESK, CHAIR])
    d = f.depth.copy()
    d[::7, ::5] = np.nan
    d[100:140, 100:200] = 0.0
    rep = PerceptionPipeline("geometric").process(replace(f, depth=d))
    assert rep.ok and rep.segments >= 1


def test_stale_object_is_removed_and_ids_are_never_reused():
    cfg = PerceptionConfig()
    cfg.map.stale_frames = 3
    p = PerceptionPipeline("geometric", cfg)
    for _ in range(2):
        p.process(_view([DESK, CHAIR]))
    assert len(p.scene()) == 2
    chair_id = max(p.scene().ids, key=lambda i: p.scene().get(i).center[0])
    for _ in range(3):  # the chair is gone but its place is in view
        p.process(_view([DESK]))
    assert chair_id not in p.scene().ids and len(p.scene()) == 1
    for _ in range(2):
        p.process(_view([DESK, CHAIR]))
    new_ids = set(p.scene().ids)
    assert len(new_ids) == 2 and chair_id not in new_ids  # the chair comes back with a fresh id


def test_segment_spanning_two_objects_merges_them_into_the_older_id():
    m = ObjectMap(MapConfig(min_observations=1, merge_objects=True))
    a = np.random.default_rng(0).uniform([0, 0, 0], [0.3, 0.3, 0.5], (300, 3))
    b = a + [0.3, 0, 0]
    col = np.full((300, 3), 100, np.uint8)
    m.update([Segment(np.zeros((300, 2), int), a, col)])
    m.update([Segment(np.zeros((300, 2), int), b, col)])
    assert sorted(m.objects) == [0, 1]
    both = np.concatenate([a, b])
    m.update([Segment(np.zeros((600, 2), int), both, np.concatenate([col, col]))])
    assert sorted(m.objects) == [0] and m.next_id == 2


def test_without_merging_a_spanning_segment_joins_the_best_object_only():
    m = ObjectMap(MapConfig(min_observations=1, merge_objects=False))
    a = np.random.default_rng(0).uniform([0, 0, 0], [0.3, 0.3, 0.5], (300, 3))
    col = np.full((300, 3), 100, np.uint8)
    m.update([Segment(np.zeros((300, 2), int), a, col)])
    m.update([Segment(np.zeros((300, 2), int), a + [0.3, 0, 0], col)])
    m.update([Segment(np.zeros((400, 2), int), np.concatenate([a, a[:100] + [0.3, 0, 0]]), np.full((400, 3), 100))])
    assert sorted(m.objects) == [0, 1]


def test_published_scene_drops_boxes_inside_bigger_ones():
    m = ObjectMap(MapConfig(min_observations=1))
    rng = np.random.default_rng(2)
    big = rng.uniform([0, 0, 0], [1.0, 1.0, 1.0], (2000, 3))
    small = rng.uniform([0.4, 0.4, 0.4], [0.6, 0.6, 0.6], (200, 3))
    m.update([Segment(np.zeros((2000, 2), int), big, np.full((2000, 3), 100, np.uint8)),
              Segment(np.zeros((200, 2), int), small, np.full((200, 3), 200, np.uint8))])
    assert len(m.objects) == 2 and len(m.to_scene("s")) == 1


def test_label_votes_and_features_are_fused():
    m = ObjectMap(MapConfig(min_observations=1))
    pts = np.random.default_rng(1).uniform(0, 0.4, (200, 3))
    col = np.full((200, 3), [200, 30, 30], np.uint8)
    for label, conf, feat in (("mug", 0.9, [1.0, 0.0]), ("cup", 0.4, [0.0, 1.0]), ("mug", 0.8, [1.0, 0.0])):
        m.update([Segment(np.zeros((200, 2), int), pts, col, label, conf, np.array(feat))])
    scene = m.to_scene("t")
    (obj,) = scene.objects
    assert obj.label == "mug" and obj.score == pytest.approx(1.7 / 2.1)
    np.testing.assert_allclose(obj.features, [2 / 3, 1 / 3])
    assert obj.color == "red"
    again = scene_from_dict(scene_to_dict(scene, with_features=True))  # valid Scene JSON v1
    assert again.objects[0].label == "mug" and again.objects[0].features is not None
    np.testing.assert_allclose(again.objects[0].center, obj.center, atol=1e-5)


def test_touching_objects_with_the_same_label_publish_as_one():
    m = ObjectMap(MapConfig(min_observations=1, publish_merge_gap=0.03))
    rng = np.random.default_rng(4)
    a = rng.uniform([0, 0, 1.0], [0.5, 0.04, 1.8], (300, 3))
    b = rng.uniform([0.52, 0, 1.0], [1.2, 0.04, 1.8], (300, 3))
    far = rng.uniform([3, 0, 1.0], [3.5, 0.04, 1.8], (300, 3))
    col = np.full((300, 3), 240, np.uint8)
    m.update([Segment(np.zeros((300, 2), int), a, col, "whiteboard", 0.9),
              Segment(np.zeros((300, 2), int), b, col, "whiteboard", 0.8),
              Segment(np.zeros((300, 2), int), far, col, "whiteboard", 0.9)])
    assert len(m.objects) == 3
    scene = m.to_scene("s")
    assert len(scene) == 2 and min(scene.ids) == min(m.objects)
    joined = scene.get(min(scene.ids))
    assert joined.size[0] == pytest.approx(1.2, abs=0.05)
    m.config.publish_merge_gap = -1.0
    assert len(m.to_scene("s")) == 3


def _flat_piece(rng, y0, y1, z0=1.0, z1=2.0, x=(0.0, 0.04), label="window"):
    pts = rng.uniform([x[0], y0, z0], [x[1], y1, z1], (300, 3))
    return Segment(np.zeros((300, 2), int), pts, np.full((300, 3), 200, np.uint8), label, 0.9)


@pytest.mark.parametrize("second, joined", [
    (dict(y0=1.75, y1=2.2), True),                      # 25 cm along the wall: one window
    (dict(y0=2.0, y1=2.4), False),                      # 50 cm: two windows
    (dict(y0=1.75, y1=2.2, z0=0.2, z1=0.8), False),     # side by side, another height
    (dict(y0=1.75, y1=2.2, x=(0.4, 0.44)), False),      # not in the same plane
    (dict(y0=1.75, y1=2.2, label="picture"), False),    # another label
])
def test_flat_pieces_in_one_plane_publish_as_one(second, joined):
    rng = np.random.default_rng(5)
    # publish_merge_gap off: the flat rule has its own switch
    m = ObjectMap(MapConfig(min_observations=1, publish_merge_gap=-1.0, publish_merge_flat_gap=0.3))
    m.update([_flat_piece(rng, 1.0, 1.5), _flat_piece(rng, **second)])
    assert len(m.objects) == 2  # the map keeps both pieces: only the published scene joins them
    scene = m.to_scene("s")
    assert len(scene) == (1 if joined else 2)
    if joined:
        assert scene.objects[0].size[1] == pytest.approx(1.2, abs=0.05)
    m.config.publish_merge_flat_gap = -1.0
    assert len(m.to_scene("s")) == 2


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "wide", True])
def test_config_rejects_a_bad_flat_gap(bad):
    with pytest.raises(ConfigError, match="publish_merge_flat_gap"):
        PerceptionConfig.from_dict({"map": {"publish_merge_flat_gap": bad}})
    assert PerceptionConfig.from_dict({"map": {"publish_merge_flat_gap": -1}}).map.publish_merge_flat_gap == -1.0


def test_map_save_load_round_trip(tmp_path):
    p = PerceptionPipeline("geometric")
    for x in (-0.5, 0.0, 0.5):
        p.process(_view([DESK, MUG, CHAIR], eye=(x, -0.5, 1.5)))
    path = tmp_path / "map.json"
    p.save_map(path)
    loaded = ObjectMap.load(path)
    assert loaded.to_scene("s") == p.map.to_scene("s") and loaded.next_id == p.map.next_id
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temp file


@pytest.mark.parametrize("content, message", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[]", "not an apeiria object map"),
    (json.dumps({"format": "apeiria-object-map", "version": 99}).encode(), "version"),
    (json.dumps({"format": "apeiria-object-map", "version": 1, "next_id": 1,
                 "objects": [{"id": 0}]}).encode(), "malformed"),
    (json.dumps({"format": "apeiria-object-map", "version": 1, "next_id": 1, "objects": [
        {"id": 0, "keys": [1], "point_sum": [[0, 0, 0]], "color_sum": [[0, 0, 0]], "hits": [1, 2], "votes": {},
         "feature_sum": None, "feature_count": 0, "observations": 1, "first_seen": 1, "last_seen": 1,
         "missed": 0}]}).encode(), "inconsistent"),
])
def test_bad_map_files_raise_map_format_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(MapFormatError, match=message):
        ObjectMap.load(path)


def test_config_yaml_loads_and_rejects_unknown_keys(tmp_path):
    cfg = PerceptionConfig.from_yaml("config/perception.yaml")
    assert cfg.segmenter == "geometric" and cfg.geometric.grid_width == 160 and cfg.map.voxel_size == 0.04
    bad = tmp_path / "p.yaml"
    bad.write_text("map:\n  voxel_sise: 0.1\n")
    with pytest.raises(ConfigError, match="voxel_sise"):
        PerceptionConfig.from_yaml(bad)
    bad.write_text("segmenter: magic\n")
    with pytest.raises(ConfigError, match="segmenter"):
        PerceptionConfig.from_yaml(bad)
    bad.write_text("geometric:\n  jump_abs: fast\n")
    with pytest.raises(ConfigError, match="jump_abs"):
        PerceptionConfig.from_yaml(bad)


@pytest.mark.parametrize("rgb, name", [((200, 30, 30), "red"), ((30, 30, 200), "blue"), ((250, 250, 250), "white"),
                                       ((10, 10, 10), "black"), ((128, 128, 128), "gray"),
                                       ((139, 90, 43), "brown"), ((40, 160, 40), "green")])
def test_color_names(rgb, name):
    assert color_name(rgb) == name


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                     max_leaves=20)
_obj = st.fixed_dictionaries({}, optional={k: _json for k in (
    "id", "keys", "point_sum", "color_sum", "hits", "votes", "feature_sum", "feature_count", "observations",
    "first_seen", "last_seen", "missed")})


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({"format": st.just("apeiria-object-map"), "version": st.just(1)},
                             optional={"next_id": _json, "objects": st.lists(_obj, max_size=3) | _json,
                                       "config": _json | st.dictionaries(st.sampled_from(
                                           ["voxel_size", "min_observations", "merge_objects", "stale_frames"]),
                                           _json, max_size=3)}))
def test_fuzz_map_documents_only_raise_map_format_error(doc):
    try:
        m = ObjectMap.from_dict(doc)
    except MapFormatError:
        return
    m.to_scene("fuzz")  # whatever loads must be usable


_dtypes = st.sampled_from([np.float32, np.float64, np.uint16, np.int32, np.uint8])


@settings(max_examples=40, deadline=None)
@given(h=st.integers(0, 12), w=st.integers(0, 12), ch=st.sampled_from([1, 3, 4]), cdt=_dtypes, ddt=_dtypes,
       same=st.booleans(), pose_bad=st.sampled_from([None, "nan", "scale", "shape"]), seed=st.integers(0, 10))
def test_fuzz_pipeline_process_never_raises(h, w, ch, cdt, ddt, same, pose_bad, seed):
    rng = np.random.default_rng(seed)
    k = CameraIntrinsics(max(w, 1), max(h, 1), 10.0, 10.0, w / 2, h / 2)
    depth = (rng.uniform(-1, 12, (h, w)) * (1000 if ddt == np.uint16 else 1)).astype(ddt)
    color = rng.integers(0, 255, (h if same else h + 1, w, ch)).astype(cdt)
    pose = np.eye(4)
    if pose_bad == "nan":
        pose[0, 3] = np.nan
    elif pose_bad == "scale":
        pose[0, 0] = 3.0
    elif pose_bad == "shape":
        pose = np.eye(3)
    from apeiria_model.perception.frame import RGBDFrame
    p = PerceptionPipeline("geometric")
    rep = p.process(RGBDFrame(color, depth, k, pose))
    assert rep.ok or rep.error
    assert len(p.scene()) >= 0
