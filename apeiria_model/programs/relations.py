"""Spatial relations and superlatives: THE one place that defines them geometrically.

Every object is an axis-aligned box (centre c, size s = (w, d, h), z up). "Ground"
means the x-y plane. ``gap(a, b)`` is the box-gap distance: the Euclidean distance
between the closest points of the two boxes (0 when they touch or overlap), so a long
sofa is "near" a lamp at its end even though their centres are far apart.
``L(o)`` is an object's largest dimension. See ``docs/relations.md`` for pictures.

=========  =============================================================================
relation   candidate c stands in the relation to anchor a when ...
=========  =============================================================================
left       (view frame) c's centre lies on a's left: along the frame's left direction
right      e, ``e.(c-a) > 0.5 * half-extent of a along e`` (outside the middle half of a)
front      and the sideways offset beyond a's own extent is within a 60-degree cone:
behind     ``max(0, |p.(c-a)| - half-extent of a along p) <= tan(60deg) * e.(c-a)``.
           Viewer frame: left = -right(viewer), front = towards the viewer. Anchor
           frame (``frame="anchor"``): front = a.front, right = front x z; an anchor
           with no ``front`` falls back to the viewer frame (noted in the evidence).
           Stacked pairs (one above the other, footprints overlapping >= 50 % of the
           smaller) have no horizontal relation.
above      bottom(c) >= top(a) - 0.05 m and the footprints overlap or are within
           max(0.10 m, 0.25 L_xy(a)) on the ground. Includes resting on a.
below      top(c) <= bottom(a) + 0.05 m, same footprint test.
on         c rests on a: c's ground centre is inside a's footprint (+0.05 m), bottom(c)
           is within 0.10 m of top(a), top(c) > top(a) (not sunk into it); and a is
           the highest thing c rests on (tops within 0.01 m count as equal). Stacked
           A on B on C: A is on B and above C, but not on C, however thin B is.
under      footprints overlap by >= 50 % of the smaller one, and either c is below a
           or c sits inside a's box low down (top(c) <= top(a) - 0.25 h(a) and
           centre z(c) < centre z(a)): the space under a table is inside its box.
near       gap <= clip(0.75 * max(L(c), L(a)), 0.30 m, 1.50 m)
far        gap >= max(1.0 m, 2 * that near threshold) (a dead zone between the two)
next_to    gap <= clip(0.5 * sqrt(L(c) L(a)), 0.15 m, 1.0 m) and their height bands
           [bottom, top] overlap by >= 50 % of the shorter one (side by side).
inside     >= 80 % of c's volume lies in a's box and c is smaller than a.
facing     c has a ``front`` and a's ground centre lies within 45 degrees of it
           (c is turned towards a; objects without a front face nothing).
between    (relate_multi) for two distinct anchors a, b: c's ground centre projects
           strictly between a's and b's ground centres (0 < t < 1) and lies within
           the corridor max(0.15 m, half-extents of a and b across the line) of it.
closest    (relate_anchor) the candidate with the smallest distance to the anchor set,
farthest   distance = min over anchors of gap; ties by centre distance, then id.
=========  =============================================================================

An object never relates to itself (self pairs are masked out), empty sets give empty
results, and ties are broken deterministically: measured values are rounded to 1e-6
m (so float noise cannot decide) and then the lower object id wins.

Superlatives rank one set by one key; rank 1 is the most extreme. Viewer-relative
ones use ``scene.default_viewpoint()``: leftmost / rightmost by the centre's offset
along the viewer's right axis, frontmost / backmost by depth along the viewing
direction, closest / farthest by 3D gap between the viewer's eye and the box;
largest / smallest by volume, tallest / shortest by height, highest / lowest by
centre height, longest by the longer ground side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.scene.model import Scene

# --- thresholds (metres unless noted); docs/relations.md explains each ---------------
SIDE_MIN_FRACTION = 0.5          # c's centre must leave the middle half of a's extent
SIDE_CONE_DEG = 60.0             # sideways slack beyond a's extent, as a cone angle
STACKED_OVERLAP = 0.5            # one over the other with this footprint overlap: stacked
VERTICAL_TOL = 0.05              # box tops/bottoms this close count as touching
ABOVE_XY_MIN = 0.10              # "over" a: footprints within this ground gap...
ABOVE_XY_REL = 0.25              # ...or this fraction of a's larger ground side
ON_XY_MARGIN = 0.05              # support: c's ground centre inside a's footprint + this
ON_Z_TOL = 0.10                  # bottom(c) within this of top(a)
SUPPORT_TIE = 0.01               # supports whose tops differ by less than this are equal
UNDER_OVERLAP = 0.5              # footprint overlap / smaller footprint
UNDER_CLEARANCE_REL = 0.25       # inside a's box: top(c) at least this * h(a) below top(a)
NEAR_REL, NEAR_MIN, NEAR_MAX = 0.75, 0.30, 1.50
FAR_MULT, FAR_MIN = 2.0, 1.0
NEXT_TO_REL, NEXT_TO_MIN, NEXT_TO_MAX = 0.5, 0.15, 1.0
NEXT_TO_BAND_OVERLAP = 0.5
INSIDE_FRACTION = 0.8
FACING_MAX_DEG = 45.0            # the anchor lies within this angle of c's front
BETWEEN_CORRIDOR_MIN = 0.15
TIE_DECIMALS = 6
PAIR_CHUNK = 250_000             # (candidate, anchor) pairs evaluated per numpy block
MAX_PAIRS = 50_000_000           # refuse larger relations with a clear error, not an OOM

_TAN_CONE = math.tan(math.radians(SIDE_CONE_DEG))

BINARY_RELATIONS = ("left", "right", "front", "behind", "above", "below", "on", "under", "near", "far",
                    "next_to", "inside", "facing")
MULTI_RELATIONS = ("between",)
ANCHOR_RELATIONS = ("closest", "farthest")
VIEW_DEPENDENT = ("left", "right", "front", "behind")
ALL_RELATIONS = BINARY_RELATIONS + MULTI_RELATIONS + ANCHOR_RELATIONS

# How each relation reads in a sentence ("Object 3 (chair) is left of Object 5 (desk)").
RELATION_PHRASE = {
    "left": "left of", "right": "right of", "front": "in front of", "behind": "behind",
    "above": "above", "below": "below", "on": "on", "under": "under", "near": "near",
    "far": "far from", "next_to": "next to", "inside": "inside", "facing": "facing", "between": "between",
    "closest": "closest to", "farthest": "farthest from",
}
# The quantity each relation's evidence reports.
RELATION_MEASURE = {
    "left": "offset", "right": "offset", "front": "offset", "behind": "offset",
    "above": "height gap", "below": "height gap", "on": "height gap", "under": "footprint overlap",
    "near": "distance", "far": "distance", "next_to": "distance", "inside": "contained fraction",
    "facing": "angle",
    "between": "offset from the line", "closest": "distance", "farthest": "distance",
}

_ALIAS_LISTS = {
    "left": ["left", "left of", "to the left of", "on the left of", "on the left side of", "at the left of",
             "to the left side of", "left side of", "on the left hand side of", "leftward of", "left to"],
    "right": ["right", "right of", "to the right of", "on the right of", "on the right side of",
              "at the right of", "to the right side of", "right side of", "on the right hand side of",
              "rightward of", "right to"],
    "front": ["front", "in front of", "front of", "in the front of", "at the front of", "ahead of",
              "before"],
    "behind": ["behind", "back", "back of", "in back of", "at the back of", "in the back of", "at the rear of",
               "to the back of", "behind of", "rear"],
    "above": ["above", "over", "higher than", "up above", "hanging above", "hanging over", "overhead"],
    "below": ["below", "lower than", "down below", "beneath"],
    "on": ["on", "on top of", "atop", "upon", "onto", "on the top of", "sitting on", "resting on", "lying on",
           "placed on", "standing on", "sits on", "rests on", "lies on", "stands on", "supported by"],
    "under": ["under", "underneath", "under the", "beneath of", "at the bottom of", "underneath of"],
    "near": ["near", "near to", "close to", "nearby", "close by", "around", "in the vicinity of", "by",
             "not far from", "neighboring", "neighbouring"],
    "far": ["far", "far from", "far away from", "away from", "distant from", "not close to", "far off from"],
    "next_to": ["next to", "next_to", "beside", "besides", "adjacent to", "alongside", "by the side of",
                "at the side of", "right next to", "right beside", "side by side with", "next"],
    "inside": ["inside", "in", "inside of", "within", "into", "contained in", "in the middle of box",
               "stored in", "kept in", "enclosed in"],
    "facing": ["facing", "facing towards", "facing toward", "faces", "turned towards", "turned toward",
               "pointing at", "pointed at", "oriented towards", "looking at", "directed at"],
    "between": ["between", "in between", "in the middle between", "halfway between", "amid", "amidst"],
    "closest": ["closest", "closest to", "nearest", "nearest to", "most near", "the closest to",
                "the nearest to", "closer to", "nearer to"],
    "farthest": ["farthest", "farthest from", "furthest", "furthest from", "farthest away from",
                 "furthest away from", "most distant from", "farther from", "further from"],
}


def _norm_phrase(text: str) -> str:
    return " ".join(re.split(r"[\s_\-]+", str(text).strip().lower())).strip()


RELATION_ALIASES: dict[str, str] = {}
for _canon, _phrases in _ALIAS_LISTS.items():
    for _p in _phrases:
        RELATION_ALIASES[_p] = _canon
    RELATION_ALIASES[_canon] = _canon
_RELATION_LOOKUP = {_norm_phrase(k): v for k, v in RELATION_ALIASES.items()}

# --- superlatives ---------------------------------------------------------------------
SUPERLATIVE_KINDS = ("largest", "smallest", "tallest", "shortest", "highest", "lowest", "leftmost",
                     "rightmost", "frontmost", "backmost", "closest", "farthest", "longest", "middle")
_SUPERLATIVE_LISTS = {
    "largest": ["largest", "biggest", "big", "large", "huge", "hugest", "greatest", "bulkiest"],
    "smallest": ["smallest", "tiniest", "littlest", "small", "tiny", "little", "least big"],
    "tallest": ["tallest", "tall"],
    "shortest": ["shortest", "short"],
    "highest": ["highest", "topmost", "uppermost", "top", "top most", "high", "up most", "upmost"],
    "lowest": ["lowest", "bottommost", "bottom", "bottom most", "low", "lowermost"],
    "leftmost": ["leftmost", "left most", "left-most", "most left", "far left", "furthest left",
                 "farthest left", "left"],
    "rightmost": ["rightmost", "right most", "right-most", "most right", "far right", "furthest right",
                  "farthest right", "right"],
    "frontmost": ["frontmost", "front most", "front-most", "front", "foremost", "most front",
                  "closest to the front", "nearest to the front"],
    "backmost": ["backmost", "back most", "back-most", "rearmost", "back", "rear", "hindmost",
                 "furthest back", "farthest back", "most back"],
    "closest": ["closest", "nearest", "closest to me", "nearest to me", "closest to the viewer",
                "nearest to the viewer", "closest to the camera"],
    "farthest": ["farthest", "furthest", "farthest from me", "furthest from me", "farthest from the viewer",
                 "most distant", "farthest away", "furthest away"],
    "longest": ["longest", "long", "widest", "wide"],
    "middle": ["middle", "center", "centre", "central", "centermost", "centremost", "middlemost"],
}
SUPERLATIVES: dict[str, str] = {}
for _canon, _phrases in _SUPERLATIVE_LISTS.items():
    for _p in _phrases:
        SUPERLATIVES[_p] = _canon
_SUPERLATIVE_LOOKUP = {_norm_phrase(k): v for k, v in SUPERLATIVES.items()}

ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10, "last": -1}
_FROM_SIDE = {"left": "leftmost", "right": "rightmost", "front": "frontmost", "back": "backmost",
              "rear": "backmost", "top": "highest", "bottom": "lowest"}
_ORDINAL_RE = re.compile(r"^(\d+)(st|nd|rd|th)$")


class UnknownRelationError(ProgramExecutionError):
    """A relation / superlative name no alias table knows."""


def canonical_relation(name: str) -> str:
    """'to the left of' -> 'left'; raises :class:`UnknownRelationError`."""
    key = _norm_phrase(name) if isinstance(name, str) else ""
    if key in _RELATION_LOOKUP:
        return _RELATION_LOOKUP[key]
    raise UnknownRelationError(f"unknown relation {name!r}: known relations are {', '.join(ALL_RELATIONS)}")


def canonical_superlative(name: str) -> str:
    """'biggest' -> 'largest'; raises :class:`UnknownRelationError`."""
    key = _norm_phrase(name) if isinstance(name, str) else ""
    if key in _SUPERLATIVE_LOOKUP:
        return _SUPERLATIVE_LOOKUP[key]
    raise UnknownRelationError(f"unknown superlative {name!r}: known kinds are {', '.join(SUPERLATIVE_KINDS)}")


def _ordinal(word: str) -> int | None:
    if word in ORDINALS:
        return ORDINALS[word]
    m = _ORDINAL_RE.match(word)
    if m and int(m.group(1)) >= 1:
        return int(m.group(1))
    return None


def parse_superlative_phrase(text: str) -> tuple[str, int] | None:
    """'second from the left' -> ('leftmost', 2); '3rd largest' -> ('largest', 3);
    'the tallest' -> ('tallest', 1). None when the phrase is no superlative.
    A rank of -1 means 'last' (the opposite end; the caller decides)."""
    words = _norm_phrase(text).split(" ")
    words = [w for w in words if w not in ("the", "one", "object")]
    if not words or words == [""]:
        return None
    rank = 1
    rank_word = _ordinal(words[0])
    if rank_word is not None:
        rank, words = rank_word, words[1:]
    if len(words) >= 2 and words[0] == "from":  # "second from the left"
        side = words[-1]
        if side in _FROM_SIDE and len(words) <= 3:
            return _FROM_SIDE[side], rank
        return None
    key = " ".join(words)
    if key in _SUPERLATIVE_LOOKUP:
        return _SUPERLATIVE_LOOKUP[key], rank
    return None


# --- per-scene geometry cache ---------------------------------------------------------
@dataclass
class SceneGeometry:
    """Arrays of one scene, computed once per execution (rows follow ``scene.objects``)."""

    ids: np.ndarray            # (N,) int
    centers: np.ndarray        # (N, 3)
    sizes: np.ndarray          # (N, 3)
    fronts: np.ndarray         # (N, 2) unit ground direction, 0 where none
    has_front: np.ndarray      # (N,) bool
    viewer_pos: np.ndarray     # (3,)
    viewer_forward: np.ndarray  # (2,) unit
    viewer_right: np.ndarray   # (2,) unit
    row_of: dict[int, int] = field(default_factory=dict)
    _support_top: np.ndarray | None = None

    def support_top(self) -> np.ndarray:
        """(N,) top height of the highest object each object rests on (-inf if none)."""
        if self._support_top is None:
            n = len(self.ids)
            c, s = self.centers, self.sizes
            tops = c[:, 2] + s[:, 2] / 2
            out = np.full(n, -np.inf)
            step = max(1, PAIR_CHUNK // max(n, 1))
            for start in range(0, n, step):
                sl = slice(start, start + step)
                rests = _rests_on(c[sl, None, :], s[sl, None, :], c[None, :, :], s[None, :, :])
                idx = np.arange(start, min(start + step, n))
                rests[idx - start, idx] = False  # nothing rests on itself
                out[sl] = np.where(rests, tops[None, :], -np.inf).max(axis=1)
            self._support_top = out
        return self._support_top

    @classmethod
    def from_scene(cls, scene: Scene) -> "SceneGeometry":
        objs = scene.objects
        n = len(objs)
        ids = np.fromiter((o.id for o in objs), dtype=np.int64, count=n)
        centers = np.array([o.center for o in objs], dtype=float).reshape(n, 3)
        sizes = np.abs(np.array([o.size for o in objs], dtype=float).reshape(n, 3))
        fronts = np.zeros((n, 2))
        has_front = np.zeros(n, dtype=bool)
        for k, o in enumerate(objs):
            if o.front is not None:
                f = np.asarray(o.front, dtype=float)[:2]
                norm = float(np.hypot(f[0], f[1])) if np.all(np.isfinite(f)) else 0.0
                if norm > 1e-9:
                    fronts[k] = f / norm
                    has_front[k] = True
        vp = scene.default_viewpoint()
        fwd = vp.forward()[:2]
        right = vp.right()[:2]
        return cls(ids, centers, sizes, fronts, has_front, np.asarray(vp.position, float), fwd, right,
                   {int(i): k for k, i in enumerate(ids)})

    def rows(self, ids: Sequence[int]) -> np.ndarray:
        return np.fromiter((self.row_of[int(i)] for i in ids), dtype=np.int64, count=len(ids))

    @property
    def mins(self) -> np.ndarray:
        return self.centers - self.sizes / 2

    @property
    def maxs(self) -> np.ndarray:
        return self.centers + self.sizes / 2


@dataclass
class RelationResult:
    """Pairwise outcome of one relation: rows = candidates, columns = anchors."""

    holds: np.ndarray      # (Nc, Na) bool, self pairs already False
    measure: np.ndarray    # (Nc, Na) float: the quantity RELATION_MEASURE names
    distance: np.ndarray   # (Nc, Na) box-gap distance, for choosing the evidence anchor
    notes: list[str] = field(default_factory=list)


def _pair_arrays(geom: SceneGeometry, cand: np.ndarray, anch: np.ndarray):
    c_c, s_c = geom.centers[cand][:, None, :], geom.sizes[cand][:, None, :]
    c_a, s_a = geom.centers[anch][None, :, :], geom.sizes[anch][None, :, :]
    return c_c, s_c, c_a, s_a


def box_gaps(c_c, s_c, c_a, s_a, dims: int = 3) -> np.ndarray:
    """Closest-point distance between boxes, broadcast over leading axes."""
    d = np.abs(c_c[..., :dims] - c_a[..., :dims]) - (s_c[..., :dims] + s_a[..., :dims]) / 2
    return np.sqrt(np.sum(np.clip(d, 0.0, None) ** 2, axis=-1))


def _footprint_overlap(c_c, s_c, c_a, s_a) -> np.ndarray:
    lo = np.maximum(c_c[..., :2] - s_c[..., :2] / 2, c_a[..., :2] - s_a[..., :2] / 2)
    hi = np.minimum(c_c[..., :2] + s_c[..., :2] / 2, c_a[..., :2] + s_a[..., :2] / 2)
    return np.prod(np.clip(hi - lo, 0.0, None), axis=-1)


def _rests_on(c_c, s_c, c_a, s_a) -> np.ndarray:
    """c's ground centre over a's footprint, c's bottom within ON_Z_TOL of a's top, c not sunk into a."""
    inside_xy = np.all(np.abs(c_c[..., :2] - c_a[..., :2]) <= s_a[..., :2] / 2 + ON_XY_MARGIN, axis=-1)
    bottom_c, top_c = c_c[..., 2] - s_c[..., 2] / 2, c_c[..., 2] + s_c[..., 2] / 2
    top_a = c_a[..., 2] + s_a[..., 2] / 2
    return inside_xy & (np.abs(bottom_c - top_a) <= ON_Z_TOL) & (top_c > top_a)


def _directions(name: str, geom: SceneGeometry, anch: np.ndarray, frame: str, notes: list[str]) -> np.ndarray:
    """(Na, 2) unit ground direction of ``name`` for each anchor."""
    f, r = geom.viewer_forward, geom.viewer_right
    viewer = {"left": -r, "right": r, "front": -f, "behind": f}[name]
    out = np.repeat(viewer[None, :], len(anch), axis=0)
    if frame not in ("anchor", "facing"):
        return out
    has = geom.has_front[anch]
    u = geom.fronts[anch]
    own = frame_directions(name, u, frame)
    out[has] = own[has]
    missing = geom.ids[anch][~has]
    if len(missing):
        notes.append("no facing direction for object(s) " + ", ".join(str(int(i)) for i in missing)
                     + "; used the viewer's frame instead")
    return out


def frame_directions(name: str, u: np.ndarray, frame: str) -> np.ndarray:
    """(N, 2) direction of ``name`` for anchors whose fronts are ``u`` (N, 2).

    ``anchor``: the anchor's own sides (its right = front x z, a chair's right armrest).
    ``facing``: as seen by an observer standing in front of the anchor looking at it, so
    left and right swap ("facing the bed, the nightstand on the left" is the bed's own right).
    """
    right_of_u = np.stack([u[:, 1], -u[:, 0]], axis=1)  # u x z, the anchor's own right
    if frame == "facing":
        right_of_u = -right_of_u
    return {"front": u, "behind": -u, "right": right_of_u, "left": -right_of_u}[name]


def _check_size(n_pairs: int, name: str) -> None:
    if n_pairs > MAX_PAIRS:
        raise ProgramExecutionError(f"relation {name!r} over {n_pairs} object pairs is too large "
                                    f"(limit {MAX_PAIRS}); filter the sets first")


def binary_best(name: str, geom: SceneGeometry, cand: np.ndarray, anch: np.ndarray, frame: str = "viewer"):
    """Per candidate: (holds for some anchor, best anchor index, measure, distance, notes).

    The best anchor is the nearest (box gap) one among those the relation holds for,
    ties to the lower index. Evaluated in blocks, so memory stays O(len(cand)).
    """
    cand = np.asarray(cand, dtype=np.int64)
    anch = np.asarray(anch, dtype=np.int64)
    nc, na = len(cand), len(anch)
    _check_size(nc * na, name)
    holds = np.zeros(nc, dtype=bool)
    best = np.zeros(nc, dtype=np.int64)
    measure = np.zeros(nc)
    dist = np.full(nc, np.inf)
    notes: list[str] = []
    if nc == 0 or na == 0:
        binary_relation(name, geom, cand[:0], anch[:0], frame)  # still validates the name
        return holds, best, measure, dist, notes
    step = max(1, PAIR_CHUNK // na)
    for start in range(0, nc, step):
        part = binary_relation(name, geom, cand[start:start + step], anch, frame)
        if start == 0:
            notes = part.notes
        d = np.where(part.holds, part.distance, np.inf)
        k = np.argmin(d, axis=1)
        rows = np.arange(len(k))
        sl = slice(start, start + len(k))
        holds[sl] = part.holds.any(axis=1)
        best[sl] = k
        measure[sl] = part.measure[rows, k]
        dist[sl] = part.distance[rows, k]
    return holds, best, measure, dist, notes


def binary_relation(name: str, geom: SceneGeometry, cand: np.ndarray, anch: np.ndarray,
                    frame: str = "viewer") -> RelationResult:
    """Evaluate canonical relation ``name`` for every (candidate row, anchor row) pair."""
    cand = np.asarray(cand, dtype=np.int64)
    anch = np.asarray(anch, dtype=np.int64)
    if name not in BINARY_RELATIONS:
        raise UnknownRelationError(f"{name!r} is not a binary relation: expected one of {', '.join(BINARY_RELATIONS)}")
    notes: list[str] = []
    shape = (len(cand), len(anch))
    if 0 in shape:
        z = np.zeros(shape)
        return RelationResult(np.zeros(shape, dtype=bool), z, z.copy(), notes)
    c_c, s_c, c_a, s_a = _pair_arrays(geom, cand, anch)
    dist = box_gaps(c_c, s_c, c_a, s_a)
    not_self = cand[:, None] != anch[None, :]
    bottom_c, top_c = c_c[..., 2] - s_c[..., 2] / 2, c_c[..., 2] + s_c[..., 2] / 2
    bottom_a, top_a = c_a[..., 2] - s_a[..., 2] / 2, c_a[..., 2] + s_a[..., 2] / 2
    big_c = np.max(s_c, axis=-1)
    big_a = np.max(s_a, axis=-1)

    if name in VIEW_DEPENDENT:
        e = _directions(name, geom, anch, frame, notes)[None, :, :]       # (1, Na, 2)
        p = np.stack([-e[..., 1], e[..., 0]], axis=-1)
        d = (c_c - c_a)[..., :2]
        along = np.sum(d * e, axis=-1)
        perp = np.abs(np.sum(d * p, axis=-1))
        half_e = (np.abs(e[..., 0]) * s_a[..., 0] + np.abs(e[..., 1]) * s_a[..., 1]) / 2
        half_p = (np.abs(p[..., 0]) * s_a[..., 0] + np.abs(p[..., 1]) * s_a[..., 1]) / 2
        holds = (along > SIDE_MIN_FRACTION * half_e) & (np.clip(perp - half_p, 0, None) <= _TAN_CONE * along)
        # A stacked pair (a mug on a desk) has no horizontal relation: "the desk is left
        # of the mug" is never what a speaker means.
        overlap = _footprint_overlap(c_c, s_c, c_a, s_a)
        smaller = np.minimum(s_c[..., 0] * s_c[..., 1], s_a[..., 0] * s_a[..., 1])
        stacked = ((overlap >= STACKED_OVERLAP * smaller) &
                   ((bottom_c >= top_a - VERTICAL_TOL) | (bottom_a >= top_c - VERTICAL_TOL)))
        holds = holds & ~stacked
        measure = along
    elif name in ("above", "below"):
        hgap = box_gaps(c_c, s_c, c_a, s_a, dims=2)
        over = hgap <= np.maximum(ABOVE_XY_MIN, ABOVE_XY_REL * np.max(s_a[..., :2], axis=-1))
        if name == "above":
            measure = bottom_c - top_a
        else:
            measure = bottom_a - top_c
        holds = over & (measure >= -VERTICAL_TOL)
    elif name == "on":
        measure = bottom_c - top_a
        # resting on a, and a is the highest thing c rests on (a cup on a book on a table
        # is on the book, not the table, however thin the book)
        holds = _rests_on(c_c, s_c, c_a, s_a) & (top_a >= geom.support_top()[cand][:, None] - SUPPORT_TIE)
    elif name == "under":
        overlap = _footprint_overlap(c_c, s_c, c_a, s_a)
        smaller = np.minimum(s_c[..., 0] * s_c[..., 1], s_a[..., 0] * s_a[..., 1])
        frac = np.where(smaller > 0, overlap / np.maximum(smaller, 1e-12), 0.0)
        below = top_c <= bottom_a + VERTICAL_TOL
        tucked = (top_c <= top_a - UNDER_CLEARANCE_REL * s_a[..., 2]) & (c_c[..., 2] < c_a[..., 2])
        holds = (frac >= UNDER_OVERLAP) & (below | tucked)
        measure = frac
    elif name in ("near", "far"):
        near_thr = np.clip(NEAR_REL * np.maximum(big_c, big_a), NEAR_MIN, NEAR_MAX)
        if name == "near":
            holds = dist <= near_thr
        else:
            holds = dist >= np.maximum(FAR_MIN, FAR_MULT * near_thr)
        measure = dist
    elif name == "next_to":
        # geometric mean: "next to the mug" must be close at the mug's scale, while a
        # nightstand touching a bed is next to it at the bed's
        thr = np.clip(NEXT_TO_REL * np.sqrt(big_c * big_a), NEXT_TO_MIN, NEXT_TO_MAX)
        band = np.minimum(top_c, top_a) - np.maximum(bottom_c, bottom_a)
        shorter = np.minimum(s_c[..., 2], s_a[..., 2])
        holds = (dist <= thr) & (band >= NEXT_TO_BAND_OVERLAP * shorter)
        measure = dist
    elif name == "inside":
        lo = np.maximum(c_c - s_c / 2, c_a - s_a / 2)
        hi = np.minimum(c_c + s_c / 2, c_a + s_a / 2)
        inter = np.prod(np.clip(hi - lo, 0.0, None), axis=-1)
        vol_c, vol_a = np.prod(s_c, axis=-1), np.prod(s_a, axis=-1)
        measure = np.where(vol_c > 0, inter / np.maximum(vol_c, 1e-12), 0.0)
        holds = (measure >= INSIDE_FRACTION) & (vol_c < vol_a)
    elif name == "facing":
        # c's own front points at a: the ground direction to a's centre lies within
        # FACING_MAX_DEG of c.front. A property of c's orientation, so no frame.
        u = geom.fronts[cand][:, None, :]
        to_a = (c_a - c_c)[..., :2]
        dist_xy = np.linalg.norm(to_a, axis=-1)
        cos = np.sum(u * to_a, axis=-1) / np.maximum(dist_xy, 1e-12)
        measure = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        holds = (geom.has_front[cand][:, None] & (dist_xy > 1e-9)
                 & (measure <= FACING_MAX_DEG))
    else:
        raise UnknownRelationError(f"{name!r} is not a binary relation: expected one of {', '.join(BINARY_RELATIONS)}")
    holds = np.broadcast_to(holds, shape) & not_self
    return RelationResult(holds, np.broadcast_to(measure, shape).astype(float), dist, notes)


@dataclass
class BetweenResult:
    holds: np.ndarray      # (Nc, Na, Nb) bool
    offset: np.ndarray     # (Nc, Na, Nb) distance of c's ground centre from the a-b line
    position: np.ndarray   # (Nc, Na, Nb) t in (0, 1) along a -> b


def between_relation(geom: SceneGeometry, cand: np.ndarray, anch_a: np.ndarray, anch_b: np.ndarray) -> BetweenResult:
    cand, anch_a, anch_b = (np.asarray(x, dtype=np.int64) for x in (cand, anch_a, anch_b))
    shape = (len(cand), len(anch_a), len(anch_b))
    if 0 in shape:
        z = np.zeros(shape)
        return BetweenResult(np.zeros(shape, dtype=bool), z, z.copy())
    pc = geom.centers[cand][:, None, None, :2]
    pa = geom.centers[anch_a][None, :, None, :2]
    pb = geom.centers[anch_b][None, None, :, :2]
    sa = geom.sizes[anch_a][None, :, None, :2]
    sb = geom.sizes[anch_b][None, None, :, :2]
    ab = pb - pa
    length2 = np.sum(ab * ab, axis=-1)
    safe = np.where(length2 > 1e-12, length2, 1.0)
    t = np.sum((pc - pa) * ab, axis=-1) / safe
    unit = ab / np.sqrt(safe)[..., None]
    normal = np.stack([-unit[..., 1], unit[..., 0]], axis=-1)
    offset = np.abs(np.sum((pc - pa) * normal, axis=-1))
    half_a = (np.abs(normal[..., 0]) * sa[..., 0] + np.abs(normal[..., 1]) * sa[..., 1]) / 2
    half_b = (np.abs(normal[..., 0]) * sb[..., 0] + np.abs(normal[..., 1]) * sb[..., 1]) / 2
    corridor = np.maximum(np.maximum(half_a, half_b), BETWEEN_CORRIDOR_MIN)
    ids_c, ids_a, ids_b = geom.ids[cand], geom.ids[anch_a], geom.ids[anch_b]
    distinct = ((ids_c[:, None, None] != ids_a[None, :, None]) & (ids_c[:, None, None] != ids_b[None, None, :])
                & (ids_a[None, :, None] != ids_b[None, None, :]))
    holds = (length2 > 1e-12) & (t > 0.0) & (t < 1.0) & (offset <= corridor) & distinct
    return BetweenResult(holds, offset, np.broadcast_to(t, shape).astype(float))


BETWEEN_CHUNK_ELEMENTS = 1_000_000   # bounds memory: candidates are processed in chunks


def between_best(geom: SceneGeometry, cand: np.ndarray, anch_a: np.ndarray, anch_b: np.ndarray):
    """Per candidate: (holds, best a row index, best b row index, offset, t), with the pair
    nearest the line as evidence. Memory stays bounded for large sets (chunked)."""
    cand = np.asarray(cand, dtype=np.int64)
    nc, na, nb = len(cand), len(anch_a), len(anch_b)
    _check_size(nc * na * nb, "between")
    holds = np.zeros(nc, dtype=bool)
    best_a = np.zeros(nc, dtype=np.int64)
    best_b = np.zeros(nc, dtype=np.int64)
    offset = np.full(nc, np.inf)
    position = np.zeros(nc)
    if nc == 0 or na == 0 or nb == 0:
        return holds, best_a, best_b, offset, position
    chunk = max(1, BETWEEN_CHUNK_ELEMENTS // (na * nb))
    for start in range(0, nc, chunk):
        part = between_relation(geom, cand[start:start + chunk], anch_a, anch_b)
        flat = np.where(part.holds, part.offset, np.inf).reshape(part.holds.shape[0], -1)
        k = np.argmin(flat, axis=1)  # first minimum: lowest a, then lowest b
        rows = np.arange(len(k))
        sl = slice(start, start + len(k))
        holds[sl] = np.isfinite(flat[rows, k])
        best_a[sl], best_b[sl] = np.divmod(k, nb)
        offset[sl] = flat[rows, k]
        position[sl] = part.position.reshape(len(k), -1)[rows, k]
    return holds, best_a, best_b, offset, position


def set_distances(geom: SceneGeometry, cand: np.ndarray, anch: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each candidate: (gap to the anchor set, centre distance tie-break, nearest anchor row).

    Self pairs are ignored; a candidate whose only anchor is itself gets +inf.
    """
    cand = np.asarray(cand, dtype=np.int64)
    anch = np.asarray(anch, dtype=np.int64)
    _check_size(len(cand) * len(anch), "distance")
    if len(cand) == 0 or len(anch) == 0:
        inf = np.full(len(cand), np.inf)
        return inf, inf.copy(), np.full(len(cand), -1, dtype=np.int64)
    gaps, centres, nearest = [], [], []
    step = max(1, PAIR_CHUNK // len(anch))
    anchor_ids = geom.ids[anch][None, :]
    for start in range(0, len(cand), step):
        part = cand[start:start + step]
        c_c, s_c, c_a, s_a = _pair_arrays(geom, part, anch)
        self_pair = part[:, None] == anch[None, :]
        gap = np.where(self_pair, np.inf, np.round(box_gaps(c_c, s_c, c_a, s_a), TIE_DECIMALS))
        centre = np.where(self_pair, np.inf, np.round(np.linalg.norm(c_c - c_a, axis=-1), TIE_DECIMALS))
        # lexicographic (gap, centre distance, anchor id) minimum per candidate
        best = np.lexsort((np.broadcast_to(anchor_ids, gap.shape), centre, gap), axis=1)[:, 0]
        rows = np.arange(len(part))
        gaps.append(gap[rows, best])
        centres.append(centre[rows, best])
        nearest.append(anch[best])
    return np.concatenate(gaps), np.concatenate(centres), np.concatenate(nearest)


def anchor_superlative(name: str, geom: SceneGeometry, cand: np.ndarray, anch: np.ndarray):
    """closest / farthest: (chosen candidate row or None, its gap, its nearest anchor row)."""
    gap, centre, nearest = set_distances(geom, cand, anch)
    ok = np.isfinite(gap)
    if not np.any(ok):
        return None, None, None
    cand = np.asarray(cand, dtype=np.int64)[ok]
    gap, centre, nearest = gap[ok], centre[ok], nearest[ok]
    ids = geom.ids[cand]
    if name == "closest":
        order = np.lexsort((ids, centre, gap))
    elif name == "farthest":
        order = np.lexsort((ids, -centre, -gap))
    else:
        raise UnknownRelationError(f"{name!r} is not an anchor relation: expected closest or farthest")
    k = int(order[0])
    return int(cand[k]), float(gap[k]), int(nearest[k])


def superlative_keys(kind: str, geom: SceneGeometry, rows: np.ndarray) -> np.ndarray:
    """Sort key per row (ascending = most ``kind`` first), rounded for stable ties."""
    rows = np.asarray(rows, dtype=np.int64)
    c, s = geom.centers[rows], geom.sizes[rows]
    if kind in ("largest", "smallest"):
        v = np.prod(s, axis=1)
        key = -v if kind == "largest" else v
    elif kind in ("tallest", "shortest"):
        key = -s[:, 2] if kind == "tallest" else s[:, 2]
    elif kind in ("highest", "lowest"):
        key = -c[:, 2] if kind == "highest" else c[:, 2]
    elif kind in ("leftmost", "rightmost"):
        lateral = c[:, :2] @ geom.viewer_right
        key = lateral if kind == "leftmost" else -lateral
    elif kind in ("frontmost", "backmost"):
        depth = (c[:, :2] - geom.viewer_pos[:2]) @ geom.viewer_forward
        key = depth if kind == "frontmost" else -depth
    elif kind in ("closest", "farthest"):
        eye = geom.viewer_pos[None, :]
        d = np.sqrt(np.sum(np.clip(np.abs(c - eye) - s / 2, 0.0, None) ** 2, axis=1))
        key = d if kind == "closest" else -d
    elif kind == "longest":
        key = -np.max(s[:, :2], axis=1)
    elif kind == "middle":  # nearest the median of the candidates, left to right as seen
        lateral = c[:, :2] @ geom.viewer_right
        key = np.abs(lateral - np.median(lateral))
    else:
        raise UnknownRelationError(f"unknown superlative {kind!r}: known kinds are {', '.join(SUPERLATIVE_KINDS)}")
    return np.round(key, TIE_DECIMALS)


def rank_rows(kind: str, geom: SceneGeometry, rows: np.ndarray) -> np.ndarray:
    """Rows ordered from most to least ``kind``; ties by lower object id."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return rows
    key = superlative_keys(kind, geom, rows)
    return rows[np.lexsort((geom.ids[rows], key))]
