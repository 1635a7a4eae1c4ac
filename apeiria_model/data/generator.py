"""Synthetic dataset generator: rooms -> programs -> instructions -> JSON Lines.

``generate_dataset(out_dir, n_scenes, seed)`` writes, per split (by scene: train /
val / test, default 80/10/10):

- ``scenes/<split>.jsonl``: one Scene JSON v1 document per line;
- ``grounding/<split>.jsonl``: ``GroundingSample.to_dict()`` records, depths 1..8,
  single / multi / zero targets and QA (count, colour). Train uses only ``train``
  phrasing; val/test mix ``train`` and ``heldout`` phrasing;
- ``stage1/<split>.jsonl``: perception alignment tasks (recognition, localisation,
  caption);
- ``stage2/<split>.jsonl``: CoT-SFT records for level-1 (filters only) and level-2
  (filters + one relate) programs, with the executor's trace in the compact style the
  model learns and in the full style;
- ``stage3/<split>.jsonl``: the grounding records of depth >= 3 (instruction/answer
  pairs, no traces) for the RL stage;
- ``manifest.json``: counts per split / kind / depth / phrasing, seed, version.

Every gold answer is the executor's: a sampled program's value is recomputed with the
executor's operations (``SceneContext.run``) and the sample is dropped if the sampler's
fast path disagreed (counted as ``dropped_mismatch`` in the manifest; expected 0).

Determinism: each scene draws from its own ``SeedSequence([seed, scene_index])``, so
the same seed gives byte-identical files whatever ``workers`` is.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from apeiria_model.data.categories import CATEGORIES, ROOM_TYPES
from apeiria_model.data.perception_tasks import perception_tasks
from apeiria_model.data.program_sampler import GOALS, ProgramSampler, SampledProgram
from apeiria_model.data.rooms import GeneratedRoom, generate_room
from apeiria_model.data.scene_context import SceneContext
from apeiria_model.data.schema import PHRASING_HELDOUT, PHRASING_TRAIN, GroundingSample
from apeiria_model.data.wording import instruction
from apeiria_model.programs import ast
from apeiria_model.programs.relations import VIEW_DEPENDENT
from apeiria_model.scene.io import scene_to_dict

GENERATOR_VERSION = "1.0.0"
SPLITS = ("train", "val", "test")
KINDS = ("scenes", "grounding", "stage1", "stage2", "stage3")
MAX_SCENES = 10_000_000
# ReferIt3D's view-dependent word list.
VIEW_WORDS = re.compile(r"\b(front|behind|back|left|right|facing|leftmost|rightmost|looking|across)\b")
_VIEW_SUPERLATIVES = frozenset({"leftmost", "rightmost", "frontmost", "backmost", "closest", "farthest"})


@dataclass
class GeneratorConfig:
    samples_per_scene: int = 32        # grounding + QA records per scene
    stage2_per_scene: int = 4          # level-1/level-2 CoT records per scene
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    heldout_share: float = 0.5         # share of held-out phrasing in val/test
    goal_weights: dict[str, float] = field(default_factory=lambda: {
        "single": 0.45, "multi": 0.15, "zero": 0.15, "count": 0.15, "color": 0.10})
    min_depth: int = 1
    max_depth: int = 8
    stage1: dict[str, int] = field(default_factory=lambda: {"n_recognition": 6, "n_localisation": 3,
                                                            "n_caption": 3})

    def validate(self) -> None:
        if not isinstance(self.samples_per_scene, int) or not 0 <= self.samples_per_scene <= 1000:
            raise ValueError(f"samples_per_scene must be an int in 0..1000, got {self.samples_per_scene!r}")
        if not isinstance(self.stage2_per_scene, int) or not 0 <= self.stage2_per_scene <= 1000:
            raise ValueError(f"stage2_per_scene must be an int in 0..1000, got {self.stage2_per_scene!r}")
        fr = self.split_fractions
        if len(fr) != 3 or any(not np.isfinite(f) or f < 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
            raise ValueError(f"split_fractions must be 3 non-negative numbers summing to 1, got {fr!r}")
        if not 0.0 <= self.heldout_share <= 1.0:
            raise ValueError(f"heldout_share must be in [0, 1], got {self.heldout_share!r}")
        if set(self.goal_weights) - set(GOALS) or not self.goal_weights or \
                any(not np.isfinite(w) or w < 0 for w in self.goal_weights.values()) or \
                sum(self.goal_weights.values()) <= 0:
            raise ValueError(f"goal_weights must map goals {GOALS} to non-negative weights, got {self.goal_weights!r}")
        if not 1 <= self.min_depth <= self.max_depth <= 8:
            raise ValueError(f"need 1 <= min_depth <= max_depth <= 8, got {self.min_depth}..{self.max_depth}")


def split_of_scenes(n_scenes: int, seed: int, fractions=(0.8, 0.1, 0.1)) -> list[str]:
    """Split name of every scene index: a seeded permutation cut by ``fractions``
    (val and test get at least one scene each once there are 3 or more)."""
    n_val = int(round(n_scenes * fractions[1]))
    n_test = int(round(n_scenes * fractions[2]))
    if n_scenes >= 3:
        n_val = max(n_val, 1 if fractions[1] > 0 else 0)
        n_test = max(n_test, 1 if fractions[2] > 0 else 0)
    n_val = min(n_val, n_scenes)
    n_test = min(n_test, n_scenes - n_val)
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5B11])).permutation(n_scenes)
    out = ["train"] * n_scenes
    for k in order[:n_val]:
        out[int(k)] = "val"
    for k in order[n_val:n_val + n_test]:
        out[int(k)] = "test"
    return out


def scene_id_for(seed: int, index: int, room_type: str) -> str:
    return f"syn-{seed}-{index:06d}-{room_type}"


def _view_dependent(node, text: str) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Relate) and n.relation in VIEW_DEPENDENT:
            return True
        if isinstance(n, ast.Superlative) and n.kind in _VIEW_SUPERLATIVES:
            return True
    return VIEW_WORDS.search(text.lower()) is not None


def _top_anchor_ids(ctx: SceneContext, node) -> list[int]:
    """Objects of the anchor sets of every relation step of the target phrase."""
    out: set[int] = set()
    core = node.input if isinstance(node, (ast.Count, ast.Query)) else node
    for n in ast.walk(core):
        if isinstance(n, (ast.Relate, ast.RelateAnchor)):
            out.update(ctx.run(n.anchor))
        elif isinstance(n, ast.RelateMulti):
            out.update(ctx.run(n.anchor_a))
            out.update(ctx.run(n.anchor_b))
    return sorted(out)


def _head_class_ids(ctx: SceneContext, sp: SampledProgram) -> list[int]:
    return ctx.run(ctx.category(sp.np.label))


def _is_level(node, level: int) -> bool:
    """Level 1: filters only. Level 2: filters plus exactly one relate."""
    kinds = [type(n) for n in ast.walk(node) if not isinstance(n, ast.Scene)]
    if level == 1:
        return all(k is ast.Filter for k in kinds)
    return kinds.count(ast.Relate) == 1 and all(k in (ast.Filter, ast.Relate) for k in kinds)


class _SceneJob:
    """Everything generated from one scene index (pure function of seed + index)."""

    def __init__(self, seed: int, index: int, split: str, cfg: GeneratorConfig):
        self.seed, self.index, self.split, self.cfg = seed, index, split, cfg
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, index]))

    def run(self) -> dict:
        cfg, rng = self.cfg, self.rng
        room_type = ROOM_TYPES[(self.index + self.seed) % len(ROOM_TYPES)]  # balanced room types
        room = generate_room(rng, room_type, scene_id_for(self.seed, self.index, room_type))
        ctx = SceneContext(room.scene)
        room_labels = tuple(c.label for c in CATEGORIES.values() if room_type in c.rooms)
        sampler = ProgramSampler(ctx, rng, room_labels)
        out = {"scenes": [scene_to_dict(room.scene)], "grounding": [], "stage1": [], "stage2": [],
               "stage3": [], "dropped_mismatch": 0, "failed": 0}
        out["stage1"] = perception_tasks(room, rng, **cfg.stage1)
        self._grounding(room, ctx, sampler, out)
        self._stage2(room, ctx, sampler, out)
        out["stage3"] = [g for g in out["grounding"] if g["depth"] >= 3]
        return out

    def _phrasing(self) -> str:
        if self.split == "train":
            return PHRASING_TRAIN
        return PHRASING_HELDOUT if self.rng.random() < self.cfg.heldout_share else PHRASING_TRAIN

    def _grounding(self, room: GeneratedRoom, ctx: SceneContext, sampler: ProgramSampler, out: dict) -> None:
        cfg, rng = self.cfg, self.rng
        goals = list(cfg.goal_weights)
        w = np.array([cfg.goal_weights[g] for g in goals], dtype=float)
        w = w / w.sum()
        seen: set[str] = set()
        sid = room.scene.scene_id
        for k in range(cfg.samples_per_scene):
            sample = None
            for _retry in range(3):
                goal = goals[int(rng.choice(len(goals), p=w))]
                lo = max(cfg.min_depth, 2 if goal in ("count", "color") else 1)
                if lo > cfg.max_depth:
                    continue
                depth = int(rng.integers(lo, cfg.max_depth + 1))
                sp = sampler.sample(goal, depth, tries=8)
                if sp is None or str(sp.node) in seen:
                    continue
                gold = ctx.run(sp.node)
                if gold != sp.value:
                    out["dropped_mismatch"] += 1
                    continue
                sample = sp
                break
            if sample is None:
                out["failed"] += 1
                continue
            seen.add(str(sample.node))
            phrasing = self._phrasing()
            text, _tkind = instruction(sample, phrasing, rng)
            out["grounding"].append(self._record(ctx, sample, text, phrasing, f"{sid}-g{k:03d}"))

    def _record(self, ctx: SceneContext, sp: SampledProgram, text: str, phrasing: str, sample_id: str) -> dict:
        node = sp.node
        if isinstance(node, (ast.Count, ast.Query)):
            targets = sorted(ctx.run(node.input))
            answer = sp.value
        else:
            targets = sorted(sp.value)
            answer = None
        head = _head_class_ids(ctx, sp)
        distractors = sorted(set(head) - set(targets))
        unique = len(head) == 1 if targets else None
        gs = GroundingSample(
            sample_id=sample_id, scene_id=ctx.scene.scene_id, instruction=text, target_ids=targets,
            program=str(node), depth=ast.depth(node), phrasing=phrasing, split=self.split, unique=unique,
            hard=len(distractors) > 2, view_dependent=_view_dependent(node, text), distractor_ids=distractors,
            anchor_ids=_top_anchor_ids(ctx, node), answer=answer)
        # == gs.to_dict() (all fields are flat), without dataclasses.asdict's deep copies
        d = dict(vars(gs))
        d["target_kind"] = gs.target_kind
        d["task"] = sp.goal
        return d

    def _stage2(self, room: GeneratedRoom, ctx: SceneContext, sampler: ProgramSampler, out: dict) -> None:
        from apeiria_model.programs.trace import render_trace  # heavy-ish; only here

        rng = self.rng
        sid = room.scene.scene_id
        seen: set[str] = set()
        for k in range(self.cfg.stage2_per_scene):
            level = 1 if k % 2 == 0 else 2
            for _retry in range(6):
                goal = ("single", "single", "multi", "zero")[int(rng.integers(4))]
                depth = int(rng.integers(1, 3)) if level == 1 else int(rng.integers(3, 5))
                sp = sampler.sample(goal, depth, tries=6)
                if sp is None or not _is_level(sp.node, level) or str(sp.node) in seen:
                    continue
                result = ctx.execute(sp.node)
                if result.value != sp.value:
                    out["dropped_mismatch"] += 1
                    continue
                seen.add(str(sp.node))
                phrasing = self._phrasing()
                text, _ = instruction(sp, phrasing, rng)
                out["stage2"].append({
                    "scene_id": sid, "sample_id": f"{sid}-s{k:03d}", "instruction": text,
                    "program": str(sp.node), "level": level, "depth": ast.depth(sp.node), "phrasing": phrasing,
                    "trace": render_trace(text, sp.node, result, ctx.scene, style="compact"),
                    "trace_full": render_trace(text, sp.node, result, ctx.scene, style="full"),
                    "target_ids": sorted(result.ids)})
                break


def _run_job(args) -> dict:
    seed, index, split, cfg = args
    return _SceneJob(seed, index, split, cfg).run()


def iter_scene_records(n_scenes: int, seed: int, cfg: GeneratorConfig | None = None,
                       workers: int = 1) -> Iterable[tuple[str, dict]]:
    """(split, records) per scene index, in index order (parallel but ordered)."""
    cfg = cfg or GeneratorConfig()
    splits = split_of_scenes(n_scenes, seed, cfg.split_fractions)
    jobs = ((seed, i, splits[i], cfg) for i in range(n_scenes))
    if workers <= 1:
        for job in jobs:
            yield job[2], _run_job(job)
        return
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers) as pool:
        for i, rec in enumerate(pool.imap(_run_job, jobs, chunksize=8)):
            yield splits[i], rec


def _check_args(out_dir, n_scenes, seed, workers) -> Path:
    if isinstance(n_scenes, bool) or not isinstance(n_scenes, int) or not 1 <= n_scenes <= MAX_SCENES:
        raise ValueError(f"n_scenes must be an integer in 1..{MAX_SCENES}, got {n_scenes!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise ValueError(f"workers must be an integer in 1..64, got {workers!r}")
    if not isinstance(out_dir, (str, os.PathLike)) or not str(out_dir):
        raise ValueError(f"out_dir must be a path, got {out_dir!r}")
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"out_dir {str(path)!r} exists and is not a directory")
    return path


def _dumps(d: dict) -> str:
    return json.dumps(d, ensure_ascii=False, allow_nan=False)


def generate_dataset(out_dir: str | os.PathLike, n_scenes: int, seed: int = 0,
                     cfg: GeneratorConfig | None = None, workers: int = 1,
                     progress: Callable[[int, int], None] | None = None) -> dict:
    """Generate the dataset into ``out_dir`` and return the manifest (also written)."""
    path = _check_args(out_dir, n_scenes, seed, workers)
    cfg = cfg or GeneratorConfig()
    cfg.validate()
    handles = {}
    counts: dict = {k: Counter() for k in KINDS}
    by_depth: dict = {s: Counter() for s in SPLITS}
    by_phrasing: dict = {s: Counter() for s in SPLITS}
    by_task: dict = {s: Counter() for s in SPLITS}
    by_targets: dict = {s: Counter() for s in SPLITS}
    stage1_tasks: Counter = Counter()
    stage2_levels: Counter = Counter()
    rooms: Counter = Counter()
    dropped = failed = 0
    try:
        for kind in KINDS:
            (path / kind).mkdir(parents=True, exist_ok=True)
            for split in SPLITS:
                handles[(kind, split)] = open(path / kind / f"{split}.jsonl", "w", encoding="utf-8", newline="\n")
        for done, (split, rec) in enumerate(iter_scene_records(n_scenes, seed, cfg, workers), start=1):
            for kind in KINDS:
                fh = handles[(kind, split)]
                for d in rec[kind]:
                    fh.write(_dumps(d) + "\n")
                counts[kind][split] += len(rec[kind])
            rooms[rec["scenes"][0]["scene_id"].rsplit("-", 1)[-1]] += 1
            for g in rec["grounding"]:
                by_depth[split][str(g["depth"])] += 1
                by_phrasing[split][g["phrasing"]] += 1
                by_task[split][g["task"]] += 1
                by_targets[split][g["target_kind"]] += 1
            stage1_tasks.update(t["task"] for t in rec["stage1"])
            stage2_levels.update(str(t["level"]) for t in rec["stage2"])
            dropped += rec["dropped_mismatch"]
            failed += rec["failed"]
            if progress is not None:
                progress(done, n_scenes)
    finally:
        for fh in handles.values():
            fh.close()
    manifest = {
        "generator": "apeiria-synthetic", "version": GENERATOR_VERSION, "seed": seed, "n_scenes": n_scenes,
        "splits": list(SPLITS), "split_fractions": list(cfg.split_fractions),
        "config": {"samples_per_scene": cfg.samples_per_scene, "stage2_per_scene": cfg.stage2_per_scene,
                   "heldout_share": cfg.heldout_share, "goal_weights": dict(cfg.goal_weights),
                   "min_depth": cfg.min_depth, "max_depth": cfg.max_depth},
        "counts": {k: {s: counts[k][s] for s in SPLITS} for k in KINDS},
        "grounding_by_depth": {s: dict(sorted(by_depth[s].items(), key=lambda kv: int(kv[0]))) for s in SPLITS},
        "grounding_by_phrasing": {s: dict(sorted(by_phrasing[s].items())) for s in SPLITS},
        "grounding_by_task": {s: dict(sorted(by_task[s].items())) for s in SPLITS},
        "grounding_by_target_kind": {s: dict(sorted(by_targets[s].items())) for s in SPLITS},
        "stage1_by_task": dict(sorted(stage1_tasks.items())),
        "stage2_by_level": dict(sorted(stage2_levels.items())),
        "rooms": dict(sorted(rooms.items())),
        "dropped_mismatch": dropped, "failed_samples": failed,
    }
    with open(path / "manifest.json", "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, indent=1, sort_keys=False)
        f.write("\n")
    return manifest


def read_manifest(out_dir: str | os.PathLike) -> dict:
    """Load ``manifest.json`` from a generated dataset (clear errors when absent/corrupt)."""
    p = Path(out_dir) / "manifest.json"
    if not p.is_file():
        raise FileNotFoundError(f"no manifest.json in {str(out_dir)!r}: not a generated dataset")
    try:
        doc = json.loads(p.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{p}: not valid JSON: {e}") from None
    if not isinstance(doc, dict) or "counts" not in doc:
        raise ValueError(f"{p}: not an apeiria dataset manifest (no 'counts')")
    counts = doc["counts"]
    if not isinstance(counts, dict) or not all(isinstance(v, dict) for v in counts.values()):
        raise ValueError(f"{p}: 'counts' must map record kinds to {{split: count}} objects")
    return doc
