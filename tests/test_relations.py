"""Spatial relations and superlatives on hand-built scenes whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from apeiria_model.programs import relations as rel
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.strategies import scenes
from apeiria_model.scene import Scene, SceneObject, Viewpoint

# Viewer south of the origin looking north (+y): right = +x, left = -x, front = -y.
NORTH = Viewpoint((0.0, -6.0, 1.6), (0.0, 0.0, 1.0))
SOUTH = Viewpoint((0.0, 6.0, 1.6), (0.0, 0.0, 1.0))


def box(i, label, center, size=(1.0, 1.0, 1.0), **kw):
    return SceneObject(i, label, tuple(map(float, center)), tuple(map(float, size)), **kw)


def make(objs, viewpoint=NORTH):
    return Scene("t", tuple(objs), viewpoint=viewpoint)


def holds(scene, name, cand_id, anchor_id, frame="viewer"):
    g = rel.SceneGeometry.from_scene(scene)
    r = rel.binary_relation(name, g, g.rows([cand_id]), g.rows([anchor_id]), frame)
    return bool(r.holds[0, 0])


def relation_set(scene, name, frame="viewer"):
    """All (candidate, anchor) id pairs for which ``name`` holds."""
    g = rel.SceneGeometry.from_scene(scene)
    rows = np.arange(len(scene))
    r = rel.binary_relation(name, g, rows, rows, frame)
    return {(int(g.ids[i]), int(g.ids[j])) for i, j in zip(*np.nonzero(r.holds))}


# --- view-dependent -------------------------------------------------------------------
def test_left_right_use_the_viewer_and_box_extents():
    s = make([box(0, "desk", (0, 0, 0.5), (2.0, 1.0, 1.0)),
              box(1, "chair", (-2.0, 0, 0.5)), box(2, "chair", (2.0, 0, 0.5)),
              box(3, "mug", (-0.3, 0, 1.05), (0.1, 0.1, 0.1)),      # inside the desk's middle half
              box(4, "lamp", (-2.5, 2.5, 0.5)),                     # diagonal, within the cone
              box(5, "plant", (-1.2, 6.0, 0.5))])                   # far behind, barely left
    assert holds(s, "left", 1, 0) and not holds(s, "right", 1, 0)
    assert holds(s, "right", 2, 0) and not holds(s, "left", 2, 0)
    assert not holds(s, "left", 3, 0) and not holds(s, "right", 3, 0)
    assert holds(s, "left", 4, 0)
    assert not holds(s, "left", 5, 0) and holds(s, "behind", 5, 0)


def test_stacked_pairs_have_no_horizontal_relation():
    s = make([box(0, "desk", (0, 0, 0.375), (1.4, 0.7, 0.75)), box(1, "mug", (0.6, 0, 0.8), (0.08, 0.08, 0.1)),
              box(2, "chair", (1.5, 0, 0.45), (0.5, 0.5, 0.9))])
    for name in ("left", "right", "front", "behind"):
        assert not holds(s, name, 0, 1) and not holds(s, name, 1, 0)
    assert holds(s, "left", 1, 2) and holds(s, "right", 2, 0)


def test_turning_the_viewer_around_swaps_left_and_right_and_front_and_behind():
    objs = [box(0, "desk", (0, 0, 0.5)), box(1, "chair", (-2, 0, 0.5)), box(2, "bin", (0, -2, 0.5))]
    north, south = make(objs, NORTH), make(objs, SOUTH)
    assert holds(north, "left", 1, 0) and holds(south, "right", 1, 0)
    assert holds(north, "front", 2, 0) and holds(south, "behind", 2, 0)


def test_default_viewpoint_is_used_when_the_scene_names_none():
    s = make([box(0, "desk", (0, 0, 0.5)), box(1, "chair", (-2, 0, 0.5))], viewpoint=None)
    assert holds(s, "left", 1, 0)  # default observer stands on -y looking +y


def test_anchor_frame_follows_the_anchors_facing():
    # The sofa faces east (+x): its front is +x, its own left is north (+y).
    s = make([box(0, "sofa", (0, 0, 0.4), (1.0, 2.0, 0.8), front=(1.0, 0.0, 0.0)),
              box(1, "table", (2.0, 0, 0.3)), box(2, "lamp", (0, 2.5, 0.5)), box(3, "bin", (-2.0, 0, 0.3))])
    assert holds(s, "front", 1, 0, "anchor") and not holds(s, "front", 1, 0, "viewer")
    assert holds(s, "right", 1, 0, "viewer")
    assert holds(s, "left", 2, 0, "anchor") and not holds(s, "right", 2, 0, "anchor")
    assert holds(s, "behind", 3, 0, "anchor")


def test_anchor_without_front_falls_back_to_the_viewer_with_a_note():
    s = make([box(0, "table", (0, 0, 0.4)), box(1, "chair", (-2, 0, 0.4)),
              box(2, "stool", (3, 0, 0.4), front=(0.0, 0.0, 1.0))])  # front straight up: no ground direction
    g = rel.SceneGeometry.from_scene(s)
    r = rel.binary_relation("left", g, g.rows([1]), g.rows([0, 2]), "anchor")
    assert r.holds[0, 0] and r.holds[0, 1]
    assert r.notes and "0, 2" in r.notes[0] and "viewer" in r.notes[0]


# --- vertical ---------------------------------------------------------------------------
def stack():
    return make([box(0, "table", (0, 0, 0.375), (1.2, 0.8, 0.75)),
                 box(1, "book", (0.1, 0, 0.775), (0.3, 0.2, 0.05)),
                 box(2, "cup", (0.1, 0, 0.85), (0.08, 0.08, 0.1)),
                 box(3, "lamp", (0.0, 0.0, 1.9), (0.3, 0.3, 0.2)),       # hanging over the table
                 box(4, "bag", (0.2, 0.1, 0.15), (0.3, 0.2, 0.3)),       # on the floor, under the table top
                 box(5, "chair", (1.2, 0, 0.45), (0.5, 0.5, 0.9))])      # touching the table's side


def test_stacked_objects_on_versus_above():
    s = stack()
    on = relation_set(s, "on")
    assert (1, 0) in on and (2, 1) in on
    assert (2, 0) not in on                     # the cup is on the book, not on the table
    assert holds(s, "above", 2, 0) and holds(s, "above", 1, 0)
    assert holds(s, "above", 3, 0) and not holds(s, "on", 3, 0)
    assert not holds(s, "on", 0, 1) and not holds(s, "above", 0, 1)


def test_below_and_under():
    s = stack()
    assert holds(s, "below", 0, 3)               # the table is below the hanging lamp
    assert holds(s, "under", 4, 0)               # the bag sits inside the table's box, low
    assert not holds(s, "under", 1, 0)           # the book is on top, not under
    assert not holds(s, "under", 5, 0)           # the chair beside it is not under it
    assert holds(s, "under", 0, 3)


def test_touching_boxes_are_near_and_next_to_but_not_on():
    s = stack()
    assert holds(s, "near", 5, 0) and holds(s, "next_to", 5, 0)
    assert not holds(s, "on", 5, 0) and not holds(s, "above", 5, 0)
    assert not holds(s, "next_to", 2, 0)         # different height bands: on it, not beside it


def test_near_far_use_box_gaps_and_leave_a_dead_zone():
    s = make([box(0, "sofa", (0, 0, 0.4), (3.0, 1.0, 0.8)),
              box(1, "lamp", (2.0, 0, 0.8), (0.3, 0.3, 1.6)),     # centre 2 m away, gap 0.35 m
              box(2, "plant", (0, 2.6, 0.5), (0.4, 0.4, 1.0)),    # gap 2.1 m
              box(3, "tv", (0, 6.0, 1.0), (1.2, 0.2, 0.7))])      # gap 5.4 m
    assert holds(s, "near", 1, 0) and not holds(s, "far", 1, 0)
    assert not holds(s, "near", 2, 0) and not holds(s, "far", 2, 0)   # the dead zone
    assert holds(s, "far", 3, 0) and not holds(s, "near", 3, 0)


def test_facing_uses_the_candidates_own_front():
    s = make([box(0, "desk", (0, 2, 0.4)),
              box(1, "chair", (0, 0, 0.45), front=(0.0, 1.0, 0.0)),      # turned to the desk
              box(2, "chair", (1.5, 0, 0.45), front=(0.0, 1.0, 0.0)),    # desk at 37 deg: still facing
              box(3, "chair", (3, 0, 0.45), front=(0.0, 1.0, 0.0)),      # desk at 56 deg: not
              box(4, "chair", (0, 4, 0.45), front=(0.0, 1.0, 0.0)),      # back to the desk
              box(5, "stool", (0, 1, 0.3))])                             # no front at all
    assert [holds(s, "facing", i, 0) for i in (1, 2, 3, 4, 5)] == [True, True, False, False, False]
    assert rel.canonical_relation("facing towards") == "facing" and rel.canonical_relation("in front of") == "front"


def test_inside():
    s = make([box(0, "cabinet", (0, 0, 0.5), (1.0, 0.6, 1.0)), box(1, "box", (0, 0, 0.3), (0.3, 0.3, 0.3)),
              box(2, "vase", (0, 0, 1.1), (0.2, 0.2, 0.3))])
    assert holds(s, "inside", 1, 0)
    assert not holds(s, "inside", 2, 0)          # mostly sticking out
    assert not holds(s, "inside", 0, 1)          # the big one is not inside the small one


def test_an_object_never_relates_to_itself():
    s = make([box(0, "chair", (0, 0, 0.5))])
    for name in rel.BINARY_RELATIONS:
        assert relation_set(s, name) == set(), name
    g = rel.SceneGeometry.from_scene(s)
    assert rel.anchor_superlative("closest", g, g.rows([0]), g.rows([0])) == (None, None, None)


def test_empty_sets():
    s = stack()
    g = rel.SceneGeometry.from_scene(s)
    r = rel.binary_relation("near", g, g.rows([0, 1]), g.rows([]))
    assert r.holds.shape == (2, 0)
    assert rel.between_relation(g, g.rows([]), g.rows([0]), g.rows([1])).holds.shape == (0, 1, 1)
    assert rel.anchor_superlative("closest", g, g.rows([]), g.rows([0]))[0] is None
    assert len(rel.rank_rows("largest", g, g.rows([]))) == 0


# --- between / closest / farthest ----------------------------------------------------
def test_between_needs_two_distinct_anchors_and_a_corridor():
    s = make([box(0, "bed", (-2, 0, 0.3), (1.0, 2.0, 0.6)), box(1, "bed", (2, 0, 0.3), (1.0, 2.0, 0.6)),
              box(2, "nightstand", (0, 0.5, 0.3), (0.4, 0.4, 0.6)),   # between, inside the beds' width
              box(3, "lamp", (0, 2.5, 0.5), (0.3, 0.3, 1.0)),         # beyond the corridor
              box(4, "rug", (4, 0, 0.01), (1.0, 1.0, 0.02))])         # on the line, past the end
    g = rel.SceneGeometry.from_scene(s)
    r = rel.between_relation(g, g.rows([2, 3, 4]), g.rows([0, 1]), g.rows([0, 1]))
    assert r.holds[0].any() and not r.holds[1].any() and not r.holds[2].any()
    assert not r.holds[0, 0, 0] and not r.holds[0, 1, 1]   # a bed paired with itself is no pair
    assert r.holds[0, 0, 1] and r.holds[0, 1, 0]


def test_closest_uses_box_gap_not_centres():
    s = make([box(0, "lamp", (0, 0, 0.8), (0.3, 0.3, 1.6)),
              box(1, "sofa", (2.0, 0, 0.4), (3.0, 1.0, 0.8)),      # centre 2 m, end 0.35 m away
              box(2, "chair", (0, 1.5, 0.45), (0.5, 0.5, 0.9))])   # centre 1.5 m, gap 1.1 m
    g = rel.SceneGeometry.from_scene(s)
    row, gap, anchor = rel.anchor_superlative("closest", g, g.rows([1, 2]), g.rows([0]))
    assert int(g.ids[row]) == 1 and gap == pytest.approx(0.35)
    row, _, _ = rel.anchor_superlative("farthest", g, g.rows([1, 2]), g.rows([0]))
    assert int(g.ids[row]) == 2


def test_equal_distances_break_ties_by_centre_then_id():
    s = make([box(7, "mug", (-1, 0, 0.5)), box(3, "mug", (1, 0, 0.5)), box(5, "plate", (0, 0, 0.5), (0.2, 0.2, 0.2))])
    g = rel.SceneGeometry.from_scene(s)
    row, _, _ = rel.anchor_superlative("closest", g, g.rows([7, 3]), g.rows([5]))
    assert int(g.ids[row]) == 3
    row, _, _ = rel.anchor_superlative("farthest", g, g.rows([7, 3]), g.rows([5]))
    assert int(g.ids[row]) == 3
    # float noise below the rounding step cannot decide a tie
    s2 = make([box(7, "mug", (-1 - 1e-9, 0, 0.5)), box(3, "mug", (1, 0, 0.5)), box(5, "plate", (0, 0, 0.5))])
    g2 = rel.SceneGeometry.from_scene(s2)
    row, _, _ = rel.anchor_superlative("farthest", g2, g2.rows([7, 3]), g2.rows([5]))
    assert int(g2.ids[row]) == 3


def test_candidate_that_is_also_an_anchor_uses_the_other_anchors():
    s = make([box(0, "chair", (0, 0, 0.5)), box(1, "chair", (3, 0, 0.5)), box(2, "chair", (10, 0, 0.5))])
    g = rel.SceneGeometry.from_scene(s)
    gap, _, nearest = rel.set_distances(g, g.rows([0, 1, 2]), g.rows([0, 1, 2]))
    assert list(g.ids[nearest]) == [1, 0, 1]
    assert gap[0] == pytest.approx(2.0)


# --- superlatives ------------------------------------------------------------------------
def test_superlatives_and_ranks():
    s = make([box(0, "chair", (-2, 0, 0.5), (0.5, 0.5, 1.0)), box(1, "chair", (0, 3, 0.5), (0.6, 0.6, 1.2)),
              box(2, "chair", (2, -1, 0.5), (0.4, 0.4, 0.8))])
    g = rel.SceneGeometry.from_scene(s)
    order = lambda kind: [int(g.ids[r]) for r in rel.rank_rows(kind, g, g.rows([0, 1, 2]))]  # noqa: E731
    assert order("leftmost") == [0, 1, 2]
    assert order("rightmost") == [2, 1, 0]
    assert order("largest") == [1, 0, 2] and order("smallest") == [2, 0, 1]
    assert order("tallest")[0] == 1
    assert order("frontmost")[0] == 2 and order("backmost")[0] == 1
    assert order("closest")[0] == 2 and order("farthest")[0] == 1


def test_superlative_ties_go_to_the_lower_id():
    s = make([box(9, "chair", (1, 0, 0.5)), box(4, "chair", (1, 2, 0.5))])
    g = rel.SceneGeometry.from_scene(s)
    assert int(g.ids[rel.rank_rows("leftmost", g, g.rows([9, 4]))[0]]) == 4


@pytest.mark.parametrize("phrase, expected", [
    ("second from the left", ("leftmost", 2)), ("3rd largest", ("largest", 3)), ("the tallest", ("tallest", 1)),
    ("biggest", ("largest", 1)), ("nearest", ("closest", 1)), ("third from the right", ("rightmost", 3)),
    ("second from the top", ("highest", 2)), ("furthest", ("farthest", 1)), ("purple", None), ("", None),
])
def test_parse_superlative_phrase(phrase, expected):
    assert rel.parse_superlative_phrase(phrase) == expected


# --- names -----------------------------------------------------------------------------
@pytest.mark.parametrize("phrase, canonical", [
    ("to the left of", "left"), ("on top of", "on"), ("beside", "next_to"), ("next to", "next_to"),
    ("in front of", "front"), ("underneath", "under"), ("near to", "near"), ("Next_To", "next_to"),
    ("  TO  the RIGHT of ", "right"), ("in between", "between"), ("furthest from", "farthest"),
    ("inside of", "inside"), ("far away from", "far"), ("above", "above"), ("beneath", "below"),
])
def test_relation_aliases(phrase, canonical):
    assert rel.canonical_relation(phrase) == canonical


def test_every_alias_maps_to_a_known_relation_and_superlative():
    assert set(rel.RELATION_ALIASES.values()) == set(rel.ALL_RELATIONS)
    assert set(rel.SUPERLATIVES.values()) <= set(rel.SUPERLATIVE_KINDS)
    for name in rel.ALL_RELATIONS:
        assert rel.canonical_relation(rel.RELATION_PHRASE[name]) == name


def test_unknown_names_raise_execution_errors():
    with pytest.raises(ProgramExecutionError, match="unknown relation 'sideways'"):
        rel.canonical_relation("sideways")
    with pytest.raises(ProgramExecutionError, match="unknown superlative"):
        rel.canonical_superlative("purplest")
    with pytest.raises(ProgramExecutionError):
        rel.canonical_relation(None)  # type: ignore[arg-type]


# --- vectorisation is exactly the pairwise definition ------------------------------------
@settings(max_examples=25, deadline=None)
@given(scenes(min_objects=1, max_objects=6))
def test_matrix_evaluation_equals_one_pair_at_a_time(scene):
    g = rel.SceneGeometry.from_scene(scene)
    rows = np.arange(len(scene))
    for name in rel.BINARY_RELATIONS:
        for frame in ("viewer", "anchor"):
            full = rel.binary_relation(name, g, rows, rows, frame).holds
            for i in rows:
                for j in rows:
                    single = rel.binary_relation(name, g, np.array([i]), np.array([j]), frame).holds[0, 0]
                    assert full[i, j] == single, (name, frame, i, j)
            assert not np.any(np.diag(full))


def test_between_best_matches_the_full_tensor_and_chunks(monkeypatch):
    s = make([box(i, "box", (float(i % 5) * 1.5, float(i // 5) * 1.5, 0.25), (0.5, 0.5, 0.5)) for i in range(25)])
    g = rel.SceneGeometry.from_scene(s)
    rows = np.arange(25)
    full = rel.between_relation(g, rows, rows, rows)
    monkeypatch.setattr(rel, "BETWEEN_CHUNK_ELEMENTS", 100)   # force many small chunks
    holds, a, b, offset, _ = rel.between_best(g, rows, rows, rows)
    assert np.array_equal(holds, full.holds.reshape(25, -1).any(axis=1))
    for k in np.flatnonzero(holds):
        assert full.holds[k, a[k], b[k]]
        assert offset[k] == pytest.approx(np.min(np.where(full.holds[k], full.offset[k], np.inf)))
    assert holds[6] and not holds[0]   # box 6 lies between boxes 0 and 12 (diagonal) and others


def test_large_sets_are_chunked_and_absurd_ones_refused(monkeypatch):
    s = make([box(i, "box", (float(i % 10), float(i // 10), 0.25), (0.5, 0.5, 0.5)) for i in range(100)])
    g = rel.SceneGeometry.from_scene(s)
    rows = np.arange(100)
    whole = rel.binary_best("near", g, rows, rows)
    gap_whole = rel.set_distances(g, rows, rows)
    monkeypatch.setattr(rel, "PAIR_CHUNK", 7)
    g2 = rel.SceneGeometry.from_scene(s)
    chunked = rel.binary_best("near", g2, rows, rows)
    for a, b in zip(whole[:4], chunked[:4]):
        assert np.array_equal(a, b)
    for a, b in zip(gap_whole, rel.set_distances(g2, rows, rows)):
        assert np.array_equal(a, b)
    assert np.array_equal(g.support_top(), g2.support_top())
    monkeypatch.setattr(rel, "MAX_PAIRS", 5000)
    with pytest.raises(ProgramExecutionError, match="too large"):
        rel.binary_best("near", g2, rows, rows)
