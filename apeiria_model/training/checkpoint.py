"""Resumable training checkpoints: model + optimizer + scheduler + step + RNG states.

Layout of ``<run_dir>/checkpoints/step_<N>/``::

    model/              save_pretrained folder (safetensors + config.json + tokenizer)
    trainer.safetensors the tensors of the optimizer / scheduler / RNG states
    trainer.json        the rest of that state (structure, numbers, step, stage), with
                        references to the tensors: nothing in a checkpoint is pickled,
                        so loading one can never run code
    state.json          human-readable step, stage, metrics

Checkpoints of older versions (``trainer.pt``) still load, with
``torch.load(weights_only=True)`` only.

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
TRAINER_TENSORS = "trainer.safetensors"
TRAINER_JSON = "trainer.json"
LEGACY_TRAINER = "trainer.pt"


class CheckpointError(ValueError):
    """A checkpoint whose trainer state is missing, malformed or unsafe to load."""


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able form of a state tree; tensors go to ``tensors`` and leave a reference."""
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot save a {type(obj).__name__} in a checkpoint")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        if obj["__tensor__"] not in tensors:
            raise CheckpointError(f"trainer state refers to a missing tensor {obj['__tensor__']!r}")
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=np.dtype(str(obj.get("dtype", "float64"))))
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__items__"]}
    return {k: _decode(v, tensors) for k, v in obj.items()}


def save_trainer_state(folder: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` as safetensors (its tensors) + JSON (everything else)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    doc = _encode(state, tensors)
    save_file(tensors, str(Path(folder) / TRAINER_TENSORS))
    (Path(folder) / TRAINER_JSON).write_text(json.dumps(doc))


def read_trainer_state(folder: str | Path) -> dict[str, Any]:
    """The state :func:`save_trainer_state` wrote; no code can run while reading it."""
    folder = Path(folder)
    if not (folder / TRAINER_JSON).is_file() and (folder / LEGACY_TRAINER).is_file():
        try:
            return torch.load(folder / LEGACY_TRAINER, map_location="cpu", weights_only=True)
        except Exception as e:  # an unpickler refusal: name it, never fall back to full pickle
            raise CheckpointError(f"{folder / LEGACY_TRAINER}: refused by torch.load(weights_only=True): "
                                  f"{str(e).splitlines()[0]}") from None
    from safetensors.torch import load_file

    try:
        doc = json.loads((folder / TRAINER_JSON).read_text())
        tensors = load_file(str(folder / TRAINER_TENSORS))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read the trainer state in {folder}: {e}") from None
    except Exception as e:  # safetensors raises its own error type for a corrupt header
        raise CheckpointError(f"cannot read the trainer state in {folder}: {type(e).__name__}: {e}") from None
    state = _decode(doc, tensors)
    if not isinstance(state, dict):
        raise CheckpointError(f"trainer state in {folder} is not an object")
    return state


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
    save_trainer_state(tmp, {
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "step": step, "stage": stage, "rng": rng_state(),
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
        "extra": json.loads(json.dumps(extra or {}, default=str)),
    })
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
    return p if (p / TRAINER_JSON).is_file() or (p / LEGACY_TRAINER).is_file() else None


def load_trainer_state(ckpt: str | Path, optimizer=None, scheduler=None, generators: dict | None = None) -> dict:
    """Restore optimizer/scheduler/RNG from ``ckpt``; returns the saved dict (step, stage...)."""
    state = read_trainer_state(ckpt)
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    for k, g in (generators or {}).items():
        if k in state.get("generators", {}):
            g.set_state(state["generators"][k])
    return state
