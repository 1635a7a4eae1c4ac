"""The oracle gap: grounding on perceived scenes vs on the ground-truth scenes they came from.

For each scene of a generated split: render a camera sweep (perception.sim), run the
perception pipeline over it, and ground every query of that scene twice with the same
reasoner: on the ground-truth scene (the oracle: exact boxes, labels, colours) and on
the perceived scene. Both answers are scored against the *ground-truth* target boxes
(``evaluation.evaluate.score_query``): ScanRefer Acc@0.25 / Acc@0.5 on single-target
queries, Multi3DRefer F1@0.25 / F1@0.5 on every grounding query, exact match on QA
(count / colour) queries. The drop GT - perceived is the paper's oracle gap. Object IDs
of a perceived scene are the map's own, so ID-based scores (ReferIt3D) are not compared.

Two modes, reported side by side:
- ``instruction``: the reasoner parses the instruction (end to end, what a user gets);
- ``program``: the generator's gold program is executed directly, so parsing errors
  drop out and the gap is perception's alone.

The perceived scene keeps the ground-truth scene's observer (``viewpoint``): the query's
"left of" means the same person's left in both, so a gap is never a change of observer.

    .venv/bin/python -m apeiria_model.perception.oracle_gap --scenes 20 --frames 30 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from apeiria_model.data.schema import GroundingSample
from apeiria_model.evaluation.evaluate import QueryRecord, annotate_samples, score_query, summarize
from apeiria_model.reasoning.result import STATUS_ERROR, STATUS_NO_MATCH, STATUS_OK, GroundingResult, Target
from apeiria_model.scene.model import Scene

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO / "data" / "apeiria"
DEFAULT_CONFIG = REPO / "config" / "perception.yaml"
MODES = ("instruction", "program")
HEADLINE = ("acc@0.25", "acc@0.5", "f1@0.25", "f1@0.5", "qa_exact")


class OracleGapError(ValueError):
    """Unusable input to the oracle-gap run (no scenes, a sample's scene missing...)."""


@dataclass
class PerceivedScene:
    gt: Scene
    perceived: Scene
    detection: dict[str, Any]   # perception metrics of the sweep (evaluate.run_sweep)
    seconds: float
    visible: frozenset[int] | None = None  # GT ids showing >= 200 px in some frame; None = unknown


def pick_scenes(scenes: dict[str, Scene], n: int) -> list[str]:
    """``n`` scene ids spread evenly over the split (file order), deterministic."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise OracleGapError(f"number of scenes must be an int >= 1, got {n!r}")
    ids = list(scenes)
    if not ids:
        raise OracleGapError("the split holds no scenes")
    if n >= len(ids):
        return ids
    return [ids[int(i)] for i in np.linspace(0, len(ids) - 1, n).round()]


def perceive(gt: Scene, n_frames: int = 30, kind: str = "orbit", segmenter: str = "learned",
             config: str | Path | None = DEFAULT_CONFIG, noise_seed: int = 0,
             width: int = 640, height: int = 480) -> PerceivedScene:
    """Render a sweep of ``gt`` with sensor noise, run the pipeline, return the perceived scene
    (carrying ``gt``'s viewpoint) and the sweep's detection metrics."""
    from apeiria_model.perception.evaluate import run_sweep
    from apeiria_model.perception.frame import CameraIntrinsics
    from apeiria_model.perception.pipeline import PerceptionConfig, PerceptionPipeline
    from apeiria_model.perception.sim.noise import SensorNoise
    from apeiria_model.perception.sim.renderer import SceneRenderer
    from apeiria_model.perception.sim.trajectory import sweep

    if not isinstance(gt, Scene) or len(gt) == 0:
        raise OracleGapError("ground-truth scene must be a Scene with at least one object")
    t0 = time.perf_counter()
    cfg = PerceptionConfig.from_yaml(config) if config is not None and Path(config).is_file() else PerceptionConfig()
    cfg.segmenter = segmenter
    cfg.learned.providers = ["CPUExecutionProvider"]
    renderer = SceneRenderer(gt, CameraIntrinsics.from_fov(width, height), SensorNoise(seed=noise_seed))
    frames = (renderer.render(p, stamp=i / 15.0, frame_index=i) for i, p in enumerate(sweep(gt, n_frames, kind)))
    perceived, summary = run_sweep(PerceptionPipeline(config=cfg), frames, gt=gt, scene_id=gt.scene_id,
                                   per_frame=False)
    perceived = replace(perceived, viewpoint=gt.viewpoint or gt.default_viewpoint())
    return PerceivedScene(gt, perceived, summary.get("metrics", {}), time.perf_counter() - t0,
                          frozenset(summary.get("gt_visible_ids", [])))


class ProgramGrounder:
    """Executes a sample's gold program (no parsing) and reports targets the way the
    symbolic reasoner does: the result set, or for count / query the set it was asked about."""

    name = "gold-program"

    def __init__(self, matcher=None):
        from apeiria_model.programs.executor import Executor
        if matcher is None:
            from apeiria_model.language.open_vocab import default_matcher
            matcher = default_matcher()
        self.executor = Executor(matcher)

    def ground(self, program_text: str, scene: Scene) -> GroundingResult:
        from apeiria_model.programs import ast
        from apeiria_model.programs.grammar import parse_program

        try:
            program = parse_program(program_text)
            result = self.executor.execute(program, scene)
        except Exception as e:  # noqa: BLE001 - one bad program is one wrong answer, not a lost run
            return GroundingResult(program_text, STATUS_ERROR, self.name, message=f"{type(e).__name__}: {e}")
        res = GroundingResult(program_text, STATUS_OK, self.name, program=str(program))
        if isinstance(program, (ast.Count, ast.Query)):
            res.answer = result.value
            ids = list(result.steps[-1].inputs[0]) if result.steps else []
            if isinstance(program, ast.Query) and result.value is None:
                res.status = STATUS_NO_MATCH
        else:
            ids = result.ids
            if not ids:
                res.status = STATUS_NO_MATCH
        res.targets = [Target.from_object(scene.get(i)) for i in ids]
        return res


def _ground_all(ground: Callable[[GroundingSample, Scene], GroundingResult], samples: Sequence[GroundingSample],
                scene: Scene, gt: Scene, name: str) -> list[QueryRecord]:
    records = []
    for s in samples:
        t0 = time.perf_counter()
        try:
            result = ground(s, scene)
        except Exception as e:  # noqa: BLE001 - reasoners should not raise; count it as an error answer
            result = GroundingResult(s.instruction, STATUS_ERROR, name, message=f"{type(e).__name__}: {e}")
        records.append(score_query(s, gt, result, (time.perf_counter() - t0) * 1e3))
    return records


def headline(records: Sequence[QueryRecord]) -> dict[str, Any]:
    """The numbers the gap is reported on (None where a group is empty)."""
    s = summarize(records)
    return {"n_queries": len(records),
            "n_single": s["scanrefer"]["n"]["overall"],
            "n_grounding": s["multi3drefer"]["n"]["overall"],
            "n_qa": s["qa"]["n"],
            "acc@0.25": s["scanrefer"]["acc@0.25"]["overall"],
            "acc@0.5": s["scanrefer"]["acc@0.5"]["overall"],
            "f1@0.25": s["multi3drefer"]["f1@0.25"]["overall"],
            "f1@0.5": s["multi3drefer"]["f1@0.5"]["overall"],
            "qa_exact": s["qa"]["exact_match"]}


def gap_table(gt_records: Sequence[QueryRecord], perceived_records: Sequence[QueryRecord]) -> dict[str, Any]:
    """Headline metrics on GT and on perceived scenes, and the drop (GT - perceived)."""
    g, p = headline(gt_records), headline(perceived_records)
    drop = {k: (g[k] - p[k]) if isinstance(g[k], float) and isinstance(p[k], float) else None for k in HEADLINE}
    return {"gt": g, "perceived": p, "drop": drop}


CAUSES = ("right", "target not in view", "target not perceived", "target mislabelled", "anchor not in view",
          "anchor not perceived", "anchor mislabelled", "other")


def failure_cause(sample: GroundingSample, record: QueryRecord, gt: Scene, perceived: Scene,
                  matched: dict[int, int], visible: frozenset[int] | None = None) -> str:
    """Why a single-target query went wrong on a perceived scene, first cause first:
    the target (or an anchor) has no perceived box at IoU >= 0.25 (``matched``: GT id ->
    perceived id) because the sweep never showed it (not in ``visible``) or although it
    did, or has one with another label; else "other" (colour, relation, a distractor
    perceived as a second target...)."""
    if record.top_iou is not None and record.top_iou >= 0.25:
        return "right"
    for role, ids in (("target", sample.target_ids), ("anchor", sample.anchor_ids)):
        missed = [i for i in ids if gt.has(i) and i not in matched]
        if missed and visible is not None and any(i not in visible for i in missed):
            return f"{role} not in view"
        if missed:
            return f"{role} not perceived"
        if any(perceived.get(matched[i]).label != gt.get(i).label for i in ids if gt.has(i)):
            return f"{role} mislabelled"
    return "other"


def compare(perceived: Sequence[PerceivedScene], samples: Sequence[GroundingSample], reasoner,
            program_grounder: ProgramGrounder | None = None) -> dict[str, Any]:
    """Ground the samples of every perceived scene on GT and on the perceived scene, per mode."""
    by_scene: dict[str, list[GroundingSample]] = {}
    for s in samples:
        by_scene.setdefault(s.scene_id, []).append(s)
    from apeiria_model.perception.metrics import match

    records: dict[str, dict[str, list[QueryRecord]]] = {m: {"gt": [], "perceived": []} for m in MODES}
    causes: dict[str, dict[str, int]] = {m: {c: 0 for c in CAUSES} for m in MODES}
    missed: dict[str, dict[str, int]] = {m: {} for m in MODES}  # label of a target shown but not perceived
    for ps in perceived:
        matched = {g: p for p, g, iou in match(ps.perceived, ps.gt) if iou >= 0.25}
        todo = annotate_samples(by_scene.get(ps.gt.scene_id, []), {ps.gt.scene_id: ps.gt})
        grounders = {"instruction": lambda s, sc: reasoner.ground(s.instruction, sc)}
        if program_grounder is not None:
            grounders["program"] = lambda s, sc: program_grounder.ground(s.program or "", sc)
        for mode, fn in grounders.items():
            use = todo if mode == "instruction" else [s for s in todo if s.program]
            for side, scene in (("gt", ps.gt), ("perceived", ps.perceived)):
                recs = _ground_all(fn, use, scene, ps.gt, getattr(reasoner, "name", mode))
                records[mode][side] += recs
                if side == "perceived":
                    for s, r in zip(use, recs):
                        if s.answer is None and len(s.target_ids) == 1:
                            cause = failure_cause(s, r, ps.gt, ps.perceived, matched, ps.visible)
                            causes[mode][cause] += 1
                            if cause == "target not perceived" and ps.gt.has(s.target_ids[0]):
                                label = ps.gt.get(s.target_ids[0]).label
                                missed[mode][label] = missed[mode].get(label, 0) + 1
    out: dict[str, Any] = {}
    for mode in MODES:
        if records[mode]["gt"]:
            out[mode] = gap_table(records[mode]["gt"], records[mode]["perceived"])
            out[mode]["single_target_on_perceived"] = causes[mode]
            out[mode]["targets_not_perceived_by_label"] = dict(sorted(missed[mode].items(), key=lambda kv: (-kv[1], kv[0])))
    out["_records"] = records
    return out


def _mean(xs) -> float | None:
    v = [float(x) for x in xs if isinstance(x, (int, float)) and math.isfinite(x)]
    return float(np.mean(v)) if v else None


def run(n_scenes: int = 20, n_frames: int = 30, segmenter: str = "learned", data_dir: str | Path = DEFAULT_DATA,
        split: str = "test", config: str | Path | None = DEFAULT_CONFIG, reasoner=None,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole measurement; returns a JSON-able report (no per-query records)."""
    from apeiria_model.data.loaders import load_generated

    samples, scenes = load_generated(data_dir, split)
    ids = pick_scenes(scenes, n_scenes)
    if reasoner is None:
        from apeiria_model.reasoning import load_reasoner
        reasoner = load_reasoner("symbolic")
    grounder = ProgramGrounder(getattr(reasoner, "matcher", None))
    t0 = time.perf_counter()
    perceived = []
    for i, sid in enumerate(ids):
        ps = perceive(scenes[sid], n_frames, "orbit" if i % 2 == 0 else "walk", segmenter, config, noise_seed=i)
        perceived.append(ps)
        if log:
            m = ps.detection
            log(f"{i + 1}/{len(ids)} {sid}: {len(ps.perceived)} perceived / {len(ps.gt)} GT objects, "
                f"recall@0.25 {m.get('recall@0.25', float('nan')):.2f}, {ps.seconds:.1f} s")
    t_perceive = time.perf_counter() - t0
    wanted = set(ids)
    result = compare(perceived, [s for s in samples if s.scene_id in wanted], reasoner, grounder)
    result.pop("_records")
    result.update({
        "data": str(data_dir), "split": split, "segmenter": segmenter, "frames_per_scene": n_frames,
        "n_scenes": len(ids), "scene_ids": ids,
        "perception": {k: _mean(p.detection.get(k) for p in perceived)
                       for k in ("recall@0.25", "precision@0.25", "label_accuracy")},
        "perceive_seconds": round(t_perceive, 1), "seconds": round(time.perf_counter() - t0, 1),
    })
    return result


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m apeiria_model.perception.oracle_gap", description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=20, help="test scenes, spread over the split (default 20)")
    ap.add_argument("--frames", type=int, default=30, help="frames per sweep (default 30)")
    ap.add_argument("--segmenter", choices=("geometric", "learned"), default="learned")
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="generated dataset folder (default data/apeiria)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--json", metavar="FILE", help="also write the report here")
    a = ap.parse_args(argv)
    try:
        report = run(a.scenes, a.frames, a.segmenter, a.data, a.split, log=lambda m: print(m, file=sys.stderr))
    except (OracleGapError, ValueError, OSError) as e:
        print(f"oracle_gap: error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=1)
    if a.json:
        Path(a.json).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
