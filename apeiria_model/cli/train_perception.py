"""`apeiria train-perception`: train the learned segmenter's classifier on simulator renders.

    apeiria train-perception --config config/train_perception.yaml
    apeiria train-perception --config config/train_perception.yaml --out-dir /tmp/model --quick

Renders generated rooms, labels the geometric segments from the ground-truth instance
images, trains the PointNet-style classifier (torch, CPU, seeded) and writes
segment_classifier.safetensors, segment_classifier.onnx and segment_classifier.json
(training report with validation accuracy on held-out rooms) to the output folder
(default: the shipped model in apeiria_model/assets/perception/).
"""

from __future__ import annotations

import argparse
import json
import sys

from apeiria_model.cli.common import die, print_json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-perception", help="train the learned segmenter (segment classifier) on simulator renders",
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    p.add_argument("--config", metavar="FILE", required=True, help="training config YAML")
    p.add_argument("--out-dir", metavar="DIR", help="write the model here instead of the config's out_dir")
    p.add_argument("--cache", metavar="FILE", help="npz cache of collected segments (reused when present)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 training rooms, 1 validation room, 3 frames each, 2 epochs")
    p.add_argument("--json", action="store_true", help="print the training report as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from apeiria_model.perception.training import TrainConfig, TrainConfigError, train

    try:
        cfg = TrainConfig.from_yaml(args.config)
    except FileNotFoundError:
        die(f"cannot read {args.config}: no such file")
    except OSError as e:
        die(f"cannot read {args.config}: {e.strerror or e}")
    except TrainConfigError as e:
        die(str(e))
    if args.out_dir:
        cfg.out_dir = args.out_dir
    if args.cache:
        cfg.cache = args.cache
    if args.quick:
        cfg.train_rooms, cfg.val_rooms, cfg.frames_per_room, cfg.epochs = 2, 1, 3, 2
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    try:
        report = train(cfg, log=log)
    except (RuntimeError, ValueError) as e:
        die(f"training failed: {e}")
    except OSError as e:
        die(f"cannot write the model: {e.strerror or e}")
    summary = {k: report.get(k) for k in ("n_segments", "n_train", "n_val", "val_accuracy", "val_accuracy_objects",
                                          "parameters", "total_seconds")}
    if args.json:
        print_json(report)
    else:
        print(json.dumps(summary))
    return 0
