"""Containment suppression at publishing (map.contained_shared): a box inside a bigger
object's box is a fragment or duplicate of it only when its surface lies on that
object's surface; a thing with a surface of its own stays an object."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.perception.object_map import MapConfig, ObjectMap, _surface_share
from apeiria_model.perception.pipeline import ConfigError, PerceptionConfig
from apeiria_model.perception.segment import Segment

RNG = np.random.default_rng(0)


def _seg(points, label, conf=0.9):
    n = len(points)
    return Segment(np.zeros((n, 2), int), np.asarray(points, float), np.full((n, 3), 120, np.uint8),
                   label=label, confidence=conf)


def _table_with_back():
    """A 1 x 1 m table top at z 0.75 with a hole under the mug (occluded there) and a
    back panel up to z 1.0: the table's box reaches over anything standing on it."""
    top = RNG.uniform([0, 0, 0.749], [1, 1, 0.751], (3000, 3))
    top = top[np.hypot(top[:, 0] - 0.5, top[:, 1] - 0.5) > 0.1]
    back = RNG.uniform([0, 0.98, 0.75], [1, 1.0, 1.0], (800, 3))
    return np.concatenate([top, back])


def _mug():
    """A cylinder wall, radius 5 cm, z 0.76-0.90, at the table's centre."""
    a = RNG.uniform(0, 2 * np.pi, 400)
    return np.stack([0.5 + 0.05 * np.cos(a), 0.5 + 0.05 * np.sin(a), RNG.uniform(0.76, 0.90, 400)], axis=1)


def _map(segments, **cfg):
    m = ObjectMap(MapConfig(**cfg))
    for _ in range(3):  # seen in several frames: published (min_observations 2)
        m.update(segments)
    return m


def test_a_mug_inside_the_box_of_a_table_that_reaches_over_it_is_published():
    segs = [_seg(_table_with_back(), "dining table"), _seg(_mug(), "mug")]
    off = _map(segs, contained_shared=0.0)
    on = _map(segs, contained_shared=0.2)
    assert len(off.objects) == len(on.objects) == 2
    assert [o.label for o in off.to_scene().objects] == ["dining table"]  # the old behaviour: swallowed
    assert sorted(o.label for o in on.to_scene().objects) == ["dining table", "mug"]


def test_a_fragment_lying_on_the_bigger_objects_surface_is_still_suppressed():
    # A cabinet (all six faces) and a separately mapped piece of its corner: same surface.
    box = RNG.uniform(0, 1, (6000, 3))
    axis = RNG.integers(0, 3, 6000)
    box[np.arange(6000), axis] = RNG.integers(0, 2, 6000).astype(float)
    corner = box[np.all(box < 0.35, axis=1)]
    assert len(corner) > 50
    m = _map([_seg(box, "cabinet"), _seg(corner, "drawer")], contained_shared=0.2, conflict_overlap=1.1)
    assert len(m.objects) == 2
    assert [o.label for o in m.to_scene().objects] == ["cabinet"]


def test_a_flat_piece_inside_a_box_is_still_suppressed():
    table = _table_with_back()
    # A flat, upright piece (2 cm thick) clear of the table's surfaces: the own-surface
    # test says nothing about something this thin (one voxel), so it stays suppressed.
    sheet = RNG.uniform([0.3, 0.70, 0.84], [0.6, 0.72, 0.96], (300, 3))
    m = _map([_seg(table, "dining table"), _seg(sheet, "book")], contained_shared=0.2)
    assert len(m.objects) == 2
    assert [o.label for o in m.to_scene().objects] == ["dining table"]
    m.config.contained_min_thickness = 0.0
    assert sorted(o.label for o in m.to_scene().objects) == ["book", "dining table"]


def test_the_same_object_seen_twice_is_still_one():
    mug = _mug()
    m = _map([_seg(mug, "mug")], contained_shared=0.2)
    m.update([_seg(mug + RNG.normal(0, 0.003, mug.shape), "mug")])
    assert len(m.objects) == 1 and len(m.to_scene()) == 1


def test_surface_share():
    a = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    assert _surface_share(a, a + [0.01, 0, 0], 0.04) == 1.0
    assert _surface_share(a, np.array([[0.0, 0.0, 0.02]]), 0.04) == 0.5
    assert _surface_share(a, np.zeros((0, 3)), 0.04) == 0.0
    assert _surface_share(np.zeros((0, 3)), a, 0.04) == 0.0


