"""Load grounding datasets into :class:`GroundingSample` lists and scenes into :class:`Scene` s.

Formats (see docs/metrics.md for how each is scored):

* ScanRefer JSON      -- list of {scene_id, object_id, object_name, ann_id, description, token}
* Multi3DRefer JSON   -- same, with ``object_ids`` (possibly empty) and ``eval_type``
* Sr3D / Nr3D CSV     -- scan_id, target_id, distractor_ids, utterance, stimulus_id, ...
* scenes              -- a directory of Scene JSON v1 files, a JSON Lines file of scenes,
                         or one JSON file holding a scene or a list of scenes
* ScanNet ``scannetv2-labels.combined.tsv`` -- raw category -> nyu40 / ScanNet-18 class
* apeiria's generated data -- ``DIR/grounding/<split>.jsonl`` + ``DIR/scenes/<split>.jsonl``

Every problem with the content of a file raises :class:`DatasetFormatError` naming the
file and the line / row / entry, never a bare ``KeyError`` or ``JSONDecodeError``.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from apeiria_model.data.schema import PHRASING_HUMAN, GroundingSample
from apeiria_model.evaluation.metrics import M3D_GROUPS, is_hard, is_view_dependent
from apeiria_model.scene.io import SceneValidationError, scene_from_dict
from apeiria_model.scene.model import Scene

# ScanRefer's 18 detection classes (ScanNet-18): nyu40 class names kept as they are,
# everything else is "others" (ScanRefer lib/config + dataset.py `_get_raw2label`).
SCANNET18_CLASSES = (
    "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf", "picture",
    "counter", "desk", "curtain", "refrigerator", "shower curtain", "toilet", "sink",
    "bathtub", "others",
)
_SCANNET18 = frozenset(SCANNET18_CLASSES)

# A csv field may hold a long utterance; the stdlib default (128 KiB) is plenty but an
# explicit bound keeps a corrupt file from being read as one giant field.
_MAX_CSV_FIELD = 1 << 20


class DatasetFormatError(ValueError):
    """A dataset file is unusable. ``str(e)`` is one line: ``FILE:LINE: problem``."""

    def __init__(self, path: str | os.PathLike, problem: str, line: int | None = None, where: str | None = None):
        self.path = str(path)
        self.line = line
        self.where = where
        self.problem = problem
        loc = self.path + (f":{line}" if line is not None else "")
        detail = f"{where}: {problem}" if where else problem
        super().__init__(f"{loc}: {detail}")


# ----------------------------------------------------------------------- helpers
def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise DatasetFormatError(path, "is a directory, expected a file") from None
    except FileNotFoundError:
        raise DatasetFormatError(path, "no such file") from None
    except OSError as e:
        raise DatasetFormatError(path, f"cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DatasetFormatError(path, f"not valid UTF-8 (byte {e.start})", line) from None


def _read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DatasetFormatError(path, f"not valid JSON: {e.msg} (column {e.colno})", e.lineno) from None
    except RecursionError:
        raise DatasetFormatError(path, "not valid JSON: nested too deeply") from None


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, decoded object) for every non-blank line."""
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetFormatError(path, f"not valid JSON: {e.msg} (column {e.colno})", lineno) from None
        except RecursionError:
            raise DatasetFormatError(path, "not valid JSON: nested too deeply", lineno) from None


def _as_id(value: Any, path: Path, where: str, line: int | None = None) -> int:
    """An object id given as an int or a string of digits ("12"), as the datasets do."""
    if isinstance(value, bool):
        raise DatasetFormatError(path, f"must be an integer id, got {value!r}", line, where)
    if isinstance(value, int):
        out = value
    elif isinstance(value, float) and value.is_integer():
        out = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        out = int(value.strip())
    else:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise DatasetFormatError(path, f"must be an integer id, got {shown}", line, where)
    if out < 0:
        raise DatasetFormatError(path, f"must be >= 0, got {out}", line, where)
    return out


def _as_text(value: Any, path: Path, where: str, line: int | None = None, allow_empty: bool = False) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # ann_id is a string in ScanRefer but an int in some copies
    if not isinstance(value, str):
        raise DatasetFormatError(path, f"must be a string, got {type(value).__name__}", line, where)
    if not allow_empty and not value.strip():
        raise DatasetFormatError(path, "must not be empty", line, where)
    return value.strip()


