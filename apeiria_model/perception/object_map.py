"""Persistent object map: per-frame segments fused into objects with stable IDs.

Each object keeps a bounded voxel grid of its surface points (centroid, colour sum,
hit count per voxel), class votes, a running mean feature and bookkeeping for
staleness. A new segment joins the object whose voxels it overlaps most (or whose box
it overlaps by IoU), label permitting; a segment overlapping several objects merges
them into the oldest (lowest ID) when ``merge_objects`` is on. What under-segmented
views fused in is undone by later evidence: voxels a frame sees as another object's
segment lose hits (``map_carve``), and an object that several recent views segment into
parts that differ is split (``map_split``). IDs are never reused. An object that should have
been seen (projects into the image, not occluded) but was not, for ``stale_frames``
frames in a row, is dropped.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from apeiria_model.atomic_io import backup_path, move_aside, read_regular_file, write_json_atomic
from apeiria_model.perception.colors import color_name
from apeiria_model.perception.frame import RGBDFrame
from apeiria_model.perception.map_carve import IGNORED, contradicted, owner_image
from apeiria_model.perception.map_split import (SegmentRecord, SplitPlan, View, evidence, looks_apart, merge_views,
                                                propose_split, views_from_json, views_to_json)
from apeiria_model.perception.projection import point_to_pixel
from apeiria_model.perception.segment import Segment
from apeiria_model.scene.geometry import pairwise_iou
from apeiria_model.scene.model import Scene, SceneObject

MAP_FORMAT_VERSION = 1
MAX_MAP_FILE_BYTES = 1024 * 1024 * 1024  # a map file is refused above 1 GiB
_OFF = 1 << 20  # voxel index offset so keys pack into one non-negative int64


class MapFormatError(ValueError):
    """A saved map file that cannot be loaded (names the bad field)."""


@dataclass
class MapConfig:
    voxel_size: float = 0.04            # metres; surface points are kept one per voxel
    max_voxels_per_object: int = 3000   # bound on memory per object (keeps the most-hit)
    min_voxel_overlap: float = 0.25     # share of a segment's voxels already in an object
    min_box_iou: float = 0.3            # or box IoU with it, to associate
    conflict_confidence: float = 0.6    # two confident, different labels never associate...
    conflict_overlap: float = 0.6       # ...unless the voxel overlap is at least this
    stale_frames: int = 8               # in view but unseen this many frames in a row: drop
    visibility_margin: float = 0.10     # metres; occlusion test slack for the stale check
    stale_min_area_px: float = 800.0    # ...which only counts views where it would cover this many pixels
    min_observations: int = 2           # frames an object needs before it is published...
    single_view_min_area: float = 0.0   # ...unless it is flat, this large (m^2 of its two largest extents) and
                                        # labelled: seen once is enough (a whiteboard flush with its wall); 0 = off
    single_view_max_thickness: float = 0.25  # ...flat = its smallest box extent is at most this (metres)
    floor_height: float = 0.0           # world z of the floor (boxes near it reach down to it)
    floor_snap: float = 0.10            # bottoms closer than this to the floor snap to it
    support_snap: float = 0.06          # bottoms this close above another object's top snap to it
    min_points: int = 5                 # segments with fewer points are ignored
    merge_objects: bool = False         # a segment overlapping several objects merges them
    suppress_contained: float = 0.7     # do not publish objects this much inside a bigger one (0 = off)...
    on_top_margin: float = 0.05         # ...unless their bottom is within this of its top (resting on it)
    publish_merge_gap: float = 0.03     # publish same-label objects this close (m) as one (< 0 = off)
    publish_merge_flat_gap: float = -1.0  # ...and same-label flat pieces in one vertical plane, side by side at
                                        # the same height, this far apart along it (a window in two pieces; < 0 = off)
    leg_max_area: float = 0.05          # publish a fragment under a bigger object's footprint (a leg) as part
                                        # of it when its footprint is at most this share of the other's (0 = off)
    color_gain: float = 1.0             # camera exposure for colour names (colors.color_name): 1 = white reads white
    small_part_ratio: float = 0.0       # a confidently labelled segment with a box under this share of a confidently,
                                        # differently labelled object's box never joins it, whatever the voxel overlap,
                                        # and takes the voxels they share (a bottle on a cabinet); 0 = off
    contained_shared: float = 0.0       # a box inside a bigger one is suppressed only when at least this share of
                                        # its surface lies within a voxel of the bigger object's surface (a fragment
                                        # or duplicate of it); a thing with a surface of its own (a mug standing in
                                        # the box of a table that reaches over it) is published; 0 = always suppress
    on_top_quantile: float = 1.0        # the top a box's on_top test uses: this quantile of its surface heights
    contained_min_thickness: float = 0.08  # ...and only for boxes at least this thick in every axis (metres)
    exclusive_share: float = 0.0        # publishing: a voxel counts for an object's box only if it has at least this
                                        # share of the hits the voxel has in the published object that hit it most
                                        # (0 = off; 1 = only the object that saw it most often)
    carve_by_objects: bool = False      # a voxel of an object seen this frame loses hits when its pixel shows
                                        # another object's segment at its depth (map_carve); False = voxels only
                                        # accumulate
    carve_by_structure: bool = False    # ...or when its 3x3 grid pixels all show structure (no segment) at or
                                        # behind it: walls fused into an object before they were known
    carve_keep: float = 0.5             # ...keeping this share of its hits (rounded down; it goes at zero hits)
    split_min_views: int = 0            # split an object when this many of its recent views segment a part of it
                                        # apart (map_split.propose_split); 0 = off (the map only merges)
    split_min_share: float = 0.6        # ...and at least this share of the views that segment the part either way
                                        # (apart, or as one segment with the rest: a headboard seen apart once)
    split_history: int = 8              # views per object kept as that evidence
    split_min_voxels: int = 10          # segments bringing fewer voxels to an object are no candidate part
    split_distinct: bool = True         # ...and a part splits off only when it differs from the rest: another label
                                        # (its own segments' votes) or, unlabelled, another colour (map_split.looks_apart)


def _voxel_keys(points: np.ndarray, voxel: float) -> np.ndarray:
    q = np.floor(points / voxel).astype(np.int64) + _OFF
    return (q[:, 0] << 42) | (q[:, 1] << 21) | q[:, 2]


def _distinct(labels: list[str | None] | None, colors: list[str] | None, n: int) -> np.ndarray:
    """[n, n] True where objects i and j can be told apart: different labels when both
    have one (learned segmenter), else different colour names; True when neither is known."""
    out = np.ones((n, n), dtype=bool)
    if colors is not None:
        col = np.array(colors, dtype=object)
        out = col[:, None] != col[None]
    if labels is not None:
        lab = np.array([x if x is not None else "" for x in labels], dtype=object)
        both = (lab[:, None] != "") & (lab[None] != "")
        out = np.where(both, lab[:, None] != lab[None], out)
    return out


def _surface_share(points: np.ndarray, other: np.ndarray, voxel: float) -> float:
    """Share of ``points`` within one voxel of some point of ``other`` (both [N, 3])."""
    if len(points) == 0 or len(other) == 0:
        return 0.0
    d, _ = cKDTree(other).query(points, k=1, distance_upper_bound=voxel)
    return float(np.mean(np.isfinite(d)))


@dataclass
class MapObject:
    """One fused object (internal state; ``to_scene`` turns it into a SceneObject)."""

    id: int
    keys: np.ndarray                  # int64 [K] voxel keys, sorted
    point_sum: np.ndarray             # float64 [K, 3]
    color_sum: np.ndarray             # float64 [K, 3]
    hits: np.ndarray                  # int64 [K]
    votes: dict[str, float] = field(default_factory=dict)
    feature_sum: np.ndarray | None = None
    feature_count: int = 0
    observations: int = 0
    first_seen: int = 0
    last_seen: int = 0
    missed: int = 0
    history: list[View] = field(default_factory=list)  # recent views: which segments joined it (map_split)
    _box: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    # -- fusion ----------------------------------------------------------------------
    def add_points(self, keys: np.ndarray, points: np.ndarray, colors: np.ndarray, cap: int) -> None:
        """Accumulate points into their voxels (keys from _voxel_keys, one per point)."""
        k0 = len(self.keys)
        uniq, inv = np.unique(np.concatenate([self.keys, keys]), return_inverse=True)
        n = len(uniq)
        old, new = inv[:k0], inv[k0:]
        ps = np.zeros((n, 3))
        cs = np.zeros((n, 3))
        hs = np.zeros(n, np.int64)
        ps[old], cs[old], hs[old] = self.point_sum, self.color_sum, self.hits  # old keys are unique
        for d in range(3):
            ps[:, d] += np.bincount(new, weights=points[:, d], minlength=n)
            cs[:, d] += np.bincount(new, weights=colors[:, d], minlength=n)
        hs += np.bincount(new, minlength=n)
        if n > cap:  # keep the most-observed voxels: those are the real surface
            keep = np.sort(np.argsort(-hs, kind="stable")[:cap])
            uniq, ps, cs, hs = uniq[keep], ps[keep], cs[keep], hs[keep]
        self.keys, self.point_sum, self.color_sum, self.hits = uniq, ps, cs, hs
        self._box = None

    def remove_keys(self, keys: np.ndarray) -> None:
        """Drop these voxels (they belong to something standing on this object)."""
        if len(self.keys) == 0 or len(keys) == 0:
            return
        keep = ~np.isin(self.keys, keys, assume_unique=True)
        if keep.all() or keep.sum() < 1:
            return  # never empty an object entirely
        self.keys, self.point_sum = self.keys[keep], self.point_sum[keep]
        self.color_sum, self.hits = self.color_sum[keep], self.hits[keep]
        self._box = None

    def remove_in_box(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Drop the voxels whose mean point lies inside [lo, hi] (a small object that was
        fused into this one in frames where the two were not separated)."""
        if len(self.keys) == 0:
            return
        c = self.point_sum / self.hits[:, None]
        self.remove_keys(self.keys[np.all((c >= lo) & (c <= hi), axis=1)])

    def overlap(self, keys: np.ndarray) -> float:
        """Share of the given (unique) voxel keys this object already has."""
        if len(self.keys) == 0 or len(keys) == 0:
            return 0.0
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return float(np.mean(self.keys[pos] == keys))

    def absorb(self, other: "MapObject", cap: int) -> None:
        """Merge another object's evidence into this one (this keeps its ID)."""
        all_keys = np.concatenate([self.keys, other.keys])
        uniq, inv = np.unique(all_keys, return_inverse=True)
        n = len(uniq)
        ps, cs, hs = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros(n, np.int64)
        np.add.at(ps, inv, np.concatenate([self.point_sum, other.point_sum]))
        np.add.at(cs, inv, np.concatenate([self.color_sum, other.color_sum]))
        np.add.at(hs, inv, np.concatenate([self.hits, other.hits]))
        if n > cap:
            keep = np.sort(np.argsort(-hs, kind="stable")[:cap])
            uniq, ps, cs, hs = uniq[keep], ps[keep], cs[keep], hs[keep]
        self.keys, self.point_sum, self.color_sum, self.hits = uniq, ps, cs, hs
        self._box = None
        for k, v in other.votes.items():
            self.votes[k] = self.votes.get(k, 0.0) + v
        if other.feature_sum is not None:
            self.feature_sum = other.feature_sum.copy() if self.feature_sum is None else self.feature_sum + other.feature_sum
            self.feature_count += other.feature_count
        self.observations += other.observations
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.missed = min(self.missed, other.missed)
        self.history = merge_views(self.history + other.history)

    # -- read-outs ---------------------------------------------------------------------
    def centroids(self) -> np.ndarray:
        return self.point_sum / self.hits[:, None]

    def surface_mask(self) -> np.ndarray:
        """Voxels that count as surface: all but those hit once when the object has been
        seen often (single hits are sensor noise or segmentation bleed)."""
        if self.observations >= 3:
            solid = self.hits >= 2
            if solid.sum() >= max(8, 0.3 * len(self.hits)):
                return solid
        return np.ones(len(self.hits), bool)

    def surface(self) -> np.ndarray:
        """Voxel centroids of the surface (``surface_mask``)."""
        return self.centroids()[self.surface_mask()]

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """(min corner, max corner) of the surface, cached until the points change."""
        if self._box is None:
            pts = self.surface()
            self._box = (pts.min(axis=0), pts.max(axis=0))
        return self._box

    def label(self) -> tuple[str, float | None]:
        if not self.votes:
            return "object", None
        total = sum(self.votes.values())
        name = max(self.votes, key=lambda k: (self.votes[k], k))
        return name, (self.votes[name] / total if total > 0 else None)

    def mean_rgb(self) -> np.ndarray:
        return self.color_sum.sum(axis=0) / max(1, int(self.hits.sum()))

    def feature(self) -> np.ndarray | None:
        if self.feature_sum is None or self.feature_count == 0:
            return None
        return self.feature_sum / self.feature_count


