"""Resumable training checkpoints: model + optimizer + scheduler + step + RNG states.

Layout of ``<run_dir>/checkpoints/step_<N>/``::

    model/            save_pretrained folder (safetensors + config.json + tokenizer)
    trainer.pt        optimizer / scheduler state, step, epoch, RNG states (torch.save)
    state.json        human-readable step, stage, metrics

``latest`` (a text file beside them) names the newest complete checkpoint; it is
written last, so a crash mid-save never points at a half-written folder.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

LATEST = "latest"


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def save_checkpoint(run_dir: str | Path, model, optimizer, step: int, stage: str, extra: dict | None = None,
                    scheduler=None, keep: int = 2, generators: dict | None = None) -> Path:
    ckdir = Path(run_dir) / "checkpoints"
    out = ckdir / f"step_{step:07d}"
    tmp = ckdir / f".tmp_step_{step:07d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp / "model")
    torch.save({
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "step": step, "stage": stage, "rng": rng_state(),
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
        "extra": extra or {},
    }, tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, "stage": stage, **(extra or {})}, indent=2, default=str))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    (ckdir / LATEST).write_text(out.name + "\n")
    _prune(ckdir, keep)
    return out


def _prune(ckdir: Path, keep: int) -> None:
    steps = sorted(p for p in ckdir.glob("step_*") if p.is_dir())
    for p in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    ckdir = Path(run_dir) / "checkpoints"
    f = ckdir / LATEST
    if not f.is_file():
        return None
    p = ckdir / f.read_text().strip()
    return p if (p / "trainer.pt").is_file() else None


def load_trainer_state(ckpt: str | Path, optimizer=None, scheduler=None, generators: dict | None = None) -> dict:
    """Restore optimizer/scheduler/RNG from ``ckpt``; returns the saved dict (step, stage...)."""
    state = torch.load(Path(ckpt) / "trainer.pt", map_location="cpu", weights_only=False)
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    for k, g in (generators or {}).items():
        if k in state.get("generators", {}):
            g.set_state(state["generators"][k])
    return state
