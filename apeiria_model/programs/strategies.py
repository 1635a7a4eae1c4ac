"""Hypothesis strategies for programs and scenes, shared by tests across the repo.

Import only from tests (hypothesis is a test dependency):

    from apeiria_model.programs.strategies import programs, scenes
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from apeiria_model.programs import ast
from apeiria_model.scene.model import Scene, SceneObject, Viewpoint

LABELS = ("chair", "table", "desk", "mug", "lamp", "sofa", "bed", "window", "door", "shelf",
          "coffee table", "trash can", "plant", "monitor", "book")
COLORS = ("red", "blue", "green", "white", "black", "brown", "yellow", "gray")
ATTRIBUTES = ("wooden", "metal", "small", "large", "round", "soft")
BINARY_RELATIONS = ("left", "right", "front", "behind", "above", "below", "on", "under", "near",
                    "far", "next_to", "inside", "facing")
ANCHOR_RELATIONS = ("closest", "farthest")
SUPERLATIVE_KINDS = ("largest", "smallest", "tallest", "shortest", "highest", "lowest", "leftmost",
                     "rightmost", "frontmost", "backmost", "closest", "farthest")
QUERY_ATTRIBUTES = ("color", "label", "size", "position", "material")

# Alias phrases of binary relations and superlative kinds (single-space separated words,
# so they survive the DSL round trip).
ALIAS_RELATIONS = ("to the left of", "on top of", "beside", "next to", "in front of", "underneath",
                   "near to", "close to", "far away from", "right of", "behind", "over", "within")
ALIAS_KINDS = ("biggest", "tiniest", "topmost", "left most", "nearest", "furthest", "rearmost")

# Concepts the lexical matcher understands (labels, colour + label, attributes), plus a
# few that force the quoted form of the DSL.
known_concepts = st.one_of(
    st.sampled_from(LABELS),
    st.builds(lambda c, l: f"{c} {l}", st.sampled_from(COLORS), st.sampled_from(LABELS)),
    st.sampled_from(COLORS + ATTRIBUTES + ("object", "thing")),
)
# Arbitrary printable text (any quoting / escaping) that is not blank.
any_concepts = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "")


def set_programs(concepts=known_concepts, max_leaves: int = 6, relations=None, kinds=None):
    """Random set-valued programs over ``concepts``; ``relations`` / ``kinds`` override the
    relation names and superlative kinds drawn (e.g. alias phrases)."""
    relations = relations if relations is not None else st.sampled_from(BINARY_RELATIONS)
    kinds = kinds if kinds is not None else st.sampled_from(SUPERLATIVE_KINDS)
    leaf = st.one_of(st.just(ast.Scene()), st.builds(ast.Filter, st.just(ast.Scene()), concepts))

    def extend(children):
        return st.one_of(
            st.builds(ast.Filter, children, concepts),
            st.builds(ast.Relate, children, children, relations, st.sampled_from(ast.FRAMES)),
            st.builds(ast.RelateMulti, children, children, children, st.just("between")),
            st.builds(ast.RelateAnchor, children, children, st.sampled_from(ANCHOR_RELATIONS)),
            st.builds(ast.Union, children, children),
            st.builds(ast.Intersection, children, children),
            st.builds(ast.Exclude, children, children),
            st.builds(ast.Superlative, children, kinds, st.integers(min_value=1, max_value=3)),
        )

    return st.recursive(leaf, extend, max_leaves=max_leaves)


def programs(concepts=known_concepts, max_leaves: int = 6, relations=None, kinds=None):
    """Random programs: set-valued, or a count / query on top of one."""
    sets = set_programs(concepts, max_leaves, relations, kinds)
    return st.one_of(
        sets, sets,
        st.builds(ast.Count, sets),
        st.builds(ast.Query, sets, st.sampled_from(QUERY_ATTRIBUTES)),
    )


_coord = st.floats(min_value=-4.0, max_value=4.0, allow_nan=False, allow_infinity=False)
_height = st.floats(min_value=0.0, max_value=2.0, allow_nan=False, allow_infinity=False)
_dim = st.floats(min_value=0.05, max_value=2.0, allow_nan=False, allow_infinity=False)


@st.composite
def scene_objects(draw, object_id: int) -> SceneObject:
    label = draw(st.sampled_from(LABELS))
    color = draw(st.one_of(st.none(), st.sampled_from(COLORS)))
    attrs = tuple(draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=2, unique=True)))
    size = (draw(_dim), draw(_dim), draw(_dim))
    center = (draw(_coord), draw(_coord), draw(_height) + size[2] / 2)
    front = draw(st.one_of(st.none(), st.sampled_from([(1.0, 0.0, 0.0), (0.0, 1.0, 0.0),
                                                         (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0),
                                                         (0.6, 0.8, 0.0)])))
    return SceneObject(object_id, label, center, size, color=color, attributes=attrs, front=front)


@st.composite
def scenes(draw, min_objects: int = 0, max_objects: int = 12) -> Scene:
    n = draw(st.integers(min_value=min_objects, max_value=max_objects))
    ids = draw(st.lists(st.integers(min_value=0, max_value=999), min_size=n, max_size=n, unique=True))
    objs = tuple(draw(scene_objects(i)) for i in ids)
    # a viewpoint looking straight down (same x, y) is not a valid scene (Scene JSON rules)
    viewpoint = draw(st.one_of(st.none(), st.builds(
        Viewpoint, st.tuples(_coord, _coord, st.just(1.6)), st.tuples(_coord, _coord, st.just(1.0))).filter(
            lambda v: math.dist(v.position[:2], v.look_at[:2]) >= 1e-6)))
    return Scene("random", objs, viewpoint=viewpoint)
