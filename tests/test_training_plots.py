"""plots: the loss figure takes further supervised runs (--sft) next to the curriculum's."""

from __future__ import annotations

import json

from apeiria_model.training.plots import main, plot_training


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