def _require(entry: Any, keys: tuple[str, ...], path: Path, where: str, line: int | None = None) -> dict:
    if not isinstance(entry, dict):
        raise DatasetFormatError(path, f"must be a JSON object, got {type(entry).__name__}", line, where)
    for k in keys:
        if k not in entry:
            raise DatasetFormatError(path, f"missing field {k!r}", line, where)
    return entry


def _parse_id_list(text: Any, path: Path, where: str, line: int) -> list[int]:
    """ReferIt3D stores lists as Python literals: "[3, 5]", "['12']", "" or "[]"."""
    if isinstance(text, list):
        raw = text
    else:
        s = (text or "").strip()
        if not s:
            return []
        try:
            raw = ast.literal_eval(s)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise DatasetFormatError(path, f"must be a list of ids like [3, 5], got {s[:40]!r}", line, where) from None
        if isinstance(raw, (int, str)):
            raw = [raw]
        if not isinstance(raw, (list, tuple)):
            raise DatasetFormatError(path, f"must be a list of ids like [3, 5], got {s[:40]!r}", line, where)
    return [_as_id(v, path, f"{where}[{i}]", line) for i, v in enumerate(raw)]


def normalize_label(name: str) -> str:
    """'office_chair ' -> 'office chair' (ScanRefer writes spaces as underscores)."""
    return " ".join(name.replace("_", " ").lower().split())


# --------------------------------------------------------------- category map
@dataclass(frozen=True)
class CategoryMap:
    """ScanNet ``scannetv2-labels.combined.tsv``: raw category -> nyu40 id / class."""

    nyu40_id: dict[str, int] = field(default_factory=dict)
    nyu40_class: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.nyu40_class)

    def nyu40(self, raw: str) -> str | None:
        """nyu40 class name of a raw category ('office chair' -> 'chair'); None if unknown."""
        return self.nyu40_class.get(normalize_label(raw))

    def scannet18(self, raw: str) -> str:
        """ScanRefer's ScanNet-18 class; unknown or non-detection classes are 'others'."""
        name = self.nyu40(raw)
        return name if name in _SCANNET18 else "others"


def relabel_scenes(scenes: dict[str, Scene], category_map: CategoryMap, level: str = "nyu40") -> dict[str, Scene]:
    """Scenes with raw ScanNet labels replaced by their ``nyu40`` or ``scannet18`` class.

    Labels the map does not know are kept as they are for ``nyu40`` (better a raw name
    than nothing) and become "others" for ``scannet18``, as in ScanRefer.
    """
    if level not in ("nyu40", "scannet18"):
        raise ValueError("level must be 'nyu40' or 'scannet18'")

    def new_label(label: str) -> str:
        if level == "scannet18":
            return category_map.scannet18(label)
        return category_map.nyu40(label) or label

    return {sid: sc.with_objects(dataclasses.replace(o, label=new_label(o.label)) for o in sc)
            for sid, sc in scenes.items()}


def load_category_map(path: str | os.PathLike) -> CategoryMap:
    """Read ``scannetv2-labels.combined.tsv`` (tab-separated, with its header row)."""
    path = Path(path)
    reader = csv.reader(io.StringIO(_read_text(path)), delimiter="\t")
    try:
        header = next(reader)
    except StopIteration:
        raise DatasetFormatError(path, "empty file, expected a header row") from None
    cols = {name.strip(): i for i, name in enumerate(header)}
    for need in ("raw_category", "nyu40id", "nyu40class"):
        if need not in cols:
            raise DatasetFormatError(path, f"header has no {need!r} column (got {', '.join(list(cols)[:8])})", 1)
    ids: dict[str, int] = {}
    classes: dict[str, str] = {}
    for row in reader:
        line = reader.line_num
        if not row or not "".join(row).strip():
            continue
        if len(row) <= max(cols["raw_category"], cols["nyu40id"], cols["nyu40class"]):
            raise DatasetFormatError(path, f"has {len(row)} columns, header has {len(header)}", line)
        raw = normalize_label(row[cols["raw_category"]])
        if not raw:
            raise DatasetFormatError(path, "empty raw_category", line)
        ids[raw] = _as_id(row[cols["nyu40id"]], path, "nyu40id", line)
        classes[raw] = normalize_label(row[cols["nyu40class"]])
    return CategoryMap(ids, classes)


