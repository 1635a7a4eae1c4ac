"""Graded relations: how WELL each candidate satisfies a relation, for definite descriptions.

A referring expression ("the table far from the armchair", "the window on the left of
the desk") names ONE object. A hard relation (``relations.binary_relation``) answers
"which candidates satisfy it at all" and so returns none or several; here every
candidate gets a score (higher = better, in metres unless noted) and
``relate_anchor(set, anchors, relation)`` picks the best one, reporting its score and its
margin over the runner-up so a reader (and ``verify_trace``) can see how clear the pick was.

=========  ==========================================================================
relation   score of candidate c against anchor a (best anchor = highest score)
=========  ==========================================================================
closest    ``-gap(c, a)`` (box-gap distance; near, next_to and beside read the same)
farthest   ``+gap(c, a)`` (far reads the same)
left ...   direction e of the relation (view frame, or a's own frame): ``cos(c - a, e)
behind     - 0.1 * |c - a|`` on the ground: the candidate most squarely on that side,
           nearer ones first among equals
above      ``-(ground gap) - 2 * max(0, z(a) - z(c)) - 0.1 * |bottom(c) - top(a)|``
below      the mirror image (under reads the same)
on         ``-(ground distance of c's centre outside a's footprint) - |bottom(c) - top(a)|``
inside     the fraction of c's volume inside a's box
facing     ``-angle`` between c's front and the direction to a (no front: -180)
between    anchors drawn as pairs (a, b) from the anchor set (of different labels when
           the set has more than one): ``-distance`` of c's ground centre from segment a-b
=========  ==========================================================================

An anchor that is the candidate itself never counts. Scores are rounded to 1e-6 and ties
go to the lower object id, so the pick is deterministic and re-checkable. Anchor frames
(``frame="anchor"`` / ``"facing"``) with an anchor that has no ``front``: its front is *estimated* as
the ground direction from the anchor towards the centre of the room's objects (furniture
faces into the room, away from its wall), and the step says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from apeiria_model.programs import relations as rel
from apeiria_model.programs.errors import ProgramExecutionError

# relate_anchor picks one candidate with any of these (closest / farthest included)
PICK_RELATIONS = rel.BINARY_RELATIONS + rel.MULTI_RELATIONS + rel.ANCHOR_RELATIONS
# relations whose graded form is another one's ("near" picks the closest)
SAME_AS = {"near": "closest", "next_to": "closest", "far": "farthest", "under": "below"}
DIRECTION_DISTANCE_WEIGHT = 0.1
ABOVE_DROP_WEIGHT = 2.0
ABOVE_GAP_WEIGHT = 0.1


@dataclass
class Pick:
    """Outcome of one graded pick over the candidate rows."""

    row: int | None                 # chosen candidate row (None: no candidate with an anchor)
    score: float = float("nan")
    margin: float = float("inf")    # best minus runner-up score (inf when alone)
    runner_up: int | None = None    # runner-up candidate row
    anchors: tuple[int, ...] = ()   # anchor row(s) behind the chosen score (a pair for between)
    notes: list[str] = field(default_factory=list)


def estimated_fronts(geom: rel.SceneGeometry, rows: np.ndarray) -> np.ndarray:
    """(len(rows), 2) unit ground directions: the known front, else towards the room's centre."""
    rows = np.asarray(rows, dtype=np.int64)
    out = geom.fronts[rows].copy()
    missing = ~geom.has_front[rows]
    if np.any(missing):
        centre = geom.centers[:, :2].mean(axis=0)
        d = centre[None, :] - geom.centers[rows[missing], :2]
        norm = np.linalg.norm(d, axis=1)
        fallback = -geom.viewer_forward  # towards the viewer when the object is at the centre
        d = np.where(norm[:, None] > 1e-6, d / np.maximum(norm, 1e-12)[:, None], fallback[None, :])
        out[missing] = d
    return out


def _direction(name: str, geom: rel.SceneGeometry, anch: np.ndarray, frame: str, notes: list[str]) -> np.ndarray:
    f, r = geom.viewer_forward, geom.viewer_right
    if frame not in ("anchor", "facing"):
        e = {"left": -r, "right": r, "front": -f, "behind": f}[name]
        return np.repeat(e[None, :], len(anch), axis=0)
    u = estimated_fronts(geom, anch)
    missing = geom.ids[anch][~geom.has_front[anch]]
    if len(missing):
        notes.append("estimated front (towards the room's centre) for object(s) "
                     + ", ".join(str(int(i)) for i in missing))
    return rel.frame_directions(name, u, frame)


