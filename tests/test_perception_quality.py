"""Segmentation / fusion rules added to raise instance recall and precision (toy data)."""

from __future__ import annotations

import numpy as np

from apeiria_model.perception.object_map import MapConfig, ObjectMap
from apeiria_model.perception.segment import Segment
from apeiria_model.perception.segmenters.geometric import GeometricConfig, GeometricSegmenter


def _seg(points, rgb=100, **kw):
    points = np.asarray(points, float)
    return Segment(np.zeros((len(points), 2), int), points, np.full((len(points), 3), rgb, np.uint8), **kw)


def test_object_resting_on_a_bigger_box_top_is_published():
    # The desk's box reaches 1 cm over its top (bleed from frames where the laptop was
    # not separated), so the laptop box lies inside it; it rests on top: publish both.
    rng = np.random.default_rng(0)
    desk = rng.uniform([0, 0, 0], [1.0, 0.6, 0.78], (3000, 3))
    laptop = rng.uniform([0.3, 0.2, 0.75], [0.65, 0.45, 0.77], (300, 3))
    m = ObjectMap(MapConfig(min_observations=1))
    m.update([_seg(desk), _seg(laptop, 200)])
    assert len(m.to_scene("s")) == 2


def test_fragment_inside_a_bigger_box_away_from_its_top_is_still_suppressed():
    rng = np.random.default_rng(1)
    cabinet = rng.uniform([0, 0, 0], [1.0, 0.6, 1.2], (3000, 3))
    drawer = rng.uniform([0.2, 0.1, 0.3], [0.8, 0.5, 0.6], (300, 3))
    m = ObjectMap(MapConfig(min_observations=1))
    m.update([_seg(cabinet), _seg(drawer, 200)])
    assert len(m.to_scene("s")) == 1
    m2 = ObjectMap(MapConfig(min_observations=1, on_top_margin=-1.0))  # rule off: laptop suppressed
    desk = rng.uniform([0, 0, 0], [1.0, 0.6, 0.78], (3000, 3))
    laptop = rng.uniform([0.3, 0.2, 0.75], [0.65, 0.45, 0.77], (300, 3))
    m2.update([_seg(desk), _seg(laptop, 200)])
    assert len(m2.to_scene("s")) == 1


def test_refits_of_one_wall_are_averaged_not_walked_backwards():
    # Noisy fits of the wall x = 0 land on both sides of it; always keeping the farther
    # one walked the remembered plane behind the wall, out of its own tolerance.
    seg = GeometricSegmenter(GeometricConfig())
    cam = np.array([2.0, 1.0, 1.5], np.float32)
    n = np.array([1.0, 0.0, 0.0], np.float32)
    for d in (0.0, -0.02, 0.015, -0.02, 0.01, -0.02):
        seg._remember_wall(n, d, cam)
    assert len(seg.walls) == 1
    assert abs(seg.walls[0][1]) < 0.01


def test_a_parallel_plane_well_behind_the_remembered_one_replaces_it():
    # A whiteboard's face seen first, the wall 5 cm behind it later: the wall wins.
    seg = GeometricSegmenter(GeometricConfig())
    cam = np.array([2.0, 1.0, 1.5], np.float32)
    n = np.array([1.0, 0.0, 0.0], np.float32)
    seg._remember_wall(n, 0.05, cam)
    seg._remember_wall(n, 0.0, cam)
    assert len(seg.walls) == 1 and abs(seg.walls[0][1]) < 1e-6


def test_leg_seen_apart_from_its_table_publishes_as_part_of_it():
    rng = np.random.default_rng(3)
    top = rng.uniform([0, 0, 0.7], [1.2, 0.8, 0.75], (2000, 3))     # table top, legs never joined
    leg = rng.uniform([1.13, 0.72, 0.0], [1.17, 0.76, 0.45], (100, 3))  # at its corner, 4 cm thick
    bottle = rng.uniform([2.0, 2.0, 0.0], [2.08, 2.08, 0.3], (100, 3))  # thin, but under nothing
    m = ObjectMap(MapConfig(min_observations=1))
    m.update([_seg(top), _seg(leg, 50), _seg(bottle, 200)])
    scene = m.to_scene("s")
    assert len(scene) == 2
    table = max(scene.objects, key=lambda o: o.size[0])
    assert table.center[2] - table.size[2] / 2 < 0.01  # the table now reaches the floor
    off = ObjectMap(MapConfig(min_observations=1, leg_max_area=0.0))
    off.update([_seg(top), _seg(leg, 50), _seg(bottle, 200)])
    assert len(off.to_scene("s")) == 3


def _wall_frame(gap: float):
    from apeiria_model.perception.frame import CameraIntrinsics
    from apeiria_model.perception.projection import validate_frame
    from apeiria_model.perception.toy_frames import ToyBox, look_at, render_boxes

    wall = ToyBox((0.0, 3.05, 1.25), (5.0, 0.1, 2.5), (180, 180, 170))
    left = ToyBox((-0.3, 2.97, 1.3), (0.5, 0.06, 0.8), (240, 240, 240))   # a window's frame...
    right = ToyBox((0.2 + gap, 2.97, 1.3), (0.5, 0.06, 0.8), (60, 90, 200))  # ... and its blue glass
    return validate_frame(render_boxes([wall, left, right], CameraIntrinsics.from_fov(320, 240),
                                       look_at((0.0, 0.5, 1.4), (0.0, 3.0, 1.2))))


def _pieces_with_ids(frame, segments, ids):
    out = []
    for s in segments:
        got = set(np.unique(frame.instance_ids[s.pixels[:, 0], s.pixels[:, 1]]).tolist()) & ids
        if got:
            out.append(got)
    return out


def test_touching_pieces_hanging_on_one_wall_are_one_segment():
    frame = _wall_frame(0.0)
    on = GeometricSegmenter(GeometricConfig())
    segs = on.segment(frame)
    assert on.walls, "the wall box must be found as a wall"
    assert _pieces_with_ids(frame, segs, {1, 2}) == [{1, 2}]
    off = GeometricSegmenter(GeometricConfig(wall_hung_merge_gap=-1.0))
    assert sorted(map(sorted, _pieces_with_ids(frame, off.segment(frame), {1, 2}))) == [[1], [2]]


def test_separate_pieces_on_one_wall_stay_apart():
    frame = _wall_frame(0.3)  # 30 cm apart on the wall: two pictures
    segs = GeometricSegmenter(GeometricConfig()).segment(frame)
    assert sorted(map(sorted, _pieces_with_ids(frame, segs, {1, 2}))) == [[1], [2]]


def test_missing_from_a_view_where_it_is_too_small_to_segment_is_not_stale():
    from apeiria_model.perception.frame import CameraIntrinsics
    from apeiria_model.perception.projection import validate_frame
    from apeiria_model.perception.toy_frames import look_at, render_boxes

    k = CameraIntrinsics.from_fov(320, 240)
    book = np.random.default_rng(4).uniform([-0.08, 4.9, 0.0], [0.08, 5.1, 0.03], (200, 3))

    def misses(eye) -> int:
        m = ObjectMap(MapConfig(min_observations=1, stale_frames=3))
        m.update([_seg(book)])
        far = validate_frame(render_boxes([], k, look_at(eye, (0.0, 5.0, 0.0))))  # only the floor
        for _ in range(3):
            m.update([], far)
        return len(m.objects)

    assert misses((0.0, -1.0, 1.5)) == 1   # 6 m away: a few pixels, no evidence it left
    assert misses((0.0, 4.3, 0.8)) == 0    # 1 m away and not seen: gone
