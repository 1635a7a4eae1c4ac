"""The "resting on top" exemption from containment (map.on_top_quantile < 1) applies only
to a thing told apart from the bigger object: by its label, or unlabelled (geometric
segmenter) by its colour. A same-looking piece below the box top is a fragment."""

from __future__ import annotations

import numpy as np

from apeiria_model.perception.object_map import MapConfig, ObjectMap, _distinct
from apeiria_model.perception.segment import Segment

RNG = np.random.default_rng(3)
GRAY, RED, BLUE = (120, 120, 120), (200, 30, 30), (30, 40, 200)


def _seg(points, rgb, label=None, conf=0.9):
    n = len(points)
    return Segment(np.zeros((n, 2), int), np.asarray(points, float), np.tile(np.array(rgb, np.uint8), (n, 1)),
                   label=label, confidence=conf if label else 0.0)


def _map(segments, q=0.9):
    m = ObjectMap(MapConfig(on_top_quantile=q, contained_shared=0.2))
    for _ in range(3):  # seen in several frames: published (min_observations 2)
        m.update(segments)
    assert len(m.objects) == len(segments)
    return m.to_scene()


def _table_lifted_by_a_fused_bottle():
    top = RNG.uniform([0, 0, 0.745], [1, 1, 0.755], (2000, 3))
    bottle_bits = RNG.uniform([0.9, 0.9, 0.76], [0.95, 0.95, 0.98], (60, 3))  # box top 0.98, 90% height 0.755
    return np.concatenate([top, bottle_bits])


def _laptop():
    return RNG.uniform([0.3, 0.3, 0.765], [0.6, 0.6, 0.785], (400, 3))


def test_an_unlabelled_thing_of_another_colour_on_the_surface_is_published():
    scene = _map([_seg(_table_lifted_by_a_fused_bottle(), GRAY), _seg(_laptop(), RED)])
    assert sorted(o.color for o in scene.objects) == ["gray", "red"]


def test_an_unlabelled_same_coloured_piece_under_the_box_top_is_a_fragment():
    scene = _map([_seg(_table_lifted_by_a_fused_bottle(), GRAY), _seg(_laptop(), GRAY)])
    assert len(scene.objects) == 1


def test_the_upper_edge_of_a_chair_back_is_not_something_resting_on_the_chair():
    """The end-to-end office scene: a blue chair and a separately mapped strip of its
    back's upper edge. Its bottom is above the chair's 90% surface height (the seat
    dominates), so the quantile test alone called it "on top" and published a second
    blue object."""
    seat = RNG.uniform([0, 0, 0.449], [0.5, 0.5, 0.451], (3000, 3))
    back = RNG.uniform([0, 0.44, 0.45], [0.5, 0.46, 0.9], (1500, 3))
    in_edge = (back[:, 0] > 0.2) & (back[:, 0] < 0.45) & (back[:, 2] > 0.8)
    back = back[~in_edge]  # the strip was cut off the chair's segment in the frames that saw it
    edge = RNG.uniform([0.2, 0.44, 0.8], [0.45, 0.46, 0.9], (200, 3))
    chair = _seg(np.concatenate([seat, back]), BLUE)
    assert len(_map([chair, _seg(edge, BLUE)]).objects) == 1
    # a labelled pair still follows the labels: the same strip called "book" is a book
    labelled = _map([_seg(np.concatenate([seat, back]), BLUE, "chair"), _seg(edge, BLUE, "book")])
    assert sorted(o.label for o in labelled.objects) == ["book", "chair"]


def test_distinct_prefers_labels_and_falls_back_to_colours():
    d = _distinct(["chair", "chair", None, None], ["blue", "red", "blue", "blue"], 4)
    assert not d[0, 1]            # same label, colours ignored
    assert not d[0, 2] and d[1, 2]  # a missing label: colours decide (blue vs blue is not distinct)
    assert not d[2, 3]
    assert _distinct(None, None, 2).all()  # nothing known: everything may be on top (old behaviour)
