"""plots: the loss figure takes further supervised runs (--sft) next to the curriculum's."""

from __future__ import annotations

import json

from apeiria_model.training.plots import _smooth, main, plot_grpo_runs, plot_training


def _metrics(path, losses):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"time": 0.0, "stage": "stage2", "split": "train", "step": i + 1, "loss": v}) + "\n"
                            for i, v in enumerate(losses)))


def test_extra_sft_run_is_drawn(tmp_path):
    _metrics(tmp_path / "cur" / "stage2" / "metrics.jsonl", [1.0, 0.5])
    _metrics(tmp_path / "more" / "metrics.jsonl", [0.4, 0.2, 0.1])
    (tmp_path / "out").mkdir()
    made = plot_training(tmp_path / "cur", tmp_path / "out", [("more", tmp_path / "more" / "metrics.jsonl")])
    assert [p.name for p in made] == ["model_sft_loss.png"] and made[0].stat().st_size > 0
    # only the extra run, through the command line
    (tmp_path / "empty").mkdir()
    assert main(["--run", str(tmp_path / "empty"), "--sft", f"x=y={tmp_path / 'more' / 'metrics.jsonl'}",
                 "--out", str(tmp_path / "out2")]) == 0
    assert (tmp_path / "out2" / "model_sft_loss.png").is_file()


def test_grpo_runs_figure(tmp_path):
    run = tmp_path / "g.jsonl"
    run.write_text("".join(json.dumps({"time": 0.0, "stage": "stage3", "split": "train", "step": i, "loss": 0.0,
                                       "kl": 0.01 * i, "entropy": 0.05, "reward_mean": float(i % 3), "reward_max": 2.5})
                           + "\n" for i in range(1, 30)))
    (tmp_path / "sft.jsonl").write_text(json.dumps({"time": 0.0, "stage": "stage2", "split": "train", "step": 1,
                                                   "loss": 1.0}) + "\n")
    p = plot_grpo_runs([("full", run), ("sft only", tmp_path / "sft.jsonl")], tmp_path)
    assert p is not None and p.name == "model_grpo_runs.png" and p.stat().st_size > 0
    assert plot_grpo_runs([("sft only", tmp_path / "sft.jsonl")], tmp_path / "none") is None  # no GRPO records
    assert _smooth([3.0, 0.0, 3.0, 0.0], 2) == [3.0, 1.5, 1.5, 1.5]
    (tmp_path / "empty").mkdir()
    assert main(["--run", str(tmp_path / "empty"), "--grpo", f"a=b={run}", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "model_grpo_runs.png").is_file()
