"""Batch production for the supervised stages: worker processes give the same batches
as the inline path (resume-safe), and a checkpoint without a pointer head can get one."""

from __future__ import annotations

import pytest
import torch

from apeiria_model.model.modeling import ApeiriaForGrounding
from apeiria_model.model.tiny import build_tiny_model
from apeiria_model.training.config import TrainConfig, TrainConfigError
from apeiria_model.training.datasets import StageData, StageExample
from apeiria_model.training.sft import StepBatches, _batch_stream, collate_examples
from apeiria_model.training.loop_utils import batch_indices

INSTR = ["the red mug", "the chair", "the lamp near the desk", "the window", "the desk"]


@pytest.fixture(scope="module")
def model():
    return build_tiny_model(pointer_head=True, pointer_dim=16)


def _data(scene) -> StageData:
    exs = [StageExample(f"s{i}", scene.scene_id, INSTR[i % len(INSTR)], target=f" <answer> {i % 7} </answer>")
           for i in range(11)]
    return StageData({scene.scene_id: scene}, exs)


def _cfg(workers: int) -> TrainConfig:
    cfg = TrainConfig(stage=2, seed=5)
    cfg.optim.batch_size, cfg.optim.max_steps, cfg.optim.data_workers = 4, 6, workers
    cfg.data.feature_noise_std, cfg.data.label_dropout = 0.1, 0.3  # seeded per (seed, step, slot)
    return cfg.validate()


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_step_batches_are_the_inline_batches(model, office_scene):
    data, cfg = _data(office_scene), _cfg(0)
    ds = StepBatches(model.processor, data, cfg, start=2, stop=6)
    assert len(ds) == 4
    for k in range(4):
        idx = batch_indices(2 + k, 4, len(data.examples), cfg.seed)
        assert _same(ds[k], collate_examples(model.processor, data, idx, cfg, 2 + k))
    assert "object_tokens" in ds[0] and ds[0]["object_tokens"].shape == ds[0]["object_positions"].shape


def test_worker_processes_give_the_same_stream(model, office_scene):
    data = _data(office_scene)
    inline = _batch_stream(model, data, _cfg(0), start=1)
    workers = _batch_stream(model, data, _cfg(2), start=1)
    for _ in range(5):  # steps 1..5 of max_steps 6
        assert _same(next(inline), next(workers))
    inline.close()
    workers.close()


def test_data_workers_validated():
    cfg = TrainConfig()
    cfg.optim.data_workers = -1
    with pytest.raises(TrainConfigError, match="data_workers"):
        cfg.validate()


def test_enable_pointer_head_on_an_older_checkpoint(office_scene, tmp_path):
    old = build_tiny_model()
    assert old.pointer is None
    old.save_pretrained(tmp_path / "old")
    m = ApeiriaForGrounding.from_pretrained(tmp_path / "old")
    m.enable_pointer_head(8)
    assert m.config.pointer_head and m.config.pointer_dim == 8 and m.pointer is not None
    p = m.processor.encode_prompt("the chair", office_scene)
    g = m.generate(p, max_new_tokens=4)  # decodes through the mixture
    assert len(g.token_ids) == 1
    m.save_pretrained(tmp_path / "new")
    back = ApeiriaForGrounding.from_pretrained(tmp_path / "new")
    batch = m.processor.collate([p])
    with torch.no_grad():
        assert torch.equal(m.eval()(**batch)[1], back(**batch)[1])
