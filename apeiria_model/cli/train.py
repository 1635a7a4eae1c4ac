"""`apeiria train`: the APEIRIA curriculum (perception alignment, CoT-SFT, GRPO).

    apeiria train --stage 1 --config config/train_stage1.yaml
    apeiria train --stage 2 --config config/train_stage2.yaml --resume
    apeiria train --curriculum config/train_curriculum.yaml          # 1 -> 2 -> 3, same weights
    apeiria train --curriculum config/train_curriculum.yaml --set skip_stage3=true --set run_dir=runs/no_rl

Runs are seeded and resumable (model + optimizer + step + RNG states under
<run_dir>/checkpoints); metrics go to <run_dir>/metrics.jsonl (and TensorBoard when
installed). On GPUs: `accelerate launch -m apeiria_model.cli.main train ...`.
"""

from __future__ import annotations

import argparse

import yaml

from apeiria_model.cli.common import die, print_json


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train the neural model (curriculum stages 1-3)",
                              description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="\n".join(__doc__.splitlines()[1:]))
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--stage", type=int, choices=(1, 2, 3), help="run one stage (with --config)")
    g.add_argument("--curriculum", metavar="YAML", help="run the stages listed in this file in order")
    p.add_argument("--config", metavar="YAML", help="stage config (config/train_stageN.yaml)")
    p.add_argument("--resume", action="store_true", help="continue from the run's latest checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a top-level config key (YAML value), e.g. --set run_dir=runs/x --set seed=1")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            die(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError as e:
            die(f"--set {k}: value is not valid YAML: {e}")
    return out


def run(args) -> int:
    from apeiria_model.model.config import ConfigError
    from apeiria_model.training.config import TrainConfigError, load_train_config
    from apeiria_model.training.curriculum import run_curriculum, run_stage
    from apeiria_model.training.datasets import DatasetError

    progress = False if args.no_progress else None
    over = _overrides(args.set)
    try:
        if args.curriculum:
            summaries = run_curriculum(args.curriculum, resume=args.resume, progress=progress, overrides=over)
            print_json(summaries, pretty=True)
            return 0
        if not args.config:
            die("--stage needs --config config/train_stageN.yaml")
        cfg = load_train_config(args.config, over)
        if cfg.stage != args.stage:
            die(f"--stage {args.stage} but {args.config} says stage: {cfg.stage}")
        print_json(run_stage(cfg, resume=args.resume, progress=progress), pretty=True)
        return 0
    except (TrainConfigError, ConfigError, DatasetError) as e:
        die(str(e))
    except FileNotFoundError as e:
        die(f"file not found: {e.filename or e}")
