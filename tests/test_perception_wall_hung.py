"""Joining pieces that hang on one wall (geometric._merge_hung): thin pieces that touch
are one object (a window's frame and glass); something deep in front of the wall (a
shelf, a lamp) joins only what it is stacked on, never what it overlaps or stands beside."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apeiria_model.perception.pipeline import ConfigError, PerceptionConfig
from apeiria_model.perception.segment import Segment
from apeiria_model.perception.segmenters.geometric import _merge_hung


def _seg(i, n=20):
    return Segment(np.zeros((n, 2), np.int32), np.full((n, 3), float(i), np.float32),
                   np.zeros((n, 3), np.uint8), segment_id=i)


def _rect(a0, a1, z0, z1, depth):
    return np.array([a0, a1, z0, z1, depth])


WINDOW = _rect(1.0, 2.0, 1.0, 2.0, 0.03)


def _merged(rects, max_depth, gap=0.05):
    segs = [_seg(i) for i in range(len(rects))]
    hung = [(i, 0, r) for i, r in enumerate(rects)]
    return [sorted(set(s.points[:, 0].astype(int).tolist())) for s in _merge_hung(segs, hung, gap, max_depth)]


def test_thin_pieces_touching_on_a_wall_are_one_object():
    glass = _rect(1.1, 1.9, 1.1, 1.9, 0.01)
    frame_right = _rect(2.0, 2.08, 1.0, 2.0, 0.04)
    assert _merged([WINDOW, glass, frame_right], 0.06) == [[0, 1, 2]]


@pytest.mark.parametrize("name,deep", [
    ("a shelf beside the window", _rect(2.02, 2.6, 1.2, 1.5, 0.22)),
    ("a lamp in front of the window", _rect(1.3, 1.5, 0.9, 1.4, 0.2)),
])
def test_a_deep_thing_overlapping_or_beside_a_window_stays_apart(name, deep):
    assert _merged([WINDOW, deep], math.inf) == [[0, 1]]  # the old rule glued them
    assert _merged([WINDOW, deep], 0.06) == [[0], [1]], name


def test_a_sill_under_the_window_still_joins_it():
    sill = _rect(0.95, 2.05, 0.93, 1.0, 0.15)
    assert _merged([WINDOW, sill], 0.06) == [[0, 1]]


def test_pieces_on_different_walls_never_join():
    segs = [_seg(0), _seg(1)]
    out = _merge_hung(segs, [(0, 0, WINDOW), (1, 1, WINDOW)], 0.05, 0.06)
    assert len(out) == 2


def test_config_knob_loads_and_rejects_a_string():
    assert PerceptionConfig.from_dict({"geometric": {"wall_hung_merge_depth": 0.06}}).geometric.wall_hung_merge_depth == 0.06
    with pytest.raises(ConfigError, match="wall_hung_merge_depth"):
        PerceptionConfig.from_dict({"geometric": {"wall_hung_merge_depth": "deep"}})


@pytest.mark.parametrize("bad", [-0.1, math.nan])
def test_config_rejects_a_negative_or_nan_merge_depth(bad):
    with pytest.raises(ConfigError, match="wall_hung_merge_depth"):
        PerceptionConfig.from_dict({"geometric": {"wall_hung_merge_depth": bad}})
