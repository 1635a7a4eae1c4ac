"""Issue 15, part 2: training checkpoints hold no pickle (safetensors + JSON), and
loading one can never run code."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from apeiria_model.training.checkpoint import (CheckpointError, latest_checkpoint, load_trainer_state,
                                               read_trainer_state, save_checkpoint)


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)

    def save_pretrained(self, folder):
        folder.mkdir(parents=True, exist_ok=True)


def _trained():
    torch.manual_seed(0)
    model = _Tiny()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
    for _ in range(3):
        model.lin(torch.randn(4, 3)).sum().backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    return model, opt, sched


def test_trainer_state_round_trips_without_pickle(tmp_path):
    model, opt, sched = _trained()
    gen = torch.Generator().manual_seed(7)
    torch.rand(2, generator=gen); random.random(); np.random.rand()
    ck = save_checkpoint(tmp_path, model, opt, 3, "stage2", {"metrics": {"loss": 0.5}}, scheduler=sched,
                         generators={"sampling": gen})
    assert sorted(p.name for p in ck.iterdir()) == ["model", "state.json", "trainer.json", "trainer.safetensors"]
    assert latest_checkpoint(tmp_path) == ck
    expect_py, expect_np, expect_t, expect_g = random.random(), np.random.rand(), torch.rand(1), torch.rand(1, generator=gen)

    model2, opt2, sched2 = _trained()
    for g in opt2.param_groups:
        g["lr"] = 123.0
    gen2 = torch.Generator().manual_seed(99)
    random.seed(5); np.random.seed(5); torch.manual_seed(5)
    state = load_trainer_state(ck, opt2, sched2, generators={"sampling": gen2})
    assert state["step"] == 3 and state["stage"] == "stage2" and state["extra"] == {"metrics": {"loss": 0.5}}
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for k in a["state"]:
        for name, v in a["state"][k].items():
            assert torch.equal(torch.as_tensor(v), torch.as_tensor(b["state"][k][name])), (k, name)
    assert sched.state_dict() == sched2.state_dict()
    assert (random.random(), np.random.rand()) == (expect_py, expect_np)
    assert torch.equal(torch.rand(1), expect_t) and torch.equal(torch.rand(1, generator=gen2), expect_g)


class _Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path(__import__('os').environ['BOOM']).write_text('ran')",))


def test_crafted_legacy_trainer_pt_cannot_run_code(tmp_path, monkeypatch):
    ck = tmp_path / "checkpoints" / "step_0000001"
    ck.mkdir(parents=True)
    marker = tmp_path / "pwned"
    monkeypatch.setenv("BOOM", str(marker))
    with open(ck / "trainer.pt", "wb") as f:
        pickle.dump({"step": 1, "evil": _Boom()}, f)
    (tmp_path / "checkpoints" / "latest").write_text("step_0000001\n")
    assert latest_checkpoint(tmp_path) == ck
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_trainer_state(ck)
    assert not marker.exists()


def test_corrupt_trainer_state_is_a_clear_error(tmp_path):
    model, opt, sched = _trained()
    ck = save_checkpoint(tmp_path, model, opt, 1, "stage1", scheduler=sched)
    (ck / "trainer.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(CheckpointError, match="cannot read the trainer state"):
        read_trainer_state(ck)