# ------------------------------------------------------------------- ScanRefer
def _scanrefer_class(name: str, category_map: CategoryMap | None) -> str:
    return category_map.scannet18(name) if category_map is not None else normalize_label(name)


def load_scanrefer(path: str | os.PathLike, category_map: CategoryMap | None = None,
                   split: str = "val") -> list[GroundingSample]:
    """ScanRefer annotations -> samples (one target each).

    ``unique`` follows ScanRefer's own rule: a query is "unique" when no other
    annotated object of the same scene shares its class (ScanNet-18 through the
    category map when given, else the normalised ``object_name``).
    """
    path = Path(path)
    doc = _read_json(path)
    if not isinstance(doc, list):
        raise DatasetFormatError(path, f"must be a JSON list of annotations, got {type(doc).__name__}")
    rows = []
    for i, entry in enumerate(doc):
        where = f"entry [{i}]"
        _require(entry, ("scene_id", "object_id", "object_name", "description"), path, where)
        rows.append((
            _as_text(entry["scene_id"], path, f"{where}.scene_id"),
            _as_id(entry["object_id"], path, f"{where}.object_id"),
            _as_text(entry["object_name"], path, f"{where}.object_name"),
            _as_text(entry.get("ann_id", i), path, f"{where}.ann_id"),
            _as_text(entry["description"], path, f"{where}.description"),
        ))
    classes: dict[str, dict[int, str]] = {}
    for scene_id, oid, name, _, _ in rows:
        classes.setdefault(scene_id, {})[oid] = _scanrefer_class(name, category_map)
    samples = []
    for scene_id, oid, name, ann_id, text in rows:
        cls = classes[scene_id][oid]
        n_same = sum(1 for c in classes[scene_id].values() if c == cls)
        samples.append(GroundingSample(
            sample_id=f"{scene_id}:{oid}:{ann_id}", scene_id=scene_id, instruction=text,
            target_ids=[oid], phrasing=PHRASING_HUMAN, split=split, unique=n_same == 1,
            view_dependent=is_view_dependent(text), source="scanrefer",
        ))
    return samples


# ----------------------------------------------------------------- Multi3DRefer
def load_multi3drefer(path: str | os.PathLike, split: str = "val") -> list[GroundingSample]:
    """Multi3DRefer annotations -> samples with 0, 1 or many targets.

    ``eval_type`` (zt_w_d, zt_wo_d, st_w_d, st_wo_d, mt) is kept in ``unique``:
    True for the "wo_d" groups (no same-class distractor in the scene), False for
    "w_d" and "mt". Without ``eval_type`` the runner derives it from the scene.
    """
    path = Path(path)
    doc = _read_json(path)
    if not isinstance(doc, list):
        raise DatasetFormatError(path, f"must be a JSON list of annotations, got {type(doc).__name__}")
    samples = []
    for i, entry in enumerate(doc):
        where = f"entry [{i}]"
        _require(entry, ("scene_id", "object_ids", "description"), path, where)
        scene_id = _as_text(entry["scene_id"], path, f"{where}.scene_id")
        ids = entry["object_ids"]
        if not isinstance(ids, list):
            raise DatasetFormatError(path, f"must be a list of ids, got {type(ids).__name__}", None, f"{where}.object_ids")
        targets = [_as_id(v, path, f"{where}.object_ids[{j}]") for j, v in enumerate(ids)]
        if len(set(targets)) != len(targets):
            raise DatasetFormatError(path, f"repeats an id: {targets}", None, f"{where}.object_ids")
        text = _as_text(entry["description"], path, f"{where}.description")
        ann_id = _as_text(entry.get("ann_id", i), path, f"{where}.ann_id")
        unique = None
        if entry.get("eval_type") is not None:
            et = entry["eval_type"]
            if et not in M3D_GROUPS:
                raise DatasetFormatError(path, f"must be one of {', '.join(M3D_GROUPS)}, got {et!r}", None, f"{where}.eval_type")
            expected = "zt" if not targets else "st" if len(targets) == 1 else "mt"
            if not et.startswith(expected):
                raise DatasetFormatError(path, f"is {et!r} but object_ids has {len(targets)} target(s)", None, f"{where}.eval_type")
            unique = et.endswith("wo_d")
        samples.append(GroundingSample(
            sample_id=f"{scene_id}:{ann_id}", scene_id=scene_id, instruction=text, target_ids=targets,
            phrasing=PHRASING_HUMAN, split=split, unique=unique,
            view_dependent=is_view_dependent(text), source="multi3drefer",
        ))
    return samples


