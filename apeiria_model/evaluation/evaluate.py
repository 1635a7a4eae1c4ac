"""Run a reasoner over a dataset and score it (ScanRefer / Multi3DRefer / ReferIt3D
metrics, breakdowns by depth / phrasing / target kind, trace verification, latency).

The per-query scores are kept in :class:`QueryRecord` s so a report can be
re-aggregated, filtered or dumped for error analysis.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from apeiria_model.data.schema import GroundingSample
from apeiria_model.evaluation import metrics as M
from apeiria_model.reasoning.result import STATUS_ERROR, STATUSES, GroundingResult
from apeiria_model.scene.model import Scene

ClassOf = Callable[[str], str]


class EvaluationError(ValueError):
    """Samples and scenes do not fit together (missing scene, unknown target id...)."""


def default_class_of(label: str) -> str:
    return " ".join(label.replace("_", " ").lower().split())


# ------------------------------------------------------------------ annotation
def annotate_samples(samples: Sequence[GroundingSample], scenes: dict[str, Scene],
                     class_of: ClassOf = default_class_of) -> list[GroundingSample]:
    """Fill the split flags a dataset left unknown (None), from the scene.

    For a single-target query: ``distractor_ids`` = other objects of the target's
    class, ``unique`` = there are none, ``hard`` = more than 2. ``view_dependent``
    from the wording. Values a loader already set are never overwritten.
    """
    out = []
    for s in samples:
        changes: dict[str, Any] = {}
        scene = scenes.get(s.scene_id)
        if len(s.target_ids) == 1 and scene is not None and scene.has(s.target_ids[0]) and (s.unique is None or s.hard is None):
            cls = class_of(scene.get(s.target_ids[0]).label)
            distractors = s.distractor_ids or [o.id for o in scene if o.id != s.target_ids[0] and class_of(o.label) == cls]
            if not s.distractor_ids:
                changes["distractor_ids"] = distractors
            if s.unique is None:
                changes["unique"] = not distractors
            if s.hard is None:
                changes["hard"] = M.is_hard(len(distractors))
        if s.view_dependent is None:
            changes["view_dependent"] = M.is_view_dependent(s.instruction)
        out.append(dataclasses.replace(s, **changes) if changes else s)
    return out


def check_samples(samples: Sequence[GroundingSample], scenes: dict[str, Scene]) -> list[tuple[str, str]]:
    """(sample_id, problem) for every sample that cannot be scored (scene missing,
    gold id not in the scene)."""
    problems = []
    for s in samples:
        scene = scenes.get(s.scene_id)
        if scene is None:
            problems.append((s.sample_id, f"scene {s.scene_id!r} not found"))
            continue
        missing = [i for i in s.target_ids if not scene.has(i)]
        if missing:
            problems.append((s.sample_id, f"target id(s) {missing} not in scene {s.scene_id!r}"))
    return problems


# --------------------------------------------------------------------- records
@dataclass
class QueryRecord:
    """Everything measured about one query."""

    sample_id: str
    scene_id: str
    source: str
    status: str
    gold_ids: list[int]
    pred_ids: list[int]
    latency_ms: float
    is_qa: bool = False
    exact: bool = False                 # id set (grounding) / answer (QA) exactly right
    top_iou: float | None = None         # single-target: IoU of the first prediction
    f1: dict[str, float] = field(default_factory=dict)   # {"0.25": f1, "0.5": f1}
    referit_correct: bool | None = None  # single-target: first predicted id is the target
    unique: bool | None = None
    hard: bool | None = None
    view_dependent: bool | None = None
    m3d_group: str | None = None
    depth: int | None = None
    phrasing: str = ""
    target_kind: str = ""
    n_steps: int = 0
    n_steps_verified: int = 0
    n_steps_unchecked: int = 0
    trace_verified: bool | None = None   # every step re-executes to what the trace states
    verified: bool | None = None         # the result's flag: steps AND the program answers the question
    failed_check: str = ""               # which check made ``verified`` false
    answer: Any = None
    gold_answer: Any = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["latency_ms"] = round(self.latency_ms, 3)
        if self.top_iou is not None:
            d["top_iou"] = round(self.top_iou, 4)
        d["f1"] = {k: round(v, 4) for k, v in self.f1.items()}
        d["answer"], d["gold_answer"] = _json_value(self.answer), _json_value(self.gold_answer)
        return d


def _json_value(v: Any) -> Any:
    """A reasoner's answer as plain JSON (numpy scalars, NaN and objects would break the report)."""
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return str(v)


