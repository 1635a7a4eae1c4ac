"""Score a reasoner on real scans with real referring expressions (`apeiria eval --real DIR`).

The data (e.g. ``shared/real_train/scenes``, ScanNet train scenes with ScanRefer / Nr3D /
Sr3D expressions; research data, never copied into this repository) is a directory of:

* ``<scene_id>.json``: Scene JSON v1 (docs/scene-format.md);
* ``<scene_id>.queries.jsonl``: one query a line, ``{"q": text, "ids": [target_id],
  "tags": [dataset, "unique"|"multiple", ("easy"|"hard", "view_dep"|"view_indep")],
  "source": ..., "object_name": ...}``, dataset ``scanrefer`` | ``nr3d`` | ``sr3d``.

**Split**: :func:`scene_part` puts every scene in ``calib`` or ``dev`` by a hash of its
*base* scene (``scene0000_01`` -> ``scene0000``), so the rescans of one room stay on one
side. Tune on ``calib``, report on ``dev``.

**Scoring** (ReferIt3D style): a query is right iff the reasoner returns exactly the
target, ``target_ids == [target]``. Next to it, the **same-class random** baseline: the
chance of picking the target uniformly among the scene's objects with the target's exact
label (1 / that count; 1.0 for a ``unique`` target). Definitions: docs/metrics.md.

    from apeiria_model.evaluation.real_data import load_real, evaluate_real
    data = load_real("../shared/real_train/scenes", part="dev", per_dataset=100)
    report = evaluate_real(reasoner, data).to_dict()
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from apeiria_model.data.loaders import DatasetFormatError
from apeiria_model.evaluation import metrics as M
from apeiria_model.reasoning.result import STATUS_ERROR, STATUSES
from apeiria_model.scene.io import SceneValidationError, loads_scene
from apeiria_model.scene.model import Scene

PARTS = ("calib", "dev", "all")
DATASETS = ("scanrefer", "nr3d", "sr3d")
GROUP_TAGS = ("unique", "multiple", "easy", "hard", "view_dep", "view_indep")
QUERIES_SUFFIX = ".queries.jsonl"


class RealDataError(DatasetFormatError):
    """The real-data directory is unusable. ``str(e)`` is one line: ``FILE[:LINE]: problem``."""


def scene_part(scene_id: str) -> str:
    """``"calib"`` or ``"dev"`` for a scene, the same for all rescans of one room."""
    base = scene_id.rsplit("_", 1)[0]
    return "dev" if int(hashlib.sha1(base.encode()).hexdigest(), 16) % 2 else "calib"


# ------------------------------------------------------------------- loading
@dataclass(frozen=True)
class RealQuery:
    """One referring expression; ``line`` is its line in ``<scene_id>.queries.jsonl``."""

    scene_id: str
    line: int
    text: str
    target: int
    dataset: str
    tags: tuple[str, ...]


@dataclass
class RealData:
    scenes: dict[str, Scene]
    queries: list[RealQuery]
    part: str = "all"
    root: str = ""


def _parse_query(doc: Any, scene_id: str, path: Path, line: int) -> RealQuery:
    if not isinstance(doc, dict):
        raise RealDataError(path, f"must be a JSON object, got {type(doc).__name__}", line)
    for key in ("q", "ids", "tags"):
        if key not in doc:
            raise RealDataError(path, f"missing field {key!r}", line)
    text, ids, tags = doc["q"], doc["ids"], doc["tags"]
    if not isinstance(text, str) or not text.strip():
        raise RealDataError(path, "must be a non-empty string", line, "q")
    if not isinstance(ids, list) or not ids or not all(type(i) is int and i >= 0 for i in ids):  # no bools
        raise RealDataError(path, f"must be a non-empty list of object ids, got {ids!r:.40}", line, "ids")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) or not tags:
        raise RealDataError(path, f"must be a non-empty list of strings, got {tags!r:.60}", line, "tags")
    if tags[0] not in DATASETS:
        raise RealDataError(path, f"first tag must be one of {', '.join(DATASETS)}, got {tags[0]!r}", line, "tags")
    return RealQuery(scene_id, line, text.strip(), ids[0], tags[0], tuple(tags[1:]))


def _read_queries(path: Path, scene_id: str) -> list[RealQuery]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise RealDataError(path, f"not valid UTF-8 (byte {e.start})") from None
    except OSError as e:
        raise RealDataError(path, f"cannot read: {e.strerror or e}") from None
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as e:
            raise RealDataError(path, f"not valid JSON: {getattr(e, 'msg', e)}", lineno) from None
        out.append(_parse_query(doc, scene_id, path, lineno))
    return out


def _read_scene(path: Path, scene_id: str) -> Scene:
    try:
        scene = loads_scene(path.read_bytes())
    except SceneValidationError as e:
        raise RealDataError(path, str(e)) from None
    except OSError as e:
        raise RealDataError(path, f"cannot read: {e.strerror or e}") from None
    if scene.scene_id != scene_id:
        raise RealDataError(path, f"scene_id is {scene.scene_id!r}, expected {scene_id!r} (the file name)")
    return scene


def cap_per_dataset(queries: Sequence[RealQuery], per_dataset: int, seed: int = 0) -> list[RealQuery]:
    """At most ``per_dataset`` queries of each dataset: a fixed random sample (each dataset's
    queries in file order, shuffled by ``random.Random(seed)``), returned in file order."""
    ordered = sorted(queries, key=lambda q: (q.scene_id, q.line))
    keep: set[tuple[str, int]] = set()
    for ds in sorted({q.dataset for q in ordered}):
        rows = [q for q in ordered if q.dataset == ds]
        random.Random(seed).shuffle(rows)
        keep.update((q.scene_id, q.line) for q in rows[:per_dataset])
    return [q for q in ordered if (q.scene_id, q.line) in keep]


def load_real(root: str | Path, part: str = "dev", per_dataset: int | None = None) -> RealData:
    """Queries and scenes of ``root`` for one part (``calib``, ``dev`` or ``all``).

    Every ``*.queries.jsonl`` of the part is read and checked; only the scenes that the
    kept queries need are loaded (a capped run reads a few scenes, not all), and each
    kept query's target id must exist in its scene. Problems raise :class:`RealDataError`.
    """
    root = Path(root)
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    if per_dataset is not None and per_dataset < 1:
        raise ValueError("per_dataset must be >= 1")
    if not root.is_dir():
        raise RealDataError(root, "no such directory" if not root.exists() else "is not a directory")
    files = sorted(root.glob(f"*{QUERIES_SUFFIX}"))
    if not files:
        raise RealDataError(root, f"holds no *{QUERIES_SUFFIX} files")
    queries: list[RealQuery] = []
    for qpath in files:
        scene_id = qpath.name[: -len(QUERIES_SUFFIX)]
        if part != "all" and scene_part(scene_id) != part:
            continue
        if not (root / f"{scene_id}.json").is_file():
            raise RealDataError(qpath, f"no scene file {scene_id}.json next to it")
        queries += _read_queries(qpath, scene_id)
    if per_dataset is not None:
        queries = cap_per_dataset(queries, per_dataset)
    scenes = {sid: _read_scene(root / f"{sid}.json", sid) for sid in sorted({q.scene_id for q in queries})}
    for q in queries:
        if not scenes[q.scene_id].has(q.target):
            raise RealDataError(root / f"{q.scene_id}{QUERIES_SUFFIX}",
                                f"target id {q.target} is not in scene {q.scene_id}", q.line, "ids")
    return RealData(scenes, queries, part, str(root))


# ------------------------------------------------------------------- scoring
@dataclass
class RealRecord:
    """One scored query. ``baseline`` = same-class random chance of being right."""

    scene_id: str
    query: str
    dataset: str
    tags: list[str]
    target: int
    pred_ids: list[int]
    status: str
    right: bool
    baseline: float
    latency_ms: float
    message: str = ""
    verified: bool | None = None   # the result's flag: steps re-execute AND answer the question
    failed_check: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["baseline"], d["latency_ms"] = round(self.baseline, 4), round(self.latency_ms, 3)
        return d


def same_class_random(scene: Scene, target: int) -> float:
    """1 / number of scene objects whose label equals the target's (exact raw label)."""
    label = scene.get(target).label
    return 1.0 / sum(1 for o in scene if o.label == label)