@dataclass
class UpdateStats:
    segments: int = 0
    associated: int = 0
    created: int = 0
    merged: int = 0
    split: int = 0
    removed: int = 0


class ObjectMap:
    def __init__(self, config: MapConfig | None = None):
        self.config = config or MapConfig()
        self.objects: dict[int, MapObject] = {}
        self.next_id = 0
        self.frame_index = 0

    def __len__(self) -> int:
        return len(self.objects)

    # -- association ---------------------------------------------------------------------
    def _box_table(self) -> tuple[list[int], np.ndarray, np.ndarray]:
        ids = list(self.objects)
        if not ids:
            return ids, np.zeros((0, 3)), np.zeros((0, 3))
        boxes = [self.objects[i].box() for i in ids]
        return ids, np.array([b[0] for b in boxes]), np.array([b[1] for b in boxes])

    def _candidates(self, keys: np.ndarray, lo: np.ndarray, hi: np.ndarray, label: str | None,
                    conf: float | None, table, carve: list[int] | None = None) -> list[tuple[float, int]]:
        """Objects this segment may join, best first. ``carve`` collects objects it must
        not join although it overlaps them (small_part_ratio): they give up the shared voxels."""
        cfg = self.config
        ids, olos, ohis = table
        if not ids:
            return []
        pad = cfg.voxel_size
        near = np.all(olos - pad <= hi, axis=1) & np.all(ohis + pad >= lo, axis=1)
        if not near.any():
            return []
        seg_volume = float(np.prod(np.maximum(hi - lo, pad)))
        sel = np.flatnonzero(near)
        ious = pairwise_iou([(lo + hi) / 2], [np.maximum(hi - lo, pad)], (olos[sel] + ohis[sel]) / 2,
                            np.maximum(ohis[sel] - olos[sel], pad))[0]
        out = []
        for j, iou in zip(sel, ious):
            oid = ids[j]
            obj = self.objects.get(oid)
            if obj is None:  # merged away earlier in this frame
                continue
            overlap = obj.overlap(keys)
            if overlap < cfg.min_voxel_overlap and iou < cfg.min_box_iou:
                continue
            olabel, oconf = obj.label()
            conflict = (label is not None and conf is not None and conf >= cfg.conflict_confidence
                        and obj.votes and oconf is not None and oconf >= cfg.conflict_confidence
                        and olabel != label)
            if conflict and overlap < cfg.conflict_overlap:
                continue
            # A small, confidently labelled thing inside a big object of another label
            # (however unsure that object's label still is: a cabinet seen with its bottles
            # as one segment has mixed votes): the shared voxels came from frames where the
            # two were one segment.
            small_conflict = (label is not None and conf is not None and conf >= cfg.conflict_confidence
                              and obj.votes and olabel != label)
            if small_conflict and seg_volume < cfg.small_part_ratio * float(np.prod(np.maximum(ohis[j] - olos[j], pad))):
                if carve is not None and overlap > 0:
                    carve.append(oid)
                continue
            out.append((overlap + float(iou), oid))
        out.sort(reverse=True)
        return out

    def update(self, segments: list[Segment], frame: RGBDFrame | None = None) -> UpdateStats:
        """Fuse one frame's segments. ``frame`` (validated) enables the stale check."""
        cfg = self.config
        self.frame_index += 1
        stats = UpdateStats(segments=len(segments))
        seen: set[int] = set()
        # Boxes as they were before this frame: segments of one frame are matched against
        # the map of the previous frames (plus objects this frame merged into them).
        table = self._box_table()
        joined: dict[int, int] = {}  # segment_id -> object id, this frame
        records: dict[int, list[SegmentRecord]] = {}  # object id -> the segments that joined it, this frame
        owners: list[tuple[np.ndarray, int]] = []  # (pixels, object id or IGNORED), this frame
        # Supports (bigger) first, so a mug knows which object its desk joined.
        for seg in sorted(segments, key=lambda s: -len(s)):
            pts = np.asarray(seg.points, dtype=np.float64)
            if len(pts) < cfg.min_points or not np.all(np.isfinite(pts)):
                owners.append((seg.pixels, IGNORED))
                continue
            keys, first = np.unique(_voxel_keys(pts, cfg.voxel_size), return_index=True)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            carve: list[int] = []
            cands = self._candidates(keys, lo, hi, seg.label, seg.confidence, table, carve)
            support_obj = joined.get(seg.support_id) if seg.support_id is not None else None
            if support_obj is not None:
                # Standing on that object this frame: never part of it. Voxels it shares
                # with it came from frames where the two were not separated: move them.
                cands = [c for c in cands if c[1] != support_obj]
            if cands:
                target = self.objects[cands[0][1]]
                # The segment spans several objects: they were pieces of one object.
                for _, oid in cands[1:]:
                    other = self.objects[oid]
                    if cfg.merge_objects and self._same_label(target, other):
                        keep, drop = (target, other) if target.id < other.id else (other, target)
                        keep.absorb(drop, cfg.max_voxels_per_object)
                        del self.objects[drop.id]
                        seen.discard(drop.id)
                        target = keep
                        stats.merged += 1
                stats.associated += 1
            else:
                target = MapObject(self.next_id, np.zeros(0, np.int64), np.zeros((0, 3)),
                                   np.zeros((0, 3)), np.zeros(0, np.int64), first_seen=self.frame_index)
                self.objects[target.id] = target
                self.next_id += 1
                stats.created += 1
            if support_obj is not None and support_obj in self.objects:
                self.objects[support_obj].remove_keys(keys)
            for oid in carve:
                if oid in self.objects and oid != target.id:
                    self.objects[oid].remove_in_box(lo - cfg.voxel_size, hi + cfg.voxel_size)
            joined[seg.segment_id] = target.id
            owners.append((seg.pixels, target.id))
            feat = None if seg.features is None else np.asarray(seg.features, dtype=np.float64).ravel()
            records.setdefault(target.id, []).append(SegmentRecord(keys, seg.label, seg.confidence, feat))
            target.add_points(_voxel_keys(pts, cfg.voxel_size), pts,
                              np.asarray(seg.colors, dtype=np.float64).reshape(-1, 3),
                              cfg.max_voxels_per_object)
            if seg.label is not None:
                w = 1.0 if seg.confidence is None else float(seg.confidence)
                target.votes[seg.label] = target.votes.get(seg.label, 0.0) + w
            if seg.features is not None:
                f = np.asarray(seg.features, dtype=np.float64).ravel()
                if target.feature_sum is None or target.feature_sum.shape != f.shape:
                    target.feature_sum, target.feature_count = f.copy(), 1
                else:
                    target.feature_sum += f
                    target.feature_count += 1
            if target.id not in seen:
                target.observations += 1
                target._box = None  # surface() filtering depends on the observation count
            target.last_seen = self.frame_index
            target.missed = 0
            seen.add(target.id)
        if (cfg.carve_by_objects or cfg.carve_by_structure) and frame is not None:
            self._take_back_contradicted(frame, owners, seen)
        if cfg.split_min_views > 0:
            for oid, recs in records.items():
                obj = self.objects.get(oid)
                if obj is None:  # merged away later in this frame
                    continue
                new_ids = self._split(obj, View(self.frame_index, recs)) if len(recs) >= 2 else []
                if not new_ids:
                    obj.history = obj.history[-(cfg.split_history - 1):] + [View(self.frame_index, recs)] \
                        if cfg.split_history > 1 else [View(self.frame_index, recs)]
                seen.update(new_ids)
                stats.split += len(new_ids)
        if frame is not None:
            stats.removed = self._age_unseen(frame, seen)
        return stats

    def _take_back_contradicted(self, frame: RGBDFrame, owners: list[tuple[np.ndarray, int]],
                                seen: set[int]) -> None:
        """Every voxel of an object seen this frame that the frame contradicts
        (``map_carve``: its spot seen as another object, or as structure) keeps
        ``carve_keep`` of its hits, rounded down; it goes at zero. Its mean point and
        colour stay. A share, not removal: one contradicting view must not undo many
        supporting ones (at 0.25 a voxel hit 16 times takes 3 such views), while what one
        under-segmented view left (1-3 hits) goes at once. Never empties an object
        (staleness decides that)."""
        cfg = self.config
        img = owner_image(owners, frame.depth.shape)
        if img is None:
            return
        objs = [self.objects[i] for i in sorted(seen) if i in self.objects and len(self.objects[i].keys) >= 2]
        if not objs:
            return
        bad_all = contradicted(np.concatenate([o.centroids() for o in objs]),
                               np.repeat([o.id for o in objs], [len(o.keys) for o in objs]), frame, img,
                               cfg.visibility_margin, cfg.carve_by_objects, cfg.carve_by_structure)
        start = 0
        for obj in objs:
            bad = bad_all[start:start + len(obj.keys)]
            start += len(obj.keys)
            if not bad.any():
                continue
            new = obj.hits.copy()
            new[bad] = np.floor(new[bad] * cfg.carve_keep).astype(np.int64)
            keep = new > 0
            if not keep.any():
                continue
            scale = (new[bad] / obj.hits[bad])[:, None]
            obj.point_sum[bad] *= scale
            obj.color_sum[bad] *= scale
            obj.hits = new
            if not keep.all():
                obj.keys, obj.point_sum = obj.keys[keep], obj.point_sum[keep]
                obj.color_sum, obj.hits = obj.color_sum[keep], obj.hits[keep]
            obj._box = None

    def _split(self, obj: MapObject, view: View) -> list[int]:
        """Cut ``obj`` where its recent views segment it into parts (map_split); the
        biggest part keeps the ID, each other part becomes a new object with its voxels
        and the votes, features and observations of the segments that were its alone.
        Returns the new IDs."""
        cfg = self.config
        plan: SplitPlan | None = propose_split(obj.keys, obj.centroids(), obj.history, view, cfg.split_min_views,
                                               cfg.split_min_share, cfg.split_min_voxels)
        if plan is None:
            return []
        keep = int(np.argmax(np.bincount(plan.groups, minlength=plan.n_groups)))
        if cfg.split_distinct:
            self._undo_lookalikes(obj, plan, keep)
            if plan.n_groups < 2 or not np.any(plan.groups != keep):
                return []
            keep = int(np.argmax(np.bincount(plan.groups, minlength=plan.n_groups)))
        new_ids = []
        for g in range(plan.n_groups):
            if g == keep:
                continue
            m = plan.groups == g
            views = plan.views[g]
            part = MapObject(self.next_id, obj.keys[m], obj.point_sum[m], obj.color_sum[m], obj.hits[m],
                             first_seen=min((v.frame for v in views), default=self.frame_index))
            self.next_id += 1
            votes, fsum, fcount = evidence(views)
            part.votes, part.feature_sum, part.feature_count = votes, fsum, fcount
            part.observations = max(1, len(views))
            part.last_seen = self.frame_index
            part.history = views[-cfg.split_history:]
            # That evidence was added to this object when those segments joined it.
            for name, v in votes.items():
                left = obj.votes.get(name, 0.0) - v
                if left > 1e-9:
                    obj.votes[name] = left
                else:
                    obj.votes.pop(name, None)
            if fsum is not None and obj.feature_sum is not None and obj.feature_sum.shape == fsum.shape:
                obj.feature_sum = obj.feature_sum - fsum
                obj.feature_count -= fcount
            self.objects[part.id] = part
            new_ids.append(part.id)
        m = plan.groups == keep
        obj.keys, obj.point_sum, obj.color_sum, obj.hits = obj.keys[m], obj.point_sum[m], obj.color_sum[m], obj.hits[m]
        obj._box = None
        obj.history = plan.views[keep][-cfg.split_history:]
        votes, fsum, fcount = evidence(plan.views[keep])
        if not obj.votes:
            obj.votes = votes
        if obj.feature_count <= 0 or obj.feature_sum is None:
            obj.feature_sum, obj.feature_count = fsum, fcount
        return new_ids

    def _undo_lookalikes(self, obj: MapObject, plan: SplitPlan, keep: int) -> None:
        """Join back into the kept group every group that looks like it: the same label
        from its own segments' votes or, when either has no votes, a colour that could be
        shading of the same surface (``map_split.looks_apart``).
        Pieces of one desk segmented apart in a few views are not two objects; a black
        chair pulled out of a white desk is. Edits ``plan`` in place (groups renumbered)."""
        def look(g: int) -> tuple[str | None, np.ndarray]:
            votes, _, _ = evidence(plan.views[g])
            m = plan.groups == g
            rgb = obj.color_sum[m].sum(axis=0) / max(1, int(obj.hits[m].sum()))
            return (max(votes, key=lambda k: (votes[k], k)) if votes else None), rgb

        base = look(keep)
        same = []
        for g in range(plan.n_groups):
            if g == keep:
                continue
            lab, rgb = look(g)
            if (lab == base[0]) if (lab is not None and base[0] is not None) else not looks_apart(rgb, base[1]):
                same.append(g)
        if not same:
            return
        groups = np.where(np.isin(plan.groups, same), keep, plan.groups)
        views = merge_views([v for g in same + [keep] for v in plan.views[g]])
        order = sorted(set(groups.tolist()))
        remap = {g: i for i, g in enumerate(order)}
        plan.groups = np.array([remap[g] for g in groups.tolist()], dtype=int) if len(groups) else groups
        plan.views = [views if g == keep else plan.views[g] for g in order]

    @staticmethod
    def _same_label(a: MapObject, b: MapObject) -> bool:
        if not a.votes or not b.votes:
            return True
        return a.label()[0] == b.label()[0]

    def _age_unseen(self, frame: RGBDFrame, seen: set[int]) -> int:
        cfg = self.config
        intr = frame.intrinsics
        removed = 0
        for oid in list(self.objects):
            if oid in seen:
                continue
            obj = self.objects[oid]
            pts = obj.centroids()
            if len(pts) > 64:
                pts = pts[np.linspace(0, len(pts) - 1, 64).astype(int)]
            u, v, z = point_to_pixel(pts, intr, frame.camera_to_world)
            ok = (z > 0.1) & np.isfinite(u) & np.isfinite(v)
            ok &= (u >= 0) & (u <= intr.width - 1) & (v >= 0) & (v <= intr.height - 1)
            if ok.mean() < 0.5:
                continue  # mostly out of view: no evidence either way
            ui, vi = np.round(u[ok]).astype(int), np.round(v[ok]).astype(int)
            d = frame.depth[vi, ui]
            # Visible = the sensor saw something at or behind the object's surface.
            visible = (d > 0) & (d > z[ok] - cfg.visibility_margin)
            if visible.sum() < 0.5 * len(pts):
                continue
            # Too small in this view to be segmented (a book on a desk across the room):
            # not seeing it is no evidence. Area ~ voxels x (voxel footprint in pixels)^2.
            zmed = float(np.median(z[ok]))
            area = len(obj.keys) * (cfg.voxel_size * intr.fx / max(zmed, 1e-3)) ** 2
            if area < cfg.stale_min_area_px:
                continue
            obj.missed += 1
            if obj.missed >= cfg.stale_frames:
                del self.objects[oid]
                removed += 1
        return removed

    # -- output ---------------------------------------------------------------------------
    def published(self) -> list[MapObject]:
        return [o for o in sorted(self.objects.values(), key=lambda o: o.id)
                if o.observations >= self.config.min_observations or self._big_flat_single_view(o)]

    def _big_flat_single_view(self, obj: MapObject) -> bool:
        """min_observations guards against fragments and noise, which are small; a flat
        segment of a square metre seen once is neither. Whiteboards, doors and mirrors
        flush with a wall are removed with it in most frames and may show once. Only for
        objects a classifier has named (it drops wall remnants as background); without
        labels the rule published wall patches (geometric segmenter, bench precision
        0.655 -> 0.626)."""
        cfg = self.config
        if cfg.single_view_min_area <= 0 or obj.observations < 1 or not obj.votes:
            return False
        lo, hi = obj.box()
        a, b, c = np.sort(hi - lo)
        return bool(a <= cfg.single_view_max_thickness and b * c >= cfg.single_view_min_area)

    def object_box(self, obj: MapObject, surface: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(centre, size) with the bottom snapped to the floor when it nearly reaches it
        (the underside of furniture is never visible). ``surface``: the points to box
        instead of the object's own surface (``_exclusive_surfaces``)."""
        cfg = self.config
        lo, hi = obj.box() if surface is None or len(surface) == 0 else (surface.min(axis=0), surface.max(axis=0))
        lo = lo.copy()
        if lo[2] - cfg.floor_height < cfg.floor_snap:
            lo[2] = min(lo[2], cfg.floor_height)
        size = np.maximum(hi - lo, cfg.voxel_size)  # one voxel thick at least: never degenerate
        return (lo + hi) / 2.0, size

    def _support_snap(self, boxes: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Objects resting on another object's top reach down to it: only the top of a
        book or a laptop is visible, and a 1 cm thick box would miss any IoU test."""
        cfg = self.config
        out = []
        for i, (lo, hi) in enumerate(boxes):
            lo = lo.copy()
            area = float(np.prod(np.maximum(hi[:2] - lo[:2], 1e-3)))
            best = None
            for j, (lo2, hi2) in enumerate(boxes):
                if j == i or not (lo[2] - cfg.support_snap <= hi2[2] <= lo[2] + 0.01):
                    continue
                inter = np.prod(np.clip(np.minimum(hi[:2], hi2[:2]) - np.maximum(lo[:2], lo2[:2]), 0, None))
                if inter >= 0.8 * area and (best is None or hi2[2] > best):
                    best = float(hi2[2])
            if best is not None:
                lo[2] = min(lo[2], best)
            out.append((lo, hi))
        return out

    def _not_contained(self, boxes: list[tuple[np.ndarray, np.ndarray]],
                       labels: list[str | None] | None = None,
                       surfaces: list[np.ndarray] | None = None,
                       colors: list[str] | None = None) -> list[bool]:
        """False for boxes lying (mostly) inside a bigger published box: a fragment or a
        duplicate of that object (a chair's base next to the whole chair). Publishing
        only: the map keeps both, so nothing is lost if the evidence changes."""
        frac = self.config.suppress_contained
        n = len(boxes)
        if frac <= 0 or n < 2:
            return [True] * n
        lo = np.array([b[0] for b in boxes])
        hi = np.array([b[1] for b in boxes])
        vol = np.prod(np.maximum(hi - lo, 1e-3), axis=1)
        inter = np.prod(np.clip(np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None]), 0, None),
                        axis=-1)
        inside = (inter >= frac * vol[:, None]) & (vol[:, None] < vol[None])  # row i inside column j
        # ... unless it rests on the bigger box's top (a laptop on a desk: the desk's box
        # reaches a little over the desk top from frames where the two were not separated).
        on_top = lo[:, None, 2] >= hi[None, :, 2] - self.config.on_top_margin
        q = self.config.on_top_quantile
        if q < 1 and surfaces is not None:
            # The top a thing rests on is where most of the surface is, not the highest
            # voxel: a mug fused into the table's segment in some frames lifts the box top.
            top = np.array([np.quantile(sf[:, 2], q) if len(sf) else t for sf, t in zip(surfaces, hi[:, 2])])
            on_surface = lo[:, None, 2] >= top[None, :] - self.config.on_top_margin
            # ... but only for a thing told apart from the bigger object by its label or,
            # unlabelled, its colour: a same-looking piece below the box top (the upper
            # edge of a chair's back) is a fragment of it, not something resting on it.
            on_top |= on_surface & _distinct(labels, colors, len(boxes))
        inside &= ~on_top
        ratio = self.config.small_part_ratio
        if ratio > 0 and labels is not None:
            # ... or it is a small thing of another label in the upper half of the box,
            # reaching its top: what made that top (a bottle fused into its cabinet in
            # the frames where the two were one segment).
            lab = np.array([x if x is not None else "" for x in labels], dtype=object)
            differ = (lab[:, None] != lab[None]) & (lab[:, None] != "") & (lab[None] != "")
            reaches_top = hi[:, None, 2] >= hi[None, :, 2] - self.config.on_top_margin
            upper = lo[:, None, 2] >= (lo[None, :, 2] + hi[None, :, 2]) / 2
            inside &= ~(differ & reaches_top & upper & (vol[:, None] < ratio * vol[None]))
        np.fill_diagonal(inside, False)
        share = self.config.contained_shared
        if share > 0 and surfaces is not None:
            for i, j in zip(*np.nonzero(inside)):
                # A flat piece (a shelf board, a clock face, one side of a stove) has too
                # little depth for its own-surface test to mean anything: still suppressed.
                if float(np.min(hi[i] - lo[i])) < self.config.contained_min_thickness:
                    continue
                if _surface_share(surfaces[i], surfaces[j], self.config.voxel_size) < share:
                    inside[i, j] = False
        return list(~inside.any(axis=1))

    def _underneath(self, boxes) -> list[tuple[int, int]]:
        """(i, j) pairs where object i is a fragment under object j: thin (<= 12 cm
        across), standing on the floor, its footprint inside j's (10 cm slack), tiny next
        to j and not above j's top -- a table or chair leg seen apart from its top."""
        frac = self.config.leg_max_area
        n = len(boxes)
        if frac <= 0 or n < 2:
            return []
        lo = np.array([b[0] for b in boxes])
        hi = np.array([b[1] for b in boxes])
        area = np.prod(np.maximum(hi[:, :2] - lo[:, :2], 1e-3), axis=1)
        m = 0.1  # the top's box comes from its visible surface: legs stand at its very edge
        inter = np.prod(np.clip(np.minimum(hi[:, None, :2], hi[None, :, :2] + m)
                                - np.maximum(lo[:, None, :2], lo[None, :, :2] - m), 0, None), axis=-1)
        thin = np.max(hi[:, :2] - lo[:, :2], axis=1) <= 0.12
        standing = lo[:, 2] <= self.config.floor_height + self.config.floor_snap
        under = ((inter >= 0.8 * area[:, None]) & (area[:, None] <= frac * area[None])
                 & (thin & standing)[:, None] & (hi[:, None, 2] <= hi[None, :, 2] + 0.02))
        np.fill_diagonal(under, False)
        return [(int(i), int(j)) for i, j in zip(*np.nonzero(under))]

    def _label_groups(self, pub: list[MapObject], boxes) -> list[list[int]]:
        """Indices of published objects to publish as one: same learned label and boxes
        touching (within ``publish_merge_gap``) -- the frame and the face of one
        whiteboard, two halves of a bookshelf -- or flat pieces side by side on one
        plane (``publish_merge_flat_gap``), and fragments under a bigger object
        (``_underneath``: legs). Publishing only; the map keeps them apart."""
        n = len(pub)
        parent = list(range(n))

        def find(a):
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        gap, flat_gap = self.config.publish_merge_gap, self.config.publish_merge_flat_gap
        if gap >= 0 or flat_gap >= 0:
            labels = [o.label()[0] if o.votes else None for o in pub]
            for i in range(n):
                for j in range(i + 1, n):
                    if labels[i] is None or labels[i] != labels[j]:
                        continue
                    d = np.clip(np.maximum(boxes[i][0] - boxes[j][1], boxes[j][0] - boxes[i][1]), 0, None)
                    if (gap >= 0 and float(np.linalg.norm(d)) <= gap) or \
                            (flat_gap >= 0 and self._flat_side_by_side(boxes[i], boxes[j], flat_gap)):
                        parent[find(i)] = find(j)
        for i, j in self._underneath(boxes):
            parent[find(i)] = find(j)
        groups: dict[int, list[int]] = {}
        for i in range(n):
            groups.setdefault(find(i), []).append(i)
        return sorted(groups.values())

    def _flat_side_by_side(self, box1, box2, gap: float) -> bool:
        """Two flat vertical pieces in one plane, side by side at the same height and at
        most ``gap`` apart along that plane: a window or a whiteboard whose middle was
        removed with its wall in every view (``publish_merge_flat_gap``)."""
        thick = self.config.single_view_max_thickness
        (lo1, hi1), (lo2, hi2) = box1, box2
        e1, e2 = hi1 - lo1, hi2 - lo2
        a = int(np.argmin(e1[:2]))  # the horizontal axis the piece is thin along
        if int(np.argmin(e2[:2])) != a or max(e1[a], e2[a]) > thick:
            return False
        if abs((lo1[a] + hi1[a]) - (lo2[a] + hi2[a])) / 2 > thick / 2:
            return False  # not in one plane
        if min(hi1[2], hi2[2]) - max(lo1[2], lo2[2]) < 0.7 * min(e1[2], e2[2]):
            return False  # not at the same height
        b = 1 - a
        return bool(max(lo1[b] - hi2[b], lo2[b] - hi1[b]) <= gap)

    @staticmethod
    def _mean_rgb(members: list[MapObject]) -> np.ndarray:
        return np.sum([m.color_sum.sum(axis=0) for m in members], axis=0) / max(
            1, int(sum(m.hits.sum() for m in members)))

    @staticmethod
    def _group_label(members: list[MapObject]) -> str | None:
        votes: dict[str, float] = {}
        for m in members:
            for name, v in m.votes.items():
                votes[name] = votes.get(name, 0.0) + v
        return max(votes, key=lambda name: (votes[name], name)) if votes else None

    def _exclusive_surfaces(self, pub: list[MapObject]) -> list[np.ndarray]:
        """Each object's surface without the voxels another published object has hit
        more often: a neighbour fused into this object in the frames where the two were
        one segment (a kettle in a stove's segment) must not stretch its box, the
        neighbour's own map object has those voxels from many more views."""
        masks = [o.surface_mask() for o in pub]
        keys = np.concatenate([o.keys[m] for o, m in zip(pub, masks)]) if pub else np.zeros(0, np.int64)
        hits = np.concatenate([o.hits[m] for o, m in zip(pub, masks)]) if pub else np.zeros(0, np.int64)
        if len(keys) == 0:
            return [o.surface() for o in pub]
        uniq, inv = np.unique(keys, return_inverse=True)
        best = np.zeros(len(uniq), np.int64)
        np.maximum.at(best, inv, hits)
        own = hits >= self.config.exclusive_share * best[inv]
        out, start = [], 0
        for o, m in zip(pub, masks):
            n = int(m.sum())
            pts, keep = o.centroids()[m], own[start:start + n]
            start += n
            # Never strip an object to a sliver: then it is the neighbour's duplicate,
            # which containment suppression handles.
            out.append(pts[keep] if keep.sum() >= max(4, 0.3 * n) else pts)
        return out

    def to_scene(self, scene_id: str = "perceived", frame_id: str = "map") -> Scene:
        pub = self.published()
        own_surfaces = self._exclusive_surfaces(pub) if self.config.exclusive_share > 0 else None
        boxes = [self.object_box(o, None if own_surfaces is None else own_surfaces[i]) for i, o in enumerate(pub)]
        boxes = self._support_snap([(c - s / 2, c + s / 2) for c, s in boxes])
        entries = []
        for g in self._label_groups(pub, boxes):
            members = [pub[i] for i in g]
            rep = min(members, key=lambda o: o.id)  # the oldest ID: stable while the group grows
            lo = np.min([boxes[i][0] for i in g], axis=0)
            hi = np.max([boxes[i][1] for i in g], axis=0)
            entries.append((rep, members, (lo, hi)))
        surfaces = None
        if self.config.contained_shared > 0 or self.config.on_top_quantile < 1:
            by_id = {o.id: (own_surfaces[i] if own_surfaces is not None else None) for i, o in enumerate(pub)}
            surfaces = [np.concatenate([m.surface() if by_id[m.id] is None else by_id[m.id] for m in e[1]])
                        for e in entries]
        colors = [color_name(self._mean_rgb(e[1]), self.config.color_gain) for e in entries]
        keep = self._not_contained([e[2] for e in entries], [self._group_label(e[1]) for e in entries], surfaces,
                                   colors)
        objs = []
        for (rep, members, (lo, hi)), k, color in zip(entries, keep, colors):
            if not k:
                continue
            c, s = (lo + hi) / 2.0, hi - lo
            votes: dict[str, float] = {}
            for m in members:
                for name, v in m.votes.items():
                    votes[name] = votes.get(name, 0.0) + v
            if votes:
                label = max(votes, key=lambda name: (votes[name], name))
                score = votes[label] / sum(votes.values())
            else:
                label, score = "object", 1.0 - math.exp(-rep.observations / 3.0)
            fsum = [m.feature_sum for m in members if m.feature_sum is not None and m.feature_count > 0]
            fcount = sum(m.feature_count for m in members if m.feature_sum is not None)
            feat = None
            if fsum and len({f.shape for f in fsum}) == 1:
                feat = np.sum(fsum, axis=0) / max(fcount, 1)
            objs.append(SceneObject(
                id=rep.id, label=label, center=tuple(float(x) for x in c), size=tuple(float(x) for x in s),
                color=color, score=float(score),
                features=None if feat is None else tuple(float(x) for x in feat)))
        objs.sort(key=lambda o: o.id)
        return Scene(scene_id, tuple(objs), frame_id)

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "apeiria-object-map", "version": MAP_FORMAT_VERSION,
            "config": asdict(self.config), "next_id": self.next_id, "frame_index": self.frame_index,
            "objects": [{
                "id": o.id, "keys": o.keys.tolist(), "point_sum": o.point_sum.tolist(),
                "color_sum": o.color_sum.tolist(), "hits": o.hits.tolist(),
                "votes": o.votes,
                "feature_sum": None if o.feature_sum is None else o.feature_sum.tolist(),
                "feature_count": o.feature_count, "observations": o.observations,
                "first_seen": o.first_seen, "last_seen": o.last_seen, "missed": o.missed,
                "history": views_to_json(o.history),
            } for o in sorted(self.objects.values(), key=lambda o: o.id)],
        }

    def save(self, path: str | os.PathLike, backup: bool = True) -> None:
        """Atomic write (temp file + rename): a crash, even kill -9, never leaves half a
        map; the previous file is kept as ``<path>.bak`` (``backup``)."""
        write_json_atomic(path, self.to_dict(), backup=backup)

    @classmethod
    def from_dict(cls, doc: Any) -> "ObjectMap":
        if not isinstance(doc, dict) or doc.get("format") != "apeiria-object-map":
            raise MapFormatError("not an apeiria object map (format field missing or wrong)")
        if doc.get("version") != MAP_FORMAT_VERSION:
            raise MapFormatError(f"version must be {MAP_FORMAT_VERSION}, got {doc.get('version')!r}")
        known = {f.name for f in fields(MapConfig)}
        cfg_doc = doc.get("config") or {}
        if not isinstance(cfg_doc, dict):
            raise MapFormatError("config must be an object")
        defaults = MapConfig()
        kw = {}
        for k, v in cfg_doc.items():
            if k not in known:
                continue
            d = getattr(defaults, k)
            ok = isinstance(v, bool) if isinstance(d, bool) else (
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and (not isinstance(d, int) or isinstance(v, int)))
            if not ok:
                raise MapFormatError(f"config.{k} must be a {type(d).__name__}, got {v!r}")
            kw[k] = v
        m = cls(MapConfig(**kw))
        if m.config.voxel_size <= 0:
            raise MapFormatError("config.voxel_size must be > 0")
        try:
            m.next_id = int(doc["next_id"])
            m.frame_index = int(doc.get("frame_index", 0))
            for i, d in enumerate(doc["objects"]):
                keys = np.asarray(d["keys"], np.int64)
                ps = np.asarray(d["point_sum"], float).reshape(-1, 3)
                cs = np.asarray(d["color_sum"], float).reshape(-1, 3)
                hs = np.asarray(d["hits"], np.int64)
                if not (len(keys) == len(ps) == len(cs) == len(hs)) or len(keys) == 0 or np.any(hs <= 0):
                    raise MapFormatError(f"objects[{i}] voxel arrays are inconsistent or empty")
                if not (np.all(np.isfinite(ps)) and np.all(np.isfinite(cs))):
                    raise MapFormatError(f"objects[{i}] has non-finite values")
                if np.any(np.diff(keys) <= 0):  # lookups (overlap, splitting) binary-search them
                    raise MapFormatError(f"objects[{i}].keys must be sorted and unique")
                fs = d.get("feature_sum")
                o = MapObject(int(d["id"]), keys, ps, cs, hs, {str(k): float(v) for k, v in d["votes"].items()},
                              None if fs is None else np.asarray(fs, float), int(d["feature_count"]),
                              int(d["observations"]), int(d["first_seen"]), int(d["last_seen"]), int(d["missed"]))
                try:  # absent in maps saved before splitting existed: no evidence yet
                    o.history = views_from_json(d.get("history", []))
                except ValueError as e:
                    raise MapFormatError(f"objects[{i}].history{e}" if str(e).startswith("[")
                                         else f"objects[{i}].history {e}") from None
                if o.id in m.objects or o.id >= m.next_id or o.id < 0:
                    raise MapFormatError(f"objects[{i}].id {o.id} is duplicated or not below next_id")
                m.objects[o.id] = o
        except MapFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise MapFormatError(f"malformed object map: {type(e).__name__}: {e}") from None
        return m

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ObjectMap":
        try:
            doc = json.loads(read_regular_file(path, MAX_MAP_FILE_BYTES))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise MapFormatError(f"not valid JSON: {e}") from None
        except RecursionError:
            raise MapFormatError("not valid JSON: nested too deeply") from None
        except ValueError as e:  # an integer of more than 4300 digits
            raise MapFormatError(f"not valid JSON: {str(e).split(';')[0]}") from None
        return cls.from_dict(doc)


def load_or_recover(path: str | os.PathLike) -> tuple[ObjectMap | None, list[str]]:
    """The map saved at ``path``, never losing the last good one.

    Returns (map or None, what happened, one line each). A file that does not load is
    moved aside to ``<path>.corrupt-<time>`` (named in the messages, never overwritten
    by the next save) and the backup ``<path>.bak`` is tried; None when neither loads
    (or neither exists): start with an empty map.
    """
    path = Path(path)
    notes: list[str] = []
    for candidate in (path, backup_path(path)):
        if not candidate.exists():
            continue
        try:
            m = ObjectMap.load(candidate)
        except (MapFormatError, OSError) as e:
            if candidate.is_file():
                aside = move_aside(candidate)
                notes.append(f"map {candidate} does not load ({e}); moved aside to {aside}")
            else:
                notes.append(f"map {candidate} cannot be used: {e}")
            continue
        if candidate != path:
            notes.append(f"reloaded the backup {candidate} ({len(m)} objects)")
        return m, notes
    return None, notes