def _gold_depth(sample: GroundingSample) -> int | None:
    if sample.depth is not None:
        return int(sample.depth)
    if not sample.program:
        return None
    try:  # the grammar is optional here: a gold program we cannot parse has no depth
        from apeiria_model.programs.ast import depth
        from apeiria_model.programs.grammar import parse_program
        return depth(parse_program(sample.program))
    except Exception:  # noqa: BLE001 - any parser failure just means "depth unknown"
        return None


def score_query(sample: GroundingSample, scene: Scene, result: GroundingResult, latency_ms: float,
                thresholds: Sequence[float] = M.IOU_THRESHOLDS) -> QueryRecord:
    """Score one reasoner answer against the gold sample."""
    gold = [int(i) for i in sample.target_ids]
    preds = list(result.targets)
    pred_ids = [int(t.id) for t in preds]
    rec = QueryRecord(
        sample_id=sample.sample_id, scene_id=sample.scene_id, source=sample.source, status=result.status,
        gold_ids=gold, pred_ids=pred_ids, latency_ms=latency_ms, unique=sample.unique, hard=sample.hard,
        view_dependent=sample.view_dependent, depth=_gold_depth(sample), phrasing=sample.phrasing,
        target_kind=sample.target_kind, answer=result.answer, gold_answer=sample.answer, message=result.message,
    )
    flags = [st.verified for st in result.steps]
    rec.n_steps, rec.n_steps_verified, rec.n_steps_unchecked = M.step_counts(flags)
    rec.trace_verified = (all(v is True for v in flags) if flags else None)
    rec.verified, rec.failed_check = result.verified, result.failed_check
    if sample.answer is not None:
        rec.is_qa = True
        rec.exact = M.answers_match(result.answer, sample.answer)
        return rec
    rec.exact = sorted(set(pred_ids)) == sorted(set(gold))
    try:
        iou = M.iou_matrix([t.center for t in preds], [t.size for t in preds],
                           scene.centers(gold), scene.sizes(gold))
    except (ValueError, TypeError) as e:  # a reasoner returned a malformed box: score it as wrong
        iou = np.zeros((0, len(gold)))
        rec.message = (rec.message + "; " if rec.message else "") + f"unusable predicted box: {e}"
    rec.f1 = {M.threshold_key(k): v for k, v in M.f1_from_iou(iou, thresholds).items()}
    if len(gold) == 1:
        rec.top_iou = M.top_iou(iou)
        rec.referit_correct = M.referit3d_correct(pred_ids, gold[0])
    # "with distractors" = same-class objects besides the targets (Multi3DRefer's w_d)
    has_d = True if sample.distractor_ids else (None if sample.unique is None else not sample.unique)
    rec.m3d_group = M.m3d_group(len(gold), has_d)
    return rec


# ---------------------------------------------------------------- aggregation
def _group_stats(recs: Sequence[QueryRecord], thresholds: Sequence[float]) -> dict[str, Any]:
    grounding = [r for r in recs if not r.is_qa]
    single = [r for r in grounding if len(r.gold_ids) == 1]
    d: dict[str, Any] = {"n": len(recs), "accuracy": M.mean_or_none(r.exact for r in recs)}
    for k in thresholds:
        key = M.threshold_key(k)
        d[f"acc@{key}"] = M.acc_at_k([r.top_iou for r in single], k)
    for k in thresholds:
        key = M.threshold_key(k)
        d[f"f1@{key}"] = M.mean_or_none(r.f1.get(key) for r in grounding)
    return d


def _split(recs: Iterable[QueryRecord], key: Callable[[QueryRecord], Any]) -> dict[str, list[QueryRecord]]:
    out: dict[str, list[QueryRecord]] = {}
    for r in recs:
        k = key(r)
        if k is not None:
            out.setdefault(str(k), []).append(r)
    return out


