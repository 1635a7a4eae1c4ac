"""`apeiria eval`: score a reasoner on generated data, on ScanRefer / Multi3DRefer / Sr3D / Nr3D, or on real scans.

    apeiria eval --data DIR [--split test] [--reasoner symbolic] [--limit N] [--out results.json]
    apeiria eval --scanrefer FILE.json    --scenes DIR_OR_JSONL [--category-map TSV] ...
    apeiria eval --multi3drefer FILE.json --scenes DIR_OR_JSONL ...
    apeiria eval --referit3d FILE.csv     --scenes DIR_OR_JSONL ...
    apeiria eval --samples FILE.jsonl     --scenes DIR_OR_JSONL ...   (GroundingSample lines, e.g. the human set)
    apeiria eval --real DIR [--part dev|calib|all] [--per-dataset N] [--reasoner symbolic] [--out results.json]
                 (DIR/<scene_id>.json + DIR/<scene_id>.queries.jsonl, e.g. shared/real_train/scenes;
                  right = exactly the target; tune on calib, report on dev)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from apeiria_model.atomic_io import write_json_atomic
from apeiria_model.cli.common import die, print_json

REASONERS = ("symbolic", "neural", "hybrid")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval", help="score a reasoner on a dataset (ScanRefer / Multi3DRefer / ReferIt3D metrics)",
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]) + "\nMetric definitions: docs/metrics.md",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", metavar="DIR", help="generated dataset (DIR/grounding/<split>.jsonl + DIR/scenes/<split>.jsonl)")
    src.add_argument("--scanrefer", metavar="FILE", help="ScanRefer JSON annotations")
    src.add_argument("--multi3drefer", metavar="FILE", help="Multi3DRefer JSON annotations")
    src.add_argument("--referit3d", metavar="FILE", help="Sr3D / Nr3D CSV annotations")
    src.add_argument("--samples", metavar="FILE", help="GroundingSample JSON Lines (apeiria_model/data/schema.py), "
                     "e.g. apeiria_model/assets/eval/human_queries.jsonl")
    src.add_argument("--real", metavar="DIR", help="real scans: DIR/<scene_id>.json scenes + "
                     "DIR/<scene_id>.queries.jsonl (apeiria_model/evaluation/real_data.py)")
    p.add_argument("--part", default="dev", choices=("calib", "dev", "all"),
                   help="with --real: which scenes (split by base scene; tune on calib, report on dev; default: dev)")
    p.add_argument("--per-dataset", type=int, metavar="N",
                   help="with --real: a fixed random sample of at most N queries per dataset (scanrefer / nr3d / sr3d)")
    p.add_argument("--split", default="test", help="split of --data to score (default: test)")
    p.add_argument("--scenes", metavar="PATH", help="scenes for external annotations: a directory of <scene_id>.json "
                   "Scene JSON v1 files, a .jsonl file, or a .json file")
    p.add_argument("--category-map", metavar="TSV", help="ScanNet scannetv2-labels.combined.tsv: classes for "
                   "ScanRefer's unique/multiple split and for distractor counting")
    p.add_argument("--relabel", choices=("nyu40", "scannet18"), help="replace the scenes' raw labels by their "
                   "nyu40 / ScanNet-18 class (needs --category-map)")
    p.add_argument("--reasoner", default="symbolic", choices=REASONERS, help="which reasoner to score (default: symbolic)")
    p.add_argument("--limit", type=int, metavar="N", help="score only the first N queries")
    p.add_argument("--skip-missing", action="store_true",
                   help="skip queries whose scene or target id is missing instead of failing")
    p.add_argument("--out", metavar="FILE", help="write the report as JSON here")
    p.add_argument("--queries", action="store_true", help="include every query's scores in the JSON report")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of tables")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def load_reasoner(name: str, **kwargs):
    """The reasoner behind ``--reasoner`` (from ``apeiria_model.reasoning.load_reasoner``)."""
    try:
        from apeiria_model.reasoning import load_reasoner as factory
    except ImportError as e:
        raise RuntimeError(f"not available in this install ({e})") from None
    return factory(name, **kwargs)


def _load_dataset(args) -> tuple[list, dict, str, Any]:
    from apeiria_model.data import loaders

    category_map = loaders.load_category_map(args.category_map) if args.category_map else None
    if args.relabel and category_map is None:
        die("--relabel needs --category-map")
    if args.data:
        samples, scenes = loaders.load_generated(args.data, args.split)
        name = f"{args.data} ({args.split})"
    else:
        samples, scenes, name = _load_external(args, loaders, category_map)
    if args.relabel:
        scenes = loaders.relabel_scenes(scenes, category_map, args.relabel)
    return samples, scenes, name, category_map


def _load_external(args, loaders, category_map) -> tuple[list, dict, str]:
    if not args.scenes:
        die("--scenes is required with --scanrefer / --multi3drefer / --referit3d / --samples")
    if args.scanrefer:
        samples, name = loaders.load_scanrefer(args.scanrefer, category_map), args.scanrefer
    elif args.samples:
        samples, name = loaders.load_samples_jsonl(args.samples), args.samples
    elif args.multi3drefer:
        samples, name = loaders.load_multi3drefer(args.multi3drefer), args.multi3drefer
    else:
        samples, name = loaders.load_referit3d(args.referit3d), args.referit3d
    if not samples:
        die(f"{name}: holds no queries")
    return samples, loaders.load_scenes(args.scenes), name


def _write_and_print(args, result: dict, print_tables) -> None:
    if args.out:
        try:
            write_json_atomic(args.out, result, indent=1)
        except OSError as e:
            die(f"cannot write {args.out}: {e.strerror or e}")
    if args.json:
        print_json(result, pretty=True)
    else:
        print_tables(result)
        if args.out:
            print(f"report written to {args.out}")


def _run_real(args) -> int:
    from apeiria_model.evaluation.real_data import RealDataError, evaluate_real, load_real
    from apeiria_model.evaluation.report import print_real_report

    if args.per_dataset is not None and args.per_dataset < 1:
        die("--per-dataset must be >= 1")
    try:
        data = load_real(args.real, args.part, args.per_dataset)
    except RealDataError as e:
        die(str(e))
    if not data.queries:
        die(f"{args.real}: no queries in part {args.part!r}")
    try:
        reasoner = real_data_reasoner(args.reasoner)
    except Exception as e:  # noqa: BLE001 - a missing model / optional dependency is one line, not a traceback
        die(f"cannot load reasoner {args.reasoner!r}: {e}")
    report = evaluate_real(reasoner, data, limit=args.limit, progress=not args.no_progress and sys.stderr.isatty())
    _write_and_print(args, report.to_dict(include_queries=args.queries), print_real_report)
    return 0


def real_data_reasoner(name: str):
    """The reasoner ``apeiria eval --real`` scores: ReferIt3D / ScanRefer scoring, where
    every expression names exactly one object, so the symbolic parse answers in "single"
    mode (the hybrid's symbolic part too)."""
    if name == "symbolic":
        return load_reasoner("symbolic", answer_mode="single")
    if name == "hybrid":
        return load_reasoner("hybrid", symbolic=load_reasoner("symbolic", answer_mode="single"))
    return load_reasoner(name)


def run(args) -> int:
    from apeiria_model.data.loaders import DatasetFormatError
    from apeiria_model.evaluation import EvaluationError, evaluate, print_report
    from apeiria_model.evaluation.evaluate import default_class_of
    from apeiria_model.scene.io import SceneValidationError

    if args.limit is not None and args.limit < 1:
        die("--limit must be >= 1")
    if args.real:
        return _run_real(args)
    try:
        samples, scenes, name, category_map = _load_dataset(args)
    except (DatasetFormatError, SceneValidationError) as e:
        die(str(e))
    except OSError as e:
        die(f"{e.filename or ''}: {e.strerror or e}")
    if args.limit is not None:
        samples = samples[: args.limit]
    try:
        reasoner = load_reasoner(args.reasoner)
    except Exception as e:  # noqa: BLE001 - a missing model / optional dependency is one line, not a traceback
        die(f"cannot load reasoner {args.reasoner!r}: {e}")
    class_of = category_map.scannet18 if category_map is not None else default_class_of
    try:
        report = evaluate(reasoner, samples, scenes, progress=not args.no_progress and sys.stderr.isatty(),
                          on_missing="skip" if args.skip_missing else "error", class_of=class_of, dataset=name)
    except EvaluationError as e:
        die(f"{e} (use --skip-missing to score the rest)")
    _write_and_print(args, report.to_dict(include_queries=args.queries), print_report)
    return 0
