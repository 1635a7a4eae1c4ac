"""Evidence over many frames that one map object holds two things, and where to cut it.

The object map only ever merges: a segment joins the object it overlaps most. An
under-segmented early view (a desk, the chair in front of it and a strip of floor as one
segment) therefore sticks, because every later view of the chair overlaps that object.
Each map object keeps its recent *views*: per frame that saw it, the voxels of every
segment that joined it. When one frame brings two or more sizeable segments into the
same object, ``propose_split`` checks the recent views: a part that other views also
segment apart (a record covering only it next to a record covering only the rest), in
at least ``min_views`` views and in at least ``min_share`` of the views that decide
either way, is cut off. A view whose single segment covers both pieces counts against
the cut: a headboard segmented apart from its bed in one or two views of ten stays
part of the bed. Pure functions on sorted int64 voxel keys; ``ObjectMap`` applies the
result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

# A record "involves" a part when that part holds at least this share of the record's
# voxels that any part holds; one involved part = pure, two or more = the parts were one
# segment in that view.
INVOLVED_SHARE = 0.15
# A record whose voxels mostly lie outside every part (this view saw other surfaces of
# the object) says nothing about the cut.
ANCHORED_SHARE = 0.2
# Unlabelled parts (class-agnostic segmenter) count as different things when their mean
# colours differ this much: chromaticity distance (the geometric segmenter's color_break
# scale, same +30 for dark colours) or brightness ratio. Colour *names* are too coarse:
# a desk's shaded side reads "brown" next to its "orange" top.
CHROMA_APART = 0.06
BRIGHTNESS_APART = 2.0


@dataclass
class SegmentRecord:
    """One segment that joined a map object in one frame."""

    keys: np.ndarray                      # sorted unique int64 voxel keys of the segment
    label: str | None = None
    confidence: float | None = None
    feature: np.ndarray | None = field(default=None, repr=False)

    def vote_weight(self) -> float:
        return 1.0 if self.confidence is None else float(self.confidence)


@dataclass
class View:
    """The records of one frame that joined one object."""

    frame: int
    records: list[SegmentRecord]


@dataclass
class SplitPlan:
    """Voxel groups of an object to become separate objects.

    groups: [K] group index per voxel of the object (0..n_groups-1);
    views: per group, the views made of the records pure to that group (their evidence
    travels with them: votes, features, observation counts)."""

    groups: np.ndarray
    views: list[list[View]]

    @property
    def n_groups(self) -> int:
        return len(self.views)


def _count_in(keys: np.ndarray, sorted_set: np.ndarray) -> int:
    if len(keys) == 0 or len(sorted_set) == 0:
        return 0
    pos = np.minimum(np.searchsorted(sorted_set, keys), len(sorted_set) - 1)
    return int(np.count_nonzero(sorted_set[pos] == keys))


def _involved(rec: SegmentRecord, parts: list[np.ndarray]) -> list[int] | None:
    """Parts this record covers (None: it mostly saw voxels of no part)."""
    counts = np.array([_count_in(rec.keys, p) for p in parts])
    tot = int(counts.sum())
    if tot < max(3, ANCHORED_SHARE * len(rec.keys)):
        return None
    return [i for i, c in enumerate(counts) if c >= 2 and c >= INVOLVED_SHARE * tot]


def count_views(parts: list[np.ndarray], seeds: list[SegmentRecord], history: list[View], frame: int
                ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[list[View]]]:
    """Per part (seeded by ``seeds`` of the current ``frame``): how many views segment it
    apart from the other parts (the current one included) and how many as one segment
    with another part; the parts grown by the records pure to them; those records."""
    taken = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
    n = len(parts)
    sep = np.ones(n, int)      # the current view separates every seed from the others
    mix = np.zeros(n, int)
    pure_views: list[list[View]] = [[View(frame, [r])] for r in seeds]
    # Most recent first: neighbouring views see the same surfaces, so pure records
    # extend their part with what the current frame did not see.
    for view in reversed(history):
        inv = [(_involved(r, parts), r) for r in view.records]
        pure = {}
        mixed: set[int] = set()
        for who, r in inv:
            if who is None or not who:
                continue
            if len(who) == 1:
                pure.setdefault(who[0], []).append(r)
            else:
                mixed.update(who)
        for i in range(n):
            if i in mixed:
                mix[i] += 1
            elif i in pure and len(set(pure) - {i}) > 0:
                sep[i] += 1
        for i, recs in pure.items():
            grow = np.unique(np.concatenate([r.keys for r in recs]))
            grow = np.setdiff1d(grow, taken, assume_unique=True)
            parts[i] = np.union1d(parts[i], grow)
            taken = np.union1d(taken, grow)
            pure_views[i].append(View(view.frame, recs))
    return parts, sep, mix, pure_views


def propose_split(obj_keys: np.ndarray, obj_centroids: np.ndarray, history: list[View], current: View,
                  min_views: int, min_share: float, min_voxels: int) -> SplitPlan | None:
    """Decide whether the object (voxel keys + centroids) splits, given its earlier
    views (oldest first, without the current one) and the current view, in which two or
    more segments joined it. None = keep it whole."""
    seeds = [r for r in current.records if len(r.keys) >= min_voxels]
    if len(seeds) < 2 or min_views <= 0 or len(obj_keys) == 0:
        return None
    # A view can only separate parts with two segments in it: skip the set algebra when
    # too few views have two (most triggers are one-off over-segmentation).
    if 1 + sum(sum(len(r.keys) >= 2 for r in v.records) >= 2 for v in history) < min_views:
        return None
    # Parts seeded by the current frame's segments; a voxel claimed by two goes to the
    # bigger segment (boundary voxels quantise into both).
    seeds.sort(key=lambda r: -len(r.keys))
    parts: list[np.ndarray] = []
    taken = np.zeros(0, np.int64)
    for r in seeds:
        own = np.setdiff1d(r.keys, taken, assume_unique=True)
        parts.append(own)
        taken = np.union1d(taken, own)
    parts, sep, mix, pure_views = count_views(parts, seeds, history, current.frame)
    n = len(parts)
    apart = (sep >= min_views) & (sep >= min_share * (sep + mix))
    if not apart.any():
        return None
    # Parts that are not apart stay together with the biggest of them ("the rest").
    group_of_part = np.full(n, -1)
    g = 0
    for i in range(n):
        if apart[i]:
            group_of_part[i] = g
            g += 1
    if not apart.all():
        group_of_part[~apart] = g
        g += 1
    if g < 2:
        return None
    # Every voxel of the object to a group: by part membership, else (voxels no recent
    # view of a part covered: older observations) the group of the nearest assigned voxel.
    labels = np.full(len(obj_keys), -1)
    for i, p in enumerate(parts):
        if len(p):
            pos = np.minimum(np.searchsorted(obj_keys, p), len(obj_keys) - 1)
            hit = obj_keys[pos] == p
            labels[pos[hit]] = group_of_part[i]
    known = labels >= 0
    if not known.any():
        return None
    if not known.all():
        # (Tried: leftovers farther than 10 cm to the biggest part instead: the same on
        # rooms 700-711 and the bench rooms, and small parts (mugs) fell under min_voxels.)
        _, nn = cKDTree(obj_centroids[known]).query(obj_centroids[~known], k=1)
        labels[~known] = labels[known][nn]
    sizes = np.bincount(labels, minlength=g)
    if np.any(sizes < min_voxels):
        return None  # a part the map would hold by a few voxels only: not an object
    views: list[list[View]] = [[] for _ in range(g)]
    for i in range(n):
        views[group_of_part[i]].extend(pure_views[i])
    for vs in views:
        vs.sort(key=lambda v: v.frame)
    return SplitPlan(labels, [merge_views(vs) for vs in views])


def looks_apart(rgb_a: np.ndarray, rgb_b: np.ndarray) -> bool:
    """Two mean RGB colours (0..255) that cannot be shading of one surface."""
    a, b = np.asarray(rgb_a, float), np.asarray(rgb_b, float)
    ca, cb = a / (a.sum() + 30.0), b / (b.sum() + 30.0)
    if float(np.linalg.norm(ca - cb)) > CHROMA_APART:
        return True
    la, lb = a.mean() + 1.0, b.mean() + 1.0
    return max(la, lb) / min(la, lb) >= BRIGHTNESS_APART


def merge_views(views: list[View]) -> list[View]:
    """One View per frame, oldest first (parts joined into "the rest", or two merged
    objects, may hold records of the same frame)."""
    by_frame: dict[int, list[SegmentRecord]] = {}
    for v in views:
        by_frame.setdefault(v.frame, []).extend(v.records)
    return [View(f, recs) for f, recs in sorted(by_frame.items())]


def evidence(views: list[View]) -> tuple[dict[str, float], np.ndarray | None, int]:
    """Class votes, feature sum and feature count the records of these views brought."""
    votes: dict[str, float] = {}
    fsum, fcount = None, 0
    for v in views:
        for r in v.records:
            if r.label is not None:
                votes[r.label] = votes.get(r.label, 0.0) + r.vote_weight()
            if r.feature is not None and (fsum is None or fsum.shape == r.feature.shape):
                fsum = r.feature.astype(np.float64).copy() if fsum is None else fsum + r.feature
                fcount += 1
    return votes, fsum, fcount


# -- persistence (ObjectMap.to_dict / from_dict) -------------------------------------------

def views_to_json(views: list[View]) -> list[dict]:
    return [{"frame": v.frame, "records": [{
        "keys": r.keys.tolist(), "label": r.label, "confidence": r.confidence,
        "feature": None if r.feature is None else r.feature.tolist()} for r in v.records]} for v in views]


def views_from_json(doc: object) -> list[View]:
    """Inverse of ``views_to_json``; ValueError naming the bad field for anything else."""
    if not isinstance(doc, list):
        raise ValueError(f"must be a list, got {type(doc).__name__}")
    views = []
    for i, v in enumerate(doc):
        if not isinstance(v, dict) or not isinstance(v.get("records"), list):
            raise ValueError(f"[{i}] must be an object with a records list")
        frame = v.get("frame")
        if not isinstance(frame, int) or isinstance(frame, bool):
            raise ValueError(f"[{i}].frame must be an integer, got {frame!r}")
        recs = []
        for j, r in enumerate(v["records"]):
            where = f"[{i}].records[{j}]"
            if not isinstance(r, dict):
                raise ValueError(f"{where} must be an object")
            keys = r.get("keys")
            if not isinstance(keys, list) or not all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
                raise ValueError(f"{where}.keys must be a list of integers")
            try:
                karr = np.asarray(keys, np.int64)
            except OverflowError:
                raise ValueError(f"{where}.keys hold an integer out of range") from None
            if len(karr) and np.any(np.diff(karr) <= 0):
                raise ValueError(f"{where}.keys must be sorted and unique")
            label = r.get("label")
            if label is not None and not isinstance(label, str):
                raise ValueError(f"{where}.label must be a string or null")
            conf = r.get("confidence")
            if conf is not None and (isinstance(conf, bool) or not isinstance(conf, (int, float))
                                     or not np.isfinite(conf)):
                raise ValueError(f"{where}.confidence must be a finite number or null")
            feat = r.get("feature")
            farr = None
            if feat is not None:
                if not isinstance(feat, list) or not all(
                        isinstance(x, (int, float)) and not isinstance(x, bool) for x in feat):
                    raise ValueError(f"{where}.feature must be a list of numbers or null")
                farr = np.asarray(feat, np.float64)
                if not np.all(np.isfinite(farr)):
                    raise ValueError(f"{where}.feature must be finite")
            recs.append(SegmentRecord(karr, label, None if conf is None else float(conf), farr))
        views.append(View(frame, recs))
    return views