def summarize(records: Sequence[QueryRecord], thresholds: Sequence[float] = M.IOU_THRESHOLDS) -> dict[str, Any]:
    """All metrics of a run, as the JSON-able dict :meth:`EvalReport.to_dict` returns."""
    grounding = [r for r in records if not r.is_qa]
    single = [r for r in grounding if len(r.gold_ids) == 1]
    keys = [M.threshold_key(k) for k in thresholds]

    # ScanRefer: single-target grounding queries
    sr_groups = {"overall": single, "unique": [r for r in single if r.unique is True],
                 "multiple": [r for r in single if r.unique is False]}
    scanrefer: dict[str, Any] = {"n": {g: len(v) for g, v in sr_groups.items()}}
    for k, key in zip(thresholds, keys):
        scanrefer[f"acc@{key}"] = {g: M.acc_at_k([r.top_iou for r in v], k) for g, v in sr_groups.items()}

    # Multi3DRefer: every grounding query
    m3d_groups: dict[str, list[QueryRecord]] = {"overall": grounding}
    for kind in ("zero", "single", "multi"):
        m3d_groups[kind] = [r for r in grounding if r.target_kind == kind]
    for g in M.M3D_GROUPS:
        m3d_groups[g] = [r for r in grounding if r.m3d_group == g]
    multi3drefer: dict[str, Any] = {"n": {g: len(v) for g, v in m3d_groups.items()}}
    for key in keys:
        multi3drefer[f"f1@{key}"] = {g: M.mean_or_none(r.f1.get(key) for r in v) for g, v in m3d_groups.items()}

    # ReferIt3D: single-target queries, picking the id
    ri_groups = {"overall": single, "easy": [r for r in single if r.hard is False],
                 "hard": [r for r in single if r.hard is True],
                 "view_dependent": [r for r in single if r.view_dependent is True],
                 "view_independent": [r for r in single if r.view_dependent is False]}
    referit3d = {"n": {g: len(v) for g, v in ri_groups.items()},
                 "accuracy": {g: M.mean_or_none(r.referit_correct for r in v) for g, v in ri_groups.items()}}

    by_bucket = _split(records, lambda r: M.depth_bucket(r.depth))
    by_depth = {b: _group_stats(by_bucket[b], thresholds) for b in M.DEPTH_BUCKETS if b in by_bucket}
    per_depth = _split(records, lambda r: r.depth)
    by_depth_exact = {d: _group_stats(per_depth[d], thresholds) for d in sorted(per_depth, key=int)}

    traced = [r for r in records if r.n_steps > 0]
    n_steps = sum(r.n_steps for r in traced)
    trace = {"n_traces": len(traced), "n_steps": n_steps,
             "n_steps_unchecked": sum(r.n_steps_unchecked for r in traced),
             "step_accuracy": (sum(r.n_steps_verified for r in traced) / n_steps) if n_steps else None,
             "fully_verified": M.mean_or_none(r.trace_verified for r in traced),
             # the result's `verified` flag, and how far it can be trusted: answers it vouches
             # for that are wrong (the target: none), per failed check the ones it refused
             "verified": M.mean_or_none(r.verified for r in records if r.verified is not None),
             "verified_wrong": sum(1 for r in records if r.verified is True and not r.exact),
             "verified_wrong_qa": sum(1 for r in records if r.verified is True and not r.exact and r.is_qa),
             "failed_checks": dict(sorted(Counter(r.failed_check for r in records if r.failed_check).items()))}

    qa = [r for r in records if r.is_qa]
    latencies = [r.latency_ms for r in records]
    status_counts = {s: 0 for s in STATUSES}
    status_counts.update(Counter(r.status for r in records))
    return {
        "n_samples": len(records),
        "sources": dict(sorted(Counter(r.source for r in records).items())),
        "status_counts": status_counts,
        "latency_ms": {"p50": M.percentile_or_none(latencies, 50), "p95": M.percentile_or_none(latencies, 95),
                       "mean": M.mean_or_none(latencies), "max": max(latencies) if latencies else None},
        "accuracy": M.mean_or_none(r.exact for r in records),
        "scanrefer": scanrefer,
        "multi3drefer": multi3drefer,
        "referit3d": referit3d,
        "by_depth": by_depth,
        "by_depth_exact": by_depth_exact,
        "by_phrasing": {k: _group_stats(v, thresholds) for k, v in sorted(_split(records, lambda r: r.phrasing or None).items())},
        "by_target_kind": {k: _group_stats(v, thresholds) for k, v in _split(records, lambda r: r.target_kind).items()},
        "by_source": {k: _group_stats(v, thresholds) for k, v in sorted(_split(records, lambda r: r.source).items())},
        "trace": trace,
        "qa": {"n": len(qa), "exact_match": M.mean_or_none(r.exact for r in qa)},
    }


