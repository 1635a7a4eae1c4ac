"""Program AST: the neuro-symbolic program a reasoner executes over a scene.

Programs are nested calls. Set-valued nodes return a list of object IDs; ``Count``
returns an int and ``Query`` a string. The text form (``str(node)``) is the DSL
accepted by :func:`apeiria_model.programs.grammar.parse_program`, e.g.::

    relate(filter(scene(), chair), filter(scene(), desk), left)
    relate_anchor(filter(scene(), mug), filter(scene(), window), closest)
    superlative(filter(scene(), chair), leftmost, 2)
    relate(filter(scene(), "coffee table"), filter(scene(), sofa), front, anchor)

Concepts and relations are plain strings so the vocabulary stays open: the executor
decides how to match a concept (see ``programs/concepts.py``) and what a relation
means geometrically (``programs/relations.py``, the one place that defines them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
import typing as t
from typing import Iterator

# Reference frame for view-dependent relations (left/right/front/behind).
FRAME_VIEWER = "viewer"   # relative to the scene's observer (Scene.viewpoint or default)
FRAME_ANCHOR = "anchor"   # allocentric: relative to the anchor object's `front`
FRAME_FACING = "facing"   # as seen by an observer facing the anchor's front ("facing the bed, the left one")
FRAMES = (FRAME_VIEWER, FRAME_ANCHOR, FRAME_FACING)

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def _concept_text(concept: str) -> str:
    """Bare word when possible, else a JSON-style quoted string."""
    if _BARE.fullmatch(concept):  # fullmatch: "$" would let a trailing newline pass
        return concept
    return '"' + concept.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Scene:
    """All objects in the scene."""

    def __str__(self) -> str:
        return "scene()"


@dataclass(frozen=True)
class Filter:
    """Objects of ``input`` that match ``concept`` (category, colour, attribute...)."""

    input: "SetNode"
    concept: str

    def __str__(self) -> str:
        return f"filter({self.input}, {_concept_text(self.concept)})"


@dataclass(frozen=True)
class Relate:
    """Objects of ``input`` standing in ``relation`` to at least one object of ``anchor``."""

    input: "SetNode"
    anchor: "SetNode"
    relation: str
    frame: str = FRAME_VIEWER

    def __str__(self) -> str:
        extra = f", {self.frame}" if self.frame != FRAME_VIEWER else ""
        return f"relate({self.input}, {self.anchor}, {self.relation}{extra})"


@dataclass(frozen=True)
class RelateMulti:
    """Objects of ``input`` in ``relation`` to a pair drawn from ``anchor_a`` x ``anchor_b`` (between)."""

    input: "SetNode"
    anchor_a: "SetNode"
    anchor_b: "SetNode"
    relation: str = "between"

    def __str__(self) -> str:
        return f"relate_multi({self.input}, {self.anchor_a}, {self.anchor_b}, {self.relation})"


@dataclass(frozen=True)
class RelateAnchor:
    """The one object of ``input`` that best satisfies ``relation`` to the ``anchor`` set.

    closest / farthest by distance; any other relation by its graded score
    (``programs/graded.py``): "the table far from the armchair", "the window on the left
    of the desk" name one object, so the best candidate is picked, not every one that passes."""

    input: "SetNode"
    anchor: "SetNode"
    relation: str  # closest | farthest | a binary relation | between (anchor pairs from the set)
    frame: str = FRAME_VIEWER

    def __str__(self) -> str:
        extra = f", {self.frame}" if self.frame != FRAME_VIEWER else ""
        return f"relate_anchor({self.input}, {self.anchor}, {self.relation}{extra})"


@dataclass(frozen=True)
class Union:
    a: "SetNode"
    b: "SetNode"

    def __str__(self) -> str:
        return f"union({self.a}, {self.b})"


@dataclass(frozen=True)
class Intersection:
    a: "SetNode"
    b: "SetNode"

    def __str__(self) -> str:
        return f"intersection({self.a}, {self.b})"


@dataclass(frozen=True)
class Exclude:
    """Objects of ``a`` that are not in ``b``."""

    a: "SetNode"
    b: "SetNode"

    def __str__(self) -> str:
        return f"exclude({self.a}, {self.b})"


@dataclass(frozen=True)
class Superlative:
    """The ``rank``-th object of ``input`` by ``kind`` (largest, leftmost, ...; 1 = most)."""

    input: "SetNode"
    kind: str
    rank: int = 1

    def __str__(self) -> str:
        extra = f", {self.rank}" if self.rank != 1 else ""
        return f"superlative({self.input}, {self.kind}{extra})"


@dataclass(frozen=True)
class Count:
    """How many objects ``input`` holds (a number, for QA)."""

    input: "SetNode"

    def __str__(self) -> str:
        return f"count({self.input})"


@dataclass(frozen=True)
class Query:
    """An attribute of the single object in ``input``: color | label | size | material | position."""

    input: "SetNode"
    attribute: str

    def __str__(self) -> str:
        return f"query({self.input}, {self.attribute})"


SetNode = t.Union[Scene, Filter, Relate, RelateMulti, RelateAnchor, Union, Intersection, Exclude, Superlative]
Node = t.Union[SetNode, Count, Query]

# how many input sets each operation takes (the DSL's call signatures; args follow them)
OP_INPUTS = {"scene": 0, "filter": 1, "relate": 2, "relate_multi": 3, "relate_anchor": 2, "union": 2,
             "intersection": 2, "exclude": 2, "superlative": 1, "count": 1, "query": 1}

SET_NODE_TYPES = (Scene, Filter, Relate, RelateMulti, RelateAnchor, Union, Intersection, Exclude, Superlative)
VALUE_NODE_TYPES = (Count, Query)


def children(node) -> tuple:
    """Direct sub-programs of ``node`` in evaluation order."""
    if isinstance(node, Scene):
        return ()
    if isinstance(node, (Filter, Superlative, Count, Query)):
        return (node.input,)
    if isinstance(node, (Relate, RelateAnchor)):
        return (node.input, node.anchor)
    if isinstance(node, RelateMulti):
        return (node.input, node.anchor_a, node.anchor_b)
    if isinstance(node, (Union, Intersection, Exclude)):
        return (node.a, node.b)
    raise TypeError(f"not a program node: {node!r}")


def walk(node) -> Iterator:
    """Post-order traversal: children before parents (execution order)."""
    for child in children(node):
        yield from walk(child)
    yield node


def depth(node) -> int:
    """Number of reasoning steps, not counting bare ``scene()`` calls.

    ``filter(scene(), chair)`` has depth 1; ``relate(filter(..), filter(..), left)``
    depth 3. This is the 'number of steps' the paper's depth breakdown uses.
    """
    return sum(1 for n in walk(node) if not isinstance(n, Scene))


def concepts(node) -> list[str]:
    """Every filter concept in the program, in execution order."""
    return [n.concept for n in walk(node) if isinstance(n, Filter)]
