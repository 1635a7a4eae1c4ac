"""Splitting under-segmented segments where the classifier sees two things
(geometric.part_brightness_break proposes seams, learned.split_overlap decides), and
publishing big flat objects seen once (map.single_view_min_area)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.object_map import MapConfig, ObjectMap
from apeiria_model.perception.pipeline import ConfigError, PerceptionConfig
from apeiria_model.perception.projection import validate_frame
from apeiria_model.perception.segment import Segment
from apeiria_model.perception.segmenters.geometric import (GeometricConfig, GeometricSegmenter, _part_image,
                                                          _segment_parts)
from apeiria_model.perception.segmenters.learned import LearnedSegmenter, _overlap_groups
from apeiria_model.perception.toy_frames import ToyBox, look_at, render_boxes

# Two touching boxes, fronts and tops flush: no depth step, same orientation, a
# chromaticity change of 0.08 (under color_break_alone 0.12) and a brightness ratio of
# 1.4 (under brightness_break 1.6): the strong cuts keep them one segment.
BRIGHT = (165, 99, 66)
DARK = (100, 75, 55)


def _frame():
    boxes = [ToyBox((0.0, 0.0, 0.4), (0.6, 0.6, 0.8), BRIGHT), ToyBox((0.6, 0.0, 0.4), (0.6, 0.6, 0.8), DARK)]
    return validate_frame(render_boxes(boxes, CameraIntrinsics.from_fov(320, 240), look_at((0.3, -3.0, 1.8),
                                                                                           (0.3, 0.0, 0.4))))


def _box_segments(frame, **cfg):
    geo = GeometricSegmenter(GeometricConfig(remove_walls=False, **cfg))
    geo.propose_parts = True
    segs = geo.segment(frame)
    ids = frame.instance_ids
    return [s for s in segs if np.isin(ids[s.pixels[:, 0], s.pixels[:, 1]], [0, 1]).mean() > 0.5], ids


class BrightnessClassifier:
    """Calls bright segments 'cabinet' and dark ones 'speaker' (mean RGB feature), or
    always 'cabinet' with ``same=True``: a stand-in for the network."""

    classes = ("background", "cabinet", "speaker")

    def __init__(self, same: bool = False):
        self.same = same

    def predict(self, points, extra):
        bright = points[:, :, 3:].mean(axis=(1, 2)) > ((np.mean(BRIGHT) + np.mean(DARK)) / 2) / 255.0 - 0.5
        logits = np.zeros((len(points), 3), np.float32)
        logits[:, 1] = np.where(bright | self.same, 4.0, 0.0)
        logits[:, 2] = np.where(bright | self.same, 0.0, 4.0)
        return logits, np.zeros((len(points), 4), np.float32)


def test_strong_cuts_keep_the_touching_boxes_one_segment_and_seams_propose_their_parts():
    frame = _frame()
    off, ids = _box_segments(frame)
    assert len(off) == 1 and off[0].parts is None
    assert set(np.unique(ids[off[0].pixels[:, 0], off[0].pixels[:, 1]])) >= {0, 1}  # the under-segmentation
    on, _ = _box_segments(frame, part_brightness_break=1.3)
    assert len(on) == 1 and on[0].parts is not None and on[0].parts.max() == 1
    plain = GeometricSegmenter(GeometricConfig(remove_walls=False, part_brightness_break=1.3)).segment(frame)
    assert all(s.parts is None for s in plain)  # nobody asked for parts: none computed
    seg = on[0]
    inst = ids[seg.pixels[:, 0], seg.pixels[:, 1]]
    for j in (0, 1):  # each proposed part is one box
        v, c = np.unique(inst[seg.parts == j], return_counts=True)
        assert c.max() / c.sum() > 0.95


def test_a_segment_whose_parts_the_classifier_tells_apart_is_split_into_two():
    frame = _frame()
    geo = GeometricSegmenter(GeometricConfig(remove_walls=False, part_brightness_break=1.3))
    learned = LearnedSegmenter(BrightnessClassifier(), geo, split_overlap=0.5)
    out = [s for s in learned.segment(frame)
           if np.isin(frame.instance_ids[s.pixels[:, 0], s.pixels[:, 1]], [0, 1]).mean() > 0.5]
    assert sorted(s.label for s in out) == ["cabinet", "speaker"]
    assert len({s.segment_id for s in out}) == 2
    for s in out:
        inst = frame.instance_ids[s.pixels[:, 0], s.pixels[:, 1]]
        assert np.bincount(inst[inst >= 0]).max() / len(inst) > 0.95
    # split off (the default): still one segment
    off = LearnedSegmenter(BrightnessClassifier(), GeometricSegmenter(GeometricConfig(
        remove_walls=False, part_brightness_break=1.3)))
    assert len([s for s in off.segment(frame)
                if np.isin(frame.instance_ids[s.pixels[:, 0], s.pixels[:, 1]], [0, 1]).mean() > 0.5]) == 1


def test_one_object_whose_parts_the_classifier_agrees_on_stays_one_segment():
    frame = _frame()
    geo = GeometricSegmenter(GeometricConfig(remove_walls=False, part_brightness_break=1.3))
    learned = LearnedSegmenter(BrightnessClassifier(same=True), geo, split_overlap=0.5)
    out = [s for s in learned.segment(frame)
           if np.isin(frame.instance_ids[s.pixels[:, 0], s.pixels[:, 1]], [0, 1]).mean() > 0.5]
    assert len(out) == 1 and out[0].label == "cabinet"


def test_split_keeps_support_and_gives_fresh_ids():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 1, (200, 3))
    cols = np.where((pts[:, 0] < 0.5)[:, None], np.array(BRIGHT), np.array(DARK)).astype(np.uint8)
    seg = Segment(np.zeros((200, 2), int), pts, cols, segment_id=7, support_id=3,
                  parts=(pts[:, 0] >= 0.5).astype(np.int32))
    other = Segment(np.zeros((5, 2), int), pts[:5], cols[:5], segment_id=9)
    out = LearnedSegmenter(BrightnessClassifier(), GeometricSegmenter(), split_overlap=0.5).split_disagreeing(
        [seg, other])
    assert [s.segment_id for s in out] == [7, 10, 9]
    assert [s.support_id for s in out[:2]] == [3, 3]
    assert sum(len(s) for s in out[:2]) == 200


def test_part_image_fills_seams_from_the_nearest_part():
    core = np.ones((4, 6), bool)
    core[:, 5] = False
    seam = np.zeros_like(core)
    seam[:, 2] = True
    img = _part_image(core, seam)
    assert (img[:, 5] == 0).all() and (img[:, :5] > 0).all()
    assert len(np.unique(img[:, :2])) == 1 and len(np.unique(img[:, 3:5])) == 1 and img[0, 0] != img[0, 4]


def test_segment_parts_joins_small_parts_to_the_largest():
    fine = np.array([5] * 30 + [8] * 25 + [9] * 3)
    parts = _segment_parts(fine, 20)
    assert parts.tolist() == [0] * 30 + [1] * 25 + [0] * 3
    assert _segment_parts(np.array([5] * 30 + [8] * 5), 20) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=300), st.integers(1, 50))
def test_segment_parts_fuzz(labels, min_pixels):
    fine = np.array(labels)
    parts = _segment_parts(fine, min_pixels)
    if parts is None:
        return
    assert len(parts) == len(fine) and parts.min() == 0
    counts = np.bincount(parts)
    assert len(counts) >= 2 and (counts >= min_pixels).all()
    # pixels of one fine label always share a part
    for v in np.unique(fine):
        assert len(np.unique(parts[fine == v])) == 1


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2 ** 31 - 1))
def test_overlap_groups_are_connected_components(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.random((n, n)) < 0.3
    link = a | a.T | np.eye(n, dtype=bool)
    g = _overlap_groups(link)
    assert g[0] == 0 and len(g) == n
    for i in range(n):
        for j in range(n):
            if link[i, j]:
                assert g[i] == g[j]


# -- publishing big flat objects seen once -------------------------------------------------

def _panel(x0=0.0, width=1.2, height=1.0, thick=0.02, n=2000, rng=None):
    rng = rng or np.random.default_rng(1)
    return rng.uniform([x0, 3.0 - thick, 0.8], [x0 + width, 3.0, 0.8 + height], (n, 3))


def _lone(points, label="whiteboard"):
    return Segment(np.zeros((len(points), 2), int), points, np.full((len(points), 3), 230, np.uint8),
                   label=label, confidence=0.95)


def test_a_big_flat_object_seen_once_is_published_and_small_or_thick_ones_are_not():
    segs = [_lone(_panel()),                                                      # whiteboard, 1.2 m^2
            _lone(_panel(x0=3.0, width=0.3, height=0.3, n=300), "picture"),       # small: 0.09 m^2
            _lone(np.random.default_rng(2).uniform([6, 0, 0], [7.2, 1, 1], (2000, 3)), "cabinet")]  # thick
    off = ObjectMap(MapConfig())
    off.update(segs)
    assert len(off.to_scene().objects) == 0  # min_observations 2
    on = ObjectMap(MapConfig(single_view_min_area=0.5))
    on.update(segs)
    assert [o.label for o in on.to_scene().objects] == ["whiteboard"]


def test_an_unlabelled_big_panel_seen_once_is_not_published():
    m = ObjectMap(MapConfig(single_view_min_area=0.5))
    pts = _panel()
    m.update([Segment(np.zeros((len(pts), 2), int), pts, np.full((len(pts), 3), 230, np.uint8))])
    assert len(m.objects) == 1 and len(m.to_scene().objects) == 0  # class-agnostic: no classifier vetted it


def test_the_same_big_panel_seen_twice_is_one_object():
    m = ObjectMap(MapConfig(single_view_min_area=0.5))
    rng = np.random.default_rng(3)
    m.update([_lone(_panel(rng=rng))])
    m.update([_lone(_panel(rng=rng))])
    assert len(m.to_scene().objects) == 1


@pytest.mark.parametrize("key,value", [("single_view_min_area", -1.0), ("single_view_min_area", math.nan),
                                       ("single_view_max_thickness", math.inf), ("single_view_min_area", "big")])
def test_bad_single_view_knobs_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        PerceptionConfig.from_dict({"map": {key: value}})


@pytest.mark.parametrize("section,key,value", [("learned", "split_overlap", -0.1), ("learned", "split_overlap", 1.5),
                                               ("learned", "split_overlap", math.nan),
                                               ("geometric", "part_brightness_break", 0.5),
                                               ("geometric", "part_brightness_break", math.nan),
                                               ("geometric", "part_min_pixels", 0)])
def test_bad_split_knobs_name_the_key(section, key, value):
    with pytest.raises(ConfigError, match=key):
        PerceptionConfig.from_dict({section: {key: value}})