def _round(obj: Any, nd: int = 4) -> Any:
    if isinstance(obj, float):
        return round(obj, nd)
    if isinstance(obj, dict):
        return {k: _round(v, nd) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v, nd) for v in obj]
    return obj


@dataclass
class EvalReport:
    reasoner: str
    records: list[QueryRecord]
    skipped: list[str] = field(default_factory=list)
    thresholds: tuple[float, ...] = M.IOU_THRESHOLDS
    dataset: str = ""
    warmup_calls: int = 0

    def summary(self) -> dict[str, Any]:
        return summarize(self.records, self.thresholds)

    def to_dict(self, include_queries: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"reasoner": self.reasoner, "dataset": self.dataset,
                             "iou_thresholds": list(self.thresholds), "warmup_calls": self.warmup_calls}
        d.update(_round(self.summary()))
        d["n_skipped"] = len(self.skipped)
        d["skipped"] = self.skipped[:100]  # why, for the first few; the count is exact
        if include_queries:
            d["queries"] = [r.to_dict() for r in self.records]
        return d


# ----------------------------------------------------------------------- runner
def _progress(items: Sequence, enabled: bool, description: str):
    if not enabled:
        return items
    from rich.console import Console
    from rich.progress import track
    return track(items, description=description, console=Console(stderr=True), transient=True)


def evaluate(reasoner, samples: Sequence[GroundingSample], scenes: dict[str, Scene], progress: bool = True,
             on_missing: str = "error", class_of: ClassOf = default_class_of, dataset: str = "",
             thresholds: Sequence[float] = M.IOU_THRESHOLDS, warmup: int = 1) -> EvalReport:
    """Ground every sample with ``reasoner`` and score the answers.

    ``warmup``: untimed calls on the first sample before measuring, so lazy model
    loading does not land in the latency percentiles (0 to time everything).

    ``on_missing``: "error" raises :class:`EvaluationError` when a sample's scene or
    gold id is missing; "skip" leaves such samples out and lists them in the report.
    A reasoner that raises (it should not) is recorded as status "error" for that
    query, so one bad query never loses a whole run.
    """
    if on_missing not in ("error", "skip"):
        raise ValueError("on_missing must be 'error' or 'skip'")
    problems = check_samples(samples, scenes)
    if problems and on_missing == "error":
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise EvaluationError(f"sample {problems[0][0]}: {problems[0][1]}{more}")
    bad = {sid for sid, _ in problems}
    todo = annotate_samples([s for s in samples if s.sample_id not in bad], scenes, class_of)
    name = str(getattr(reasoner, "name", type(reasoner).__name__))
    for sample in todo[:1] * max(0, warmup):
        try:
            reasoner.ground(sample.instruction, scenes[sample.scene_id])
        except Exception:  # noqa: BLE001 - the timed call below records the failure
            pass
    records = []
    for sample in _progress(todo, progress, f"eval {name}"):
        scene = scenes[sample.scene_id]
        t0 = time.perf_counter()
        try:
            result = reasoner.ground(sample.instruction, scene)
        except Exception as e:  # noqa: BLE001 - contract says never raises; count it, go on
            result = GroundingResult(sample.instruction, STATUS_ERROR, name, message=f"reasoner raised {type(e).__name__}: {e}")
        latency = (time.perf_counter() - t0) * 1000.0
        if not isinstance(result, GroundingResult):
            result = GroundingResult(sample.instruction, STATUS_ERROR, name,
                                     message=f"reasoner returned {type(result).__name__}, not GroundingResult")
        try:
            records.append(score_query(sample, scene, result, latency, thresholds))
        except Exception as e:  # noqa: BLE001 - e.g. targets=None or a non-integer id: score as an error
            bad = GroundingResult(sample.instruction, STATUS_ERROR, name, message=f"malformed result: {type(e).__name__}: {e}")
            records.append(score_query(sample, scene, bad, latency, thresholds))
    return EvalReport(name, records, [f"{sid}: {why}" for sid, why in problems], tuple(thresholds), dataset,
                      max(0, warmup) if todo else 0)