@pytest.mark.parametrize("key,bad", [("contained_shared", -0.1), ("contained_shared", 1.5),
                                     ("contained_shared", math.nan), ("contained_min_thickness", -1.0),
                                     ("contained_min_thickness", math.inf)])
def test_config_rejects_bad_containment_values(key, bad):
    with pytest.raises(ConfigError, match=key):
        PerceptionConfig.from_dict({"map": {key: bad}})


def test_config_rejects_a_non_number():
    with pytest.raises(ConfigError, match="contained_shared"):
        PerceptionConfig.from_dict({"map": {"contained_shared": "0.2"}})


@settings(max_examples=40, deadline=None)
@given(share=st.floats(allow_nan=True, allow_infinity=True),
       thick=st.floats(allow_nan=True, allow_infinity=True))
def test_fuzz_containment_config_is_accepted_or_named(share, thick):
    try:
        cfg = PerceptionConfig.from_dict({"map": {"contained_shared": share, "contained_min_thickness": thick}})
    except ConfigError as e:
        assert "contained_" in str(e)
        return
    assert 0 <= cfg.map.contained_shared <= 1 and cfg.map.contained_min_thickness >= 0


def _box_faces(lo, hi, n):
    """n points on the faces of the box [lo, hi]."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    p = RNG.uniform(lo, hi, (n, 3))
    axis = RNG.integers(0, 3, n)
    side = RNG.integers(0, 2, n).astype(bool)
    p[np.arange(n), axis] = np.where(side, hi[axis], lo[axis])
    return p


def test_a_neighbour_fused_into_an_object_in_a_few_frames_does_not_stretch_its_box():
    table = _box_faces([0, 0, 0.70], [1, 1, 0.75], 3000)
    kettle = _box_faces([1.1, 0.4, 0.0], [1.3, 0.6, 0.3], 600)
    both = np.concatenate([table, kettle])

    def run(share):
        m = ObjectMap(MapConfig(exclusive_share=share, contained_shared=0.2))
        for _ in range(10):  # seen apart in most frames...
            m.update([_seg(table, "table"), _seg(kettle, "kettle")])
        for _ in range(2):   # ...and as one segment in two (labelled table)
            m.update([_seg(both, "table")])
        return m

    off, on = run(0.0), run(0.3)
    assert len(off.objects) == len(on.objects) == 2
    # Off: the table's box reaches over the kettle and swallows it.
    assert [(o.label, round(o.size[0], 1)) for o in off.to_scene().objects] == [("table", 1.3)]
    scene = on.to_scene()
    assert sorted(o.label for o in scene.objects) == ["kettle", "table"]
    t = next(o for o in scene.objects if o.label == "table")
    assert t.size[0] < 1.05 and t.size[2] < 0.1
    # The map itself is unchanged: publishing only.
    assert on.objects[0].box()[1][0] > 1.25


def test_exclusive_voxels_keep_an_object_seen_alone_whole():
    mug = _mug()
    m = ObjectMap(MapConfig(exclusive_share=0.3))
    for _ in range(3):
        m.update([_seg(mug, "mug")])
    (o,) = m.to_scene().objects
    lo, hi = m.objects[0].box()
    assert np.allclose(o.size, hi - lo)


@pytest.mark.parametrize("bad", [-0.1, 1.01, math.nan])
def test_config_rejects_a_bad_exclusive_share(bad):
    with pytest.raises(ConfigError, match="exclusive_share"):
        PerceptionConfig.from_dict({"map": {"exclusive_share": bad}})


def test_a_laptop_on_a_table_whose_box_a_fused_bottle_lifted_is_on_top():
    top = RNG.uniform([0, 0, 0.745], [1, 1, 0.755], (2000, 3))
    bottle_bits = RNG.uniform([0.9, 0.9, 0.76], [0.95, 0.95, 0.98], (60, 3))  # 3%: fused in some frames
    table = np.concatenate([top, bottle_bits])
    laptop = RNG.uniform([0.3, 0.3, 0.765], [0.6, 0.6, 0.785], (400, 3))

    def labels(q):
        m = _map([_seg(table, "table"), _seg(laptop, "laptop")], on_top_quantile=q)
        assert len(m.objects) == 2
        return sorted(o.label for o in m.to_scene().objects)

    assert labels(1.0) == ["table"]  # the box top (0.98) is what it "rests on": swallowed
    assert labels(0.9) == ["laptop", "table"]


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5, math.nan])
def test_config_rejects_a_bad_on_top_quantile(bad):
    with pytest.raises(ConfigError, match="on_top_quantile"):
        PerceptionConfig.from_dict({"map": {"on_top_quantile": bad}})
