"""Curriculum data from a generated dataset folder (``apeiria data generate`` / H3).

Folder layout (``apeiria_model.data.generator``)::

    scenes/<split>.jsonl     Scene JSON v1, one a line
    stage1/<split>.jsonl     {scene_id, task, prompt, response, object_ids}
    stage2/<split>.jsonl     {scene_id, sample_id, instruction, program, level, depth, trace, ...}
    stage3/<split>.jsonl     GroundingSample records (depth >= 3), no traces
    grounding/<split>.jsonl  GroundingSample records (evaluation)

Each stage becomes a list of :class:`StageExample` (instruction, scene id, target text
for the supervised stages, gold IDs / value for the RL stage and evaluation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from apeiria_model.data.schema import GroundingSample
from apeiria_model.model.trace_format import answer_target, to_model_target
from apeiria_model.scene.io import SceneValidationError, scene_from_dict
from apeiria_model.scene.model import Scene


class DatasetError(ValueError):
    """A dataset folder is missing or holds a malformed record (file:line named)."""


@dataclass
class StageExample:
    sample_id: str
    scene_id: str
    instruction: str
    target: str | None = None          # supervised target text (stages 1-2)
    gt_ids: list[int] = field(default_factory=list)
    answer: Any = None                 # count / colour answers
    depth: int | None = None
    phrasing: str = "train"
    kind: str = ""                     # stage-1 task, stage-2 level, grounding task
    program: str | None = None         # gold DSL text when known


@dataclass
class StageData:
    scenes: dict[str, Scene]
    examples: list[StageExample]


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise DatasetError(f"{path} does not exist")
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise DatasetError(f"{path}:{n}: not valid JSON: {e}") from None
            if not isinstance(rec, dict):
                raise DatasetError(f"{path}:{n}: a record must be a JSON object")
            yield n, rec


def load_scenes(data_dir: str | Path, split: str) -> dict[str, Scene]:
    path = Path(data_dir) / "scenes" / f"{split}.jsonl"
    out = {}
    for n, rec in _read_jsonl(path):
        try:
            s = scene_from_dict(rec)
        except SceneValidationError as e:
            raise DatasetError(f"{path}:{n}: {e}") from None
        out[s.scene_id] = s
    return out


def _need(rec: dict, key: str, path: Path, n: int, kind=str):
    if key not in rec or not isinstance(rec[key], kind):
        raise DatasetError(f"{path}:{n}: field {key!r} missing or not {getattr(kind, '__name__', kind)}")
    return rec[key]


def load_stage(data_dir: str | Path, stage: int, split: str, thinking: bool = True,
               scenes: dict[str, Scene] | None = None, limit: int = 0) -> StageData:
    """Examples of one curriculum stage (1, 2, 3) or of the grounding set (stage 0)."""
    data_dir = Path(data_dir)
    scenes = scenes if scenes is not None else load_scenes(data_dir, split)
    folder = {0: "grounding", 1: "stage1", 2: "stage2", 3: "stage3"}[stage]
    path = data_dir / folder / f"{split}.jsonl"
    out: list[StageExample] = []
    for n, rec in _read_jsonl(path):
        sid = _need(rec, "scene_id", path, n)
        if sid not in scenes:
            raise DatasetError(f"{path}:{n}: scene {sid!r} is not in scenes/{split}.jsonl")
        if stage == 1:
            out.append(StageExample(f"{sid}-p{n}", sid, _need(rec, "prompt", path, n),
                                    target=_need(rec, "response", path, n), gt_ids=list(rec.get("object_ids", [])),
                                    kind=str(rec.get("task", ""))))
        elif stage == 2:
            trace = _need(rec, "trace", path, n)
            try:
                target = to_model_target(trace, thinking)
            except ValueError as e:
                raise DatasetError(f"{path}:{n}: {e}") from None
            out.append(StageExample(str(rec.get("sample_id", n)), sid, _need(rec, "instruction", path, n),
                                    target=target, gt_ids=list(rec.get("target_ids", [])), depth=rec.get("depth"),
                                    phrasing=str(rec.get("phrasing", "train")), kind=f"level{rec.get('level', '')}"))
        else:
            try:
                g = GroundingSample.from_dict(rec)
            except TypeError as e:
                raise DatasetError(f"{path}:{n}: {e}") from None
            out.append(StageExample(g.sample_id, sid, g.instruction, gt_ids=list(g.target_ids), answer=g.answer,
                                    depth=g.depth, phrasing=g.phrasing, kind=str(rec.get("task", g.target_kind)),
                                    program=g.program))
        if limit and len(out) >= limit:
            break
    return StageData(scenes, out)


def traced_examples(data: StageData, thinking: bool = True) -> StageData:
    """CoT-SFT targets for grounding records that carry a program: execute the gold
    program and render its compact trace (the same executor that labelled the data).
    Used to extend stage 2 beyond levels 1-2 when ``data.deep_traces`` is on."""
    from apeiria_model.programs import parse_program
    from apeiria_model.programs.executor import Executor
    from apeiria_model.programs.trace import render_trace

    ex = Executor()
    out = []
    for e in data.examples:
        rec_program = e.program
        if rec_program is None:
            continue
        scene = data.scenes[e.scene_id]
        try:
            prog = parse_program(rec_program)
            res = ex.execute(prog, scene)
        except Exception:  # a record the executor cannot run is skipped, not fatal
            continue
        trace = render_trace(e.instruction, prog, res, scene, style="compact")
        target = to_model_target(trace, thinking)
        out.append(StageExample(e.sample_id, e.scene_id, e.instruction, target=target, gt_ids=e.gt_ids,
                                answer=e.answer, depth=e.depth, phrasing=e.phrasing, kind=e.kind,
                                program=e.program))
    return StageData(data.scenes, out)


def direct_answer_examples(data: StageData) -> StageData:
    """Direct-answer targets (ablation 'no thinking') from gold IDs / values."""
    return StageData(data.scenes, [StageExample(e.sample_id, e.scene_id, e.instruction,
                                                target=answer_target(e.gt_ids, e.answer), gt_ids=e.gt_ids,
                                                answer=e.answer, depth=e.depth, phrasing=e.phrasing, kind=e.kind)
                                   for e in data.examples])


def ensure_dataset(data_dir: str | Path, n_scenes: int, seed: int, generate: bool) -> Path:
    d = Path(data_dir)
    if (d / "manifest.json").is_file():
        return d
    if not generate:
        raise DatasetError(f"{d} holds no generated dataset (manifest.json missing); run `apeiria data generate`")
    from apeiria_model.data.generator import generate_dataset

    generate_dataset(d, n_scenes, seed)
    return d