def score_one(reasoner, query: RealQuery, scene: Scene) -> RealRecord:
    """Ground one query; a reasoner that raises or returns junk scores as status ``error``."""
    t0 = time.perf_counter()
    try:
        result = reasoner.ground(query.text, scene)
        latency = (time.perf_counter() - t0) * 1000.0
        status, pred = str(result.status), [int(i) for i in result.target_ids]
        message = str(getattr(result, "message", "") or "")
        verified, failed = getattr(result, "verified", None), str(getattr(result, "failed_check", "") or "")
    except Exception as e:  # noqa: BLE001 - one bad query never loses a run
        latency = (time.perf_counter() - t0) * 1000.0
        status, pred, message = STATUS_ERROR, [], f"{type(e).__name__}: {e}"
        verified, failed = None, ""
    return RealRecord(query.scene_id, query.text, query.dataset, list(query.tags), query.target, pred, status,
                      pred == [query.target], same_class_random(scene, query.target), latency, message,
                      verified if isinstance(verified, bool) else None, failed)


def group_stats(records: Sequence[RealRecord]) -> dict[str, Any]:
    """``{n, accuracy, same_class_random, statuses, verified, verified_wrong}`` of a group
    (None = no queries): ``verified`` = share of results with ``verified: true``,
    ``verified_wrong`` = how many of those are not the target."""
    statuses = {s: 0 for s in STATUSES}
    statuses.update(Counter(r.status for r in records))
    acc, base = M.mean_or_none(r.right for r in records), M.mean_or_none(r.baseline for r in records)
    ver = M.mean_or_none(r.verified is True for r in records)
    return {"n": len(records), "accuracy": None if acc is None else round(acc, 4),
            "same_class_random": None if base is None else round(base, 4), "statuses": statuses,
            "verified": None if ver is None else round(ver, 4),
            "verified_wrong": sum(1 for r in records if r.verified is True and not r.right)}


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


