"""`apeiria data`: generate the synthetic dataset and summarise one.

    apeiria data generate --out data/syn --scenes 1000 --seed 0
    apeiria data stats data/syn
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from apeiria_model.cli.common import die, print_json


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="generate / inspect synthetic grounding datasets")
    sub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    g = sub.add_parser("generate", help="generate rooms, instructions and curriculum files (JSON Lines)")
    g.add_argument("--out", required=True, help="output folder (created; files in it are overwritten)")
    g.add_argument("--scenes", type=int, required=True, help="number of rooms to generate")
    g.add_argument("--seed", type=int, default=0, help="random seed: same seed, byte-identical files")
    g.add_argument("--samples-per-scene", type=int, default=32, help="grounding + QA records per room")
    g.add_argument("--stage2-per-scene", type=int, default=4, help="CoT-SFT (level 1/2) records per room")
    g.add_argument("--workers", type=int, default=1, help="processes (output does not depend on it)")
    g.add_argument("--json", action="store_true", help="print the manifest as JSON instead of tables")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=_generate)
    s = sub.add_parser("stats", help="summarise a generated dataset (counts per split, depth, phrasing)")
    s.add_argument("dir", help="dataset folder (holds manifest.json)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_stats)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _generate(args: argparse.Namespace) -> int:
    from apeiria_model.data.generator import GeneratorConfig, generate_dataset

    try:
        cfg = GeneratorConfig(samples_per_scene=args.samples_per_scene, stage2_per_scene=args.stage2_per_scene)
        cfg.validate()
    except ValueError as e:
        die(str(e))
    progress = None
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                       TimeRemainingColumn(), transient=True)
        task = bar.add_task("generating rooms", total=args.scenes)
        bar.start()

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done)
    try:
        manifest = generate_dataset(args.out, args.scenes, args.seed, cfg, workers=args.workers, progress=progress)
    except ValueError as e:
        die(str(e))
    except OSError as e:
        die(f"cannot write {args.out}: {e.strerror or e}")
    finally:
        if bar is not None:
            bar.stop()
    if args.json:
        print_json(manifest, pretty=True)
    else:
        _print_summary(manifest, args.out)
    return 0


def _stats(args: argparse.Namespace) -> int:
    from apeiria_model.data.generator import KINDS, SPLITS, read_manifest

    try:
        manifest = read_manifest(args.dir)
    except (FileNotFoundError, ValueError) as e:
        die(str(e))
    # Recount the files, so a truncated or edited dataset shows up.
    actual = {}
    for kind in KINDS:
        actual[kind] = {}
        for split in SPLITS:
            p = Path(args.dir) / kind / f"{split}.jsonl"
            try:
                with open(p, "rb") as f:
                    actual[kind][split] = sum(1 for line in f if line.strip())
            except OSError:
                actual[kind][split] = None
    mismatches = [f"{k}/{s}.jsonl: manifest says {manifest['counts'].get(k, {}).get(s)}, file has {actual[k][s]}"
                  for k in KINDS for s in SPLITS if manifest.get("counts", {}).get(k, {}).get(s) != actual[k][s]]
    if args.json:
        print_json({"manifest": manifest, "files": actual, "mismatches": mismatches}, pretty=True)
    else:
        _print_summary(manifest, args.dir)
        for m in mismatches:
            print(f"warning: {m}", file=sys.stderr)
    return 1 if mismatches else 0


def _print_summary(manifest: dict, where) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    splits = manifest.get("splits", ["train", "val", "test"])
    t = Table(title=f"{where}: seed {manifest.get('seed')}, {manifest.get('n_scenes')} rooms, "
                    f"generator {manifest.get('version')}")
    t.add_column("records")
    for s in splits:
        t.add_column(s, justify="right")
    for kind, per in manifest.get("counts", {}).items():
        t.add_row(kind, *[str(per.get(s, 0)) for s in splits])
    console.print(t)
    t2 = Table(title="grounding records by depth / phrasing / task")
    t2.add_column("")
    for s in splits:
        t2.add_column(s, justify="right")
    for key, label in (("grounding_by_depth", "depth"), ("grounding_by_phrasing", "phrasing"),
                       ("grounding_by_task", "task"), ("grounding_by_target_kind", "targets")):
        per = manifest.get(key, {})
        names = sorted({n for s in splits for n in per.get(s, {})}, key=lambda n: (len(n), n))
        for n in names:
            t2.add_row(f"{label} {n}", *[str(per.get(s, {}).get(n, 0)) for s in splits])
    console.print(t2)
    console.print(f"rooms: {json.dumps(manifest.get('rooms', {}))}")
    console.print(f"dropped (sampler/executor mismatch): {manifest.get('dropped_mismatch')}, "
                  f"samples not found: {manifest.get('failed_samples')}")