# ------------------------------------------------------------------- ReferIt3D
_STIMULUS = re.compile(r"^(?P<scan>[^-]+)-(?P<label>[^-]+)-(?P<n>\d+)-(?P<target>\d+)(?:-(?P<rest>[\d-]*))?$")


def _decode_stimulus(stimulus: str, path: Path, line: int) -> list[int]:
    """Distractor ids from a stimulus id 'scene0525_00-chair-3-12-5-7' (ReferIt3D encoding)."""
    m = _STIMULUS.match(stimulus.strip())
    if not m:
        raise DatasetFormatError(path, f"stimulus_id {stimulus[:60]!r} is not scan-label-n-target[-distractors]", line)
    rest = [int(x) for x in (m.group("rest") or "").split("-") if x]
    if len(rest) != int(m.group("n")) - 1:
        raise DatasetFormatError(path, f"stimulus_id {stimulus[:60]!r} lists {len(rest)} distractors, expected {int(m.group('n')) - 1}", line)
    return rest


def load_referit3d(path: str | os.PathLike, dataset: str | None = None, split: str = "test") -> list[GroundingSample]:
    """Sr3D / Nr3D CSV -> samples (one target each, with distractors and anchors).

    Needs columns scan_id, target_id, utterance; distractors come from
    ``distractor_ids`` or, as in Nr3D, are decoded from ``stimulus_id``.
    ``dataset`` ("sr3d" / "nr3d") defaults to what the file name says.
    """
    path = Path(path)
    if dataset is None:
        stem = path.name.lower()
        dataset = "sr3d" if "sr3d" in stem else "nr3d" if "nr3d" in stem else "referit3d"
    csv.field_size_limit(_MAX_CSV_FIELD)
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as e:
        raise DatasetFormatError(path, f"not valid CSV: {e}", 1) from None
    for need in ("scan_id", "target_id", "utterance"):
        if need not in header:
            raise DatasetFormatError(path, f"header has no {need!r} column", 1)
    if "distractor_ids" not in header and "stimulus_id" not in header:
        raise DatasetFormatError(path, "header needs 'distractor_ids' or 'stimulus_id' for the distractors", 1)
    samples = []
    try:
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise DatasetFormatError(path, f"has a different number of columns than the header ({len(header)})", line)
            scan = _as_text(row["scan_id"], path, "scan_id", line)
            target = _as_id(row["target_id"], path, "target_id", line)
            text = _as_text(row["utterance"], path, "utterance", line)
            if row.get("distractor_ids") not in (None, ""):
                distractors = _parse_id_list(row["distractor_ids"], path, "distractor_ids", line)
            elif row.get("stimulus_id"):
                distractors = _decode_stimulus(row["stimulus_id"], path, line)
            else:
                raise DatasetFormatError(path, "no distractor_ids and no stimulus_id", line)
            if target in distractors:
                raise DatasetFormatError(path, f"target {target} is also listed as a distractor", line)
            anchors = _parse_id_list(row.get("anchor_ids", ""), path, "anchor_ids", line)
            samples.append(GroundingSample(
                sample_id=f"{dataset}:{scan}:{target}:{line}", scene_id=scan, instruction=text,
                target_ids=[target], phrasing=PHRASING_HUMAN, split=split,
                unique=not distractors, hard=is_hard(len(distractors)),
                view_dependent=is_view_dependent(text), distractor_ids=distractors,
                anchor_ids=anchors, source=dataset,
            ))
    except csv.Error as e:
        raise DatasetFormatError(path, f"not valid CSV: {e}", reader.line_num) from None
    return samples