@dataclass
class RealReport:
    reasoner: str
    records: list[RealRecord]
    part: str = "all"
    dataset: str = ""
    n_scenes: int = 0
    warmup_calls: int = 0

    def summary(self) -> dict[str, Any]:
        """Overall and per-dataset stats; per dataset ``overall`` plus one entry per tag
        present among its queries (``unique``, ``multiple``, ``easy``, ``hard``,
        ``view_dep``, ``view_indep``)."""
        recs = self.records
        by_dataset: dict[str, Any] = {}
        for ds in DATASETS:
            rows = [r for r in recs if r.dataset == ds]
            if not rows:
                continue
            groups = {"overall": group_stats(rows)}
            for tag in GROUP_TAGS:
                tagged = [r for r in rows if tag in r.tags]
                if tagged:
                    groups[tag] = group_stats(tagged)
            by_dataset[ds] = groups
        lat = [r.latency_ms for r in recs]
        return {"overall": group_stats(recs), "by_dataset": by_dataset,
                "latency_ms": {"p50": _ms(M.percentile_or_none(lat, 50)), "p95": _ms(M.percentile_or_none(lat, 95)),
                               "max": _ms(max(lat) if lat else None)}}

    def to_dict(self, include_queries: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"reasoner": self.reasoner, "dataset": self.dataset, "part": self.part,
                             "n_scenes": self.n_scenes, "n_queries": len(self.records),
                             "warmup_calls": self.warmup_calls}
        d.update(self.summary())
        if include_queries:
            d["queries"] = [r.to_dict() for r in self.records]
        return d


def _progress(items: Sequence, enabled: bool, description: str) -> Iterable:
    if not enabled:
        return items
    from rich.console import Console
    from rich.progress import track
    return track(items, description=description, console=Console(stderr=True), transient=True)


def evaluate_real(reasoner, data: RealData, limit: int | None = None, progress: bool = False,
                  warmup: int = 1) -> RealReport:
    """Ground every query of ``data`` (the first ``limit``) and score it.

    ``warmup``: untimed calls on the first query first, so lazy model loading stays out
    of the latency percentiles.
    """
    queries = data.queries[:limit] if limit is not None else data.queries
    name = str(getattr(reasoner, "name", type(reasoner).__name__))
    for q in queries[:1] * max(0, warmup):
        try:
            reasoner.ground(q.text, data.scenes[q.scene_id])
        except Exception:  # noqa: BLE001 - the timed call records the failure
            pass
    records = [score_one(reasoner, q, data.scenes[q.scene_id]) for q in _progress(queries, progress, f"eval {name}")]
    return RealReport(name, records, data.part, data.root, len({q.scene_id for q in queries}),
                      max(0, warmup) if queries else 0)