def pair_scores(name: str, geom: rel.SceneGeometry, cand: np.ndarray, anch: np.ndarray,
                frame: str = "viewer") -> tuple[np.ndarray, list[str]]:
    """(Nc, Na) scores of a binary / anchor relation (self pairs = -inf) and notes."""
    name = SAME_AS.get(name, name)
    notes: list[str] = []
    c_c, s_c, c_a, s_a = rel._pair_arrays(geom, cand, anch)
    gap = rel.box_gaps(c_c, s_c, c_a, s_a)
    bottom_c, top_c = c_c[..., 2] - s_c[..., 2] / 2, c_c[..., 2] + s_c[..., 2] / 2
    bottom_a, top_a = c_a[..., 2] - s_a[..., 2] / 2, c_a[..., 2] + s_a[..., 2] / 2
    if name == "closest":
        score = -gap
    elif name == "farthest":
        score = gap
    elif name in rel.VIEW_DEPENDENT:
        e = _direction(name, geom, anch, frame, notes)[None, :, :]
        d = (c_c - c_a)[..., :2]
        dist = np.linalg.norm(d, axis=-1)
        cos = np.sum(d * e, axis=-1) / np.maximum(dist, 1e-9)
        score = cos - DIRECTION_DISTANCE_WEIGHT * dist
    elif name in ("above", "below"):
        hgap = rel.box_gaps(c_c, s_c, c_a, s_a, dims=2)
        dz = c_c[..., 2] - c_a[..., 2]
        if name == "above":
            score = -hgap - ABOVE_DROP_WEIGHT * np.clip(-dz, 0, None) - ABOVE_GAP_WEIGHT * np.abs(bottom_c - top_a)
        else:
            score = -hgap - ABOVE_DROP_WEIGHT * np.clip(dz, 0, None) - ABOVE_GAP_WEIGHT * np.abs(bottom_a - top_c)
    elif name == "on":
        outside = np.clip(np.abs(c_c[..., :2] - c_a[..., :2]) - s_a[..., :2] / 2, 0, None)
        score = -np.linalg.norm(outside, axis=-1) - np.abs(bottom_c - top_a)
    elif name == "inside":
        lo = np.maximum(c_c - s_c / 2, c_a - s_a / 2)
        hi = np.minimum(c_c + s_c / 2, c_a + s_a / 2)
        inter = np.prod(np.clip(hi - lo, 0.0, None), axis=-1)
        vol_c = np.prod(s_c, axis=-1)
        score = np.where(vol_c > 0, inter / np.maximum(vol_c, 1e-12), 0.0)
    elif name == "facing":
        u = geom.fronts[cand][:, None, :]
        to_a = (c_a - c_c)[..., :2]
        cos = np.sum(u * to_a, axis=-1) / np.maximum(np.linalg.norm(to_a, axis=-1), 1e-12)
        angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        score = np.where(geom.has_front[cand][:, None], -angle, -180.0)
    else:
        raise ProgramExecutionError(f"relation {name!r} has no graded form: expected one of {', '.join(PICK_RELATIONS)}")
    score = np.round(np.broadcast_to(score, (len(cand), len(anch))).astype(float), rel.TIE_DECIMALS)
    return np.where(cand[:, None] == anch[None, :], -np.inf, score), notes


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    length2 = np.sum(ab * ab, axis=-1)
    t = np.clip(np.sum((p - a) * ab, axis=-1) / np.where(length2 > 1e-12, length2, 1.0), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)


def between_scores(geom: rel.SceneGeometry, cand: np.ndarray, anch: np.ndarray,
                   labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate: (best score, anchor row a, anchor row b) over the anchor pairs."""
    na = len(anch)
    ia, ib = np.triu_indices(na, k=1)
    if len(set(labels.tolist())) > 1:  # "between the desk and the door": one of each
        keep = labels[ia] != labels[ib]
        ia, ib = ia[keep], ib[keep]
    if len(ia) == 0:
        return np.full(len(cand), -np.inf), np.zeros(len(cand), np.int64), np.zeros(len(cand), np.int64)
    rel._check_size(len(cand) * len(ia), "between")
    p = geom.centers[cand][:, None, :2]
    a = geom.centers[anch[ia]][None, :, :2]
    b = geom.centers[anch[ib]][None, :, :2]
    score = -np.round(_segment_distance(p, a, b), rel.TIE_DECIMALS)
    involved = (geom.ids[cand][:, None] == geom.ids[anch[ia]][None, :]) | \
               (geom.ids[cand][:, None] == geom.ids[anch[ib]][None, :])
    score = np.where(involved, -np.inf, score)
    k = np.argmax(score, axis=1)
    rows = np.arange(len(cand))
    return score[rows, k], anch[ia][k], anch[ib][k]


def graded_pick(name: str, geom: rel.SceneGeometry, cand: np.ndarray, anch: np.ndarray,
                frame: str = "viewer", anchor_labels: np.ndarray | None = None) -> Pick:
    """The one candidate row that best satisfies ``name`` against the anchor rows."""
    cand = np.asarray(cand, dtype=np.int64)
    anch = np.asarray(anch, dtype=np.int64)
    if name not in PICK_RELATIONS:
        raise ProgramExecutionError(f"relate_anchor supports {', '.join(PICK_RELATIONS)}, got {name!r}")
    if len(cand) == 0 or len(anch) == 0:
        return Pick(None)
    notes: list[str] = []
    if name == "between":
        labels = anchor_labels if anchor_labels is not None else np.zeros(len(anch))
        best, ra, rb = between_scores(geom, cand, anch, np.asarray(labels))
        anchors = [(int(x), int(y)) for x, y in zip(ra, rb)]
    else:
        rel._check_size(len(cand) * len(anch), name)
        scores, notes = pair_scores(name, geom, cand, anch, frame)
        k = np.argmax(scores, axis=1)
        best = scores[np.arange(len(cand)), k]
        anchors = [(int(anch[j]),) for j in k]
    ok = np.isfinite(best)
    if not np.any(ok):
        return Pick(None, notes=notes)
    order = [i for i in np.lexsort((geom.ids[cand], -best)) if ok[i]]
    first = int(order[0])
    second = int(order[1]) if len(order) > 1 else None
    margin = float(best[first] - best[second]) if second is not None else float("inf")
    return Pick(int(cand[first]), float(best[first]), round(margin, rel.TIE_DECIMALS),
                int(cand[second]) if second is not None else None, anchors[first], notes)
