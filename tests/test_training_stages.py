"""Short CPU runs of each curriculum stage on a tiny generated dataset."""

from __future__ import annotations

import json

import pytest
import torch

from apeiria_model.data.generator import generate_dataset
from apeiria_model.model.modeling import ApeiriaForGrounding
from apeiria_model.model.tiny import build_tiny_model
from apeiria_model.training.checkpoint import latest_checkpoint
from apeiria_model.training.config import TrainConfig, TrainConfigError, load_train_config
from apeiria_model.training.curriculum import _stage_data
from apeiria_model.training.datasets import DatasetError, load_scenes, load_stage
from apeiria_model.training.logging import read_metrics
from apeiria_model.training.rl import run_grpo
from apeiria_model.training.sft import run_sft


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    generate_dataset(d, 6, seed=3)
    return d


def _model(data_dir):
    scenes = load_scenes(data_dir, "train")
    texts = [e.target for e in _stage_data(TrainConfig(stage=2), data_dir, "train", scenes).examples]
    texts += [e.instruction for e in load_stage(data_dir, 1, "train", scenes=scenes).examples]
    return build_tiny_model(texts, seed=0, vocab_size=600, max_new_tokens=48)


def _cfg(stage: int, run_dir, steps: int, **optim) -> TrainConfig:
    cfg = TrainConfig(stage=stage, seed=0, run_dir=str(run_dir))
    o = cfg.optim
    o.batch_size, o.lr, o.warmup_steps, o.max_steps = 4, 3e-3, 1, steps
    o.eval_every, o.save_every, o.log_every, o.eval_samples = steps, 2, 1, 4
    for k, v in optim.items():
        setattr(o, k, v)
    cfg.data.max_train_samples = 8  # the same few examples again and again: loss must fall
    return cfg.validate()


@pytest.mark.kernels  # a short training with a loss-ratio threshold
@pytest.mark.parametrize("stage", [1, 2])
def test_supervised_stage_lowers_loss(data_dir, tmp_path, stage):
    model = _model(data_dir)
    cfg = _cfg(stage, tmp_path / f"s{stage}", 12)
    scenes = load_scenes(data_dir, "train")
    train = _stage_data(cfg, data_dir, "train", scenes)
    assert 0 < len(train.examples) <= 16  # stage 2: 8 level-1/2 + 8 deep traces
    run_sft(model, train, train, cfg, tmp_path / f"s{stage}", progress=False)
    logs = [r for r in read_metrics(tmp_path / f"s{stage}" / "metrics.jsonl") if r["split"] == "train"]
    assert logs[-1]["loss"] < logs[0]["loss"] * 0.8, (logs[0], logs[-1])
    assert (tmp_path / f"s{stage}" / "final" / "model.safetensors").is_file()


@pytest.mark.kernels  # two trainings compared to 1e-6
def test_resume_reproduces_uninterrupted_run(data_dir, tmp_path):
    scenes = load_scenes(data_dir, "train")
    train = _stage_data(_cfg(2, tmp_path, 6), data_dir, "train", scenes)

    straight = _model(data_dir)
    run_sft(straight, train, train, _cfg(2, tmp_path / "a", 6), tmp_path / "a", progress=False)

    part = _model(data_dir)
    run_sft(part, train, train, _cfg(2, tmp_path / "b", 6), tmp_path / "b", progress=False, stop_at_step=4)
    assert latest_checkpoint(tmp_path / "b").name == "step_0000004"
    resumed = _model(data_dir)
    run_sft(resumed, train, train, _cfg(2, tmp_path / "b", 6), tmp_path / "b", resume=True, progress=False)
    a = ApeiriaForGrounding.from_pretrained(tmp_path / "a" / "final").state_dict()
    b = ApeiriaForGrounding.from_pretrained(tmp_path / "b" / "final").state_dict()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k


def test_grpo_stage_runs_and_logs(data_dir, tmp_path):
    model = _model(data_dir)
    cfg = _cfg(3, tmp_path, 2, lr=1e-4)
    cfg.grpo.group_size, cfg.grpo.max_new_tokens, cfg.prompts_per_step = 2, 16, 1
    scenes = load_scenes(data_dir, "train")
    train = _stage_data(cfg, data_dir, "train", scenes)
    run_grpo(model, train, cfg, tmp_path, progress=False)
    logs = [r for r in read_metrics(tmp_path / "metrics.jsonl") if r["split"] == "train"]
    assert len(logs) == 2
    for key in ("reward_mean", "reward_std", "kl", "entropy", "clip_frac", "loss"):
        assert key in logs[0]
    assert (tmp_path / "final" / "config.json").is_file()


def test_config_errors(tmp_path, data_dir):
    p = tmp_path / "bad.yaml"
    p.write_text("stage: 2\noptim: {batchsize: 3}\n")
    with pytest.raises(TrainConfigError, match="unknown key"):
        load_train_config(p)
    p.write_text("stage: 7\n")
    with pytest.raises(TrainConfigError, match="stage must be"):
        load_train_config(p)
    p.write_text("- a list\n")
    with pytest.raises(TrainConfigError, match="mapping"):
        load_train_config(p)
    broken = tmp_path / "broken"
    (broken / "scenes").mkdir(parents=True)
    (broken / "scenes" / "train.jsonl").write_text('{"scene_id": "x", "objects": []}\n{oops\n')
    with pytest.raises(DatasetError, match=r"train.jsonl:2: not valid JSON"):
        load_scenes(broken, "train")


def test_committed_configs_load():
    from apeiria_model.training.config import load_model_config, repo_root
    root = repo_root() / "config"
    for n in (1, 2, 3):
        assert load_train_config(root / f"train_stage{n}.yaml").stage == n
    assert load_model_config(root / "model_small.yaml").backbone.kind == "small"
    assert load_model_config(root / "model_gemma3_270m_lora.yaml").lora.enabled
    doc = json.loads(json.dumps(load_train_config(root / "train_stage3.yaml").to_dict()))
    assert doc["grpo"]["group_size"] == 8 and doc["grpo"]["clip_high"] == 0.28
