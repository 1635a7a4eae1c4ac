"""Figures for docs/results.md from a run's metrics.jsonl and evaluation reports.

    python -m apeiria_model.training.plots --run runs/curriculum --eval runs/eval_full.json \
        [--eval-label full --eval runs/eval_s2.json --eval-label "w/o stage 3"] --out docs/images
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from apeiria_model.training.logging import read_metrics  # noqa: E402


def plot_training(run_dir: Path, out: Path, extra_sft: list[tuple[str, Path]] = ()) -> list[Path]:
    made = []
    s3 = run_dir / "stage3" / "metrics.jsonl"
    if s3.is_file():
        recs = [r for r in read_metrics(s3) if r["split"] == "train"]
        if recs:
            fig, ax = plt.subplots(1, 3, figsize=(12, 3.2))
            steps = [r["step"] for r in recs]
            ax[0].plot(steps, [r["reward_mean"] for r in recs], label="mean")
            ax[0].plot(steps, [r["reward_max"] for r in recs], alpha=0.5, label="max")
            ax[0].set_title("GRPO reward (group of 8)")
            ax[0].legend()
            ax[1].plot(steps, [r["kl"] for r in recs])
            ax[1].set_title("KL to the stage-3 start policy")
            ax[2].plot(steps, [r["entropy"] for r in recs])
            ax[2].set_title("token entropy")
            for a in ax:
                a.set_xlabel("GRPO step")
            fig.tight_layout()
            p = out / "model_reward_curve.png"
            fig.savefig(p, dpi=110)
            plt.close(fig)
            made.append(p)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    any_line = False
    for stage in (1, 2):
        m = run_dir / f"stage{stage}" / "metrics.jsonl"
        if m.is_file():
            recs = [r for r in read_metrics(m) if r["split"] == "train"]
            if recs:
                ax.plot([r["step"] for r in recs], [r["loss"] for r in recs], label=f"stage {stage}")
                any_line = True
    for label, m in extra_sft:  # further supervised runs (e.g. a stage-2 continuation), own step axis
        recs = [r for r in read_metrics(m) if r["split"] == "train"]
        if recs:
            ax.plot([r["step"] for r in recs], [r["loss"] for r in recs], label=label)
            any_line = True
    if any_line:
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("train loss (target tokens)")
        ax.legend()
        fig.tight_layout()
        p = out / "model_sft_loss.png"
        fig.savefig(p, dpi=110)
        made.append(p)
    plt.close(fig)
    return made


def _smooth(values: list[float], window: int) -> list[float]:
    """Trailing mean over ``window`` points: GRPO rewards of 4 prompts a step are noisy."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def plot_grpo_runs(runs: list[tuple[str, Path]], out: Path, window: int = 10) -> Path | None:
    """Reward (trailing mean), KL and entropy of several stage-3 runs on one figure
    (the ablations: full, w/o format reward, IoU reward, w/o stage 2)."""
    series = []
    for label, path in runs:
        recs = [r for r in read_metrics(path) if r.get("split") == "train" and "reward_mean" in r]
        if recs:
            series.append((label, recs))
    if not series:
        return None
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.4))
    for label, recs in series:
        steps = [r["step"] for r in recs]
        ax[0].plot(steps, _smooth([r["reward_mean"] for r in recs], window), label=label)
        ax[1].plot(steps, [r["kl"] for r in recs], label=label)
        ax[2].plot(steps, [r["entropy"] for r in recs], label=label)
    ax[0].set_title(f"mean reward (trailing mean of {window} logs)")
    ax[1].set_title("KL to the start policy")
    ax[2].set_title("token entropy (nats)")
    for a in ax:
        a.set_xlabel("GRPO step")
    ax[0].legend(fontsize=8)
    fig.tight_layout()
    p = out / "model_grpo_runs.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def plot_depth(reports: list[tuple[str, dict]], out: Path) -> Path | None:
    if not reports:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / len(reports)
    depths = sorted({int(d) for _, r in reports for d in r.get("by_depth_exact", {})})
    for k, (label, r) in enumerate(reports):
        vals = [r["by_depth_exact"].get(str(d), {}).get("accuracy") for d in depths]
        xs = [i + k * width for i in range(len(depths))]
        ax.bar(xs, [v if v is not None else 0 for v in vals], width, label=label)
    ax.set_xticks([i + width * (len(reports) - 1) / 2 for i in range(len(depths))])
    ax.set_xticklabels([str(d) for d in depths])
    ax.set_xlabel("program depth (steps)")
    ax.set_ylabel("accuracy (exact target set / answer)")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    p = out / "model_accuracy_by_depth.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--eval", action="append", default=[])
    ap.add_argument("--eval-label", action="append", default=[])
    ap.add_argument("--sft", action="append", default=[], metavar="LABEL=METRICS_JSONL",
                    help="another supervised run's metrics.jsonl to draw on the loss plot")
    ap.add_argument("--grpo", action="append", default=[], metavar="LABEL=METRICS_JSONL",
                    help="a stage-3 run's metrics.jsonl for the GRPO comparison figure")
    ap.add_argument("--out", default="docs/images")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    extra = [(item.rsplit("=", 1)[0], Path(item.rsplit("=", 1)[1])) for item in a.sft]
    made = plot_training(Path(a.run), out, extra)
    labels = a.eval_label + [Path(e).stem for e in a.eval[len(a.eval_label):]]
    reports = [(lab, json.loads(Path(e).read_text())) for lab, e in zip(labels, a.eval)]
    d = plot_depth(reports, out)
    g = plot_grpo_runs([(item.rsplit("=", 1)[0], Path(item.rsplit("=", 1)[1])) for item in a.grpo], out)
    for p in made + [x for x in (d, g) if x]:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
