"""Pieces every training stage shares: accelerator, optimizer, LR schedule, progress bar,
deterministic batch order (so a resumed run sees exactly the batches it would have)."""

from __future__ import annotations

import math
import sys

import numpy as np
import torch


def make_accelerator(mixed_precision: str = "no"):
    """One process on this CPU; ``accelerate launch`` spreads the same code over GPUs."""
    from accelerate import Accelerator

    cpu = not torch.cuda.is_available()
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision if mixed_precision != "no" else "no")


def make_optimizer(model, lr: float, weight_decay: float):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "norm" in n or n.endswith("out_scale") else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))


def make_scheduler(optimizer, warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        prog = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, prog)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def batch_indices(step: int, batch_size: int, n: int, seed: int) -> list[int]:
    """Indices of the samples in batch ``step``: epoch-wise permutations seeded by
    (seed, epoch), a pure function of the step (resume-safe, reproducible)."""
    out = []
    for j in range(batch_size):
        i = step * batch_size + j
        epoch, pos = divmod(i, n)
        perm = _perm(seed, epoch, n)
        out.append(int(perm[pos]))
    return out


_PERM_CACHE: dict[tuple[int, int, int], np.ndarray] = {}


def _perm(seed: int, epoch: int, n: int) -> np.ndarray:
    key = (seed, epoch, n)
    p = _PERM_CACHE.get(key)
    if p is None:
        if len(_PERM_CACHE) > 8:
            _PERM_CACHE.clear()
        p = _PERM_CACHE[key] = np.random.default_rng([seed, epoch]).permutation(n)
    return p


def sample_rng(seed: int, step: int, j: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, j, 7])


class Progress:
    """tqdm bar when attached to a terminal (or forced), else silent; a plain line log stays."""

    def __init__(self, total: int, initial: int, desc: str, enabled: bool | None = None):
        enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        if enabled:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True)

    def update(self, n: int = 1, **postfix) -> None:
        if self.bar is not None:
            self.bar.update(n)
            if postfix:
                self.bar.set_postfix({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in postfix.items()})

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