# ---------------------------------------------------------------------- scenes
def _scene(doc: Any, path: Path, line: int | None = None, where: str | None = None) -> Scene:
    try:
        return scene_from_dict(doc)
    except SceneValidationError as e:
        field_path = f"{where}.{e.path}" if where and e.path else (where or e.path or None)
        raise DatasetFormatError(path, e.problem, line, field_path) from None


def _add(scenes: dict[str, Scene], scene: Scene, path: Path, line: int | None) -> None:
    if scene.scene_id in scenes:
        raise DatasetFormatError(path, f"scene_id {scene.scene_id!r} appears twice", line)
    scenes[scene.scene_id] = scene


def load_scenes(path: str | os.PathLike) -> dict[str, Scene]:
    """Scenes by id from a directory of ``<scene_id>.json`` Scene JSON v1 files, a
    ``.jsonl`` file (one scene a line), or a ``.json`` file with a scene or a list."""
    path = Path(path)
    scenes: dict[str, Scene] = {}
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
        if not files:
            raise DatasetFormatError(path, "directory holds no *.json scene files")
        for f in files:
            _add(scenes, _scene(_read_json(f), f), f, None)
    elif path.suffix == ".jsonl":
        for line, doc in _iter_jsonl(path):
            _add(scenes, _scene(doc, path, line), path, line)
    else:
        doc = _read_json(path)
        if isinstance(doc, list):
            for i, d in enumerate(doc):
                _add(scenes, _scene(d, path, None, f"[{i}]"), path, None)
        else:
            _add(scenes, _scene(doc, path), path, None)
    if not scenes:
        raise DatasetFormatError(path, "holds no scenes")
    return scenes


# ------------------------------------------------------- apeiria generated data
_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "program": (str,), "depth": (int,), "phrasing": (str,), "split": (str,), "unique": (bool,),
    "hard": (bool,), "view_dependent": (bool,), "source": (str,),
}


def sample_from_record(d: Any, path: Path, line: int | None = None) -> GroundingSample:
    """Validate one ``GroundingSample.to_dict()`` record."""
    _require(d, ("sample_id", "scene_id", "instruction", "target_ids"), path, "sample", line)
    for key in ("sample_id", "scene_id", "instruction"):
        _as_text(d[key], path, key, line)
    if not isinstance(d["target_ids"], list):
        raise DatasetFormatError(path, "must be a list of ids", line, "target_ids")
    targets = [_as_id(v, path, f"target_ids[{i}]", line) for i, v in enumerate(d["target_ids"])]
    for key, types in _OPTIONAL_TYPES.items():
        v = d.get(key)
        if v is not None and (not isinstance(v, types) or (isinstance(v, bool) and bool not in types)):
            raise DatasetFormatError(path, f"must be {types[0].__name__} or null, got {type(v).__name__}", line, key)
    lists = {}
    for key in ("distractor_ids", "anchor_ids"):
        v = d.get(key) or []
        if not isinstance(v, list):
            raise DatasetFormatError(path, "must be a list of ids", line, key)
        lists[key] = [_as_id(x, path, f"{key}[{i}]", line) for i, x in enumerate(v)]
    return GroundingSample.from_dict({**d, "target_ids": targets, **lists})


def load_samples_jsonl(path: str | os.PathLike) -> list[GroundingSample]:
    path = Path(path)
    return [sample_from_record(d, path, line) for line, d in _iter_jsonl(path)]


def load_generated(data_dir: str | os.PathLike, split: str = "test") -> tuple[list[GroundingSample], dict[str, Scene]]:
    """The generator's output: ``DIR/grounding/<split>.jsonl`` and ``DIR/scenes/<split>.jsonl``."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetFormatError(root, "no such directory")
    gpath, spath = root / "grounding" / f"{split}.jsonl", root / "scenes" / f"{split}.jsonl"
    for p in (gpath, spath):
        if not p.is_file():
            have = sorted(x.stem for x in (root / "grounding").glob("*.jsonl")) if (root / "grounding").is_dir() else []
            hint = f" (splits here: {', '.join(have)})" if have else ""
            raise DatasetFormatError(p, f"no such file{hint}")
    samples = load_samples_jsonl(gpath)
    if not samples:
        raise DatasetFormatError(gpath, "holds no samples")
    return samples, load_scenes(spath)
