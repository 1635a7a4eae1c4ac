"""Supervised stages (1: perception alignment, 2: CoT-SFT): next-token loss on the
target (answer / CoT + answer) only, the prompt and object slots masked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from apeiria_model.training.checkpoint import latest_checkpoint, load_trainer_state, save_checkpoint
from apeiria_model.training.config import TrainConfig
from apeiria_model.training.datasets import StageData
from apeiria_model.training.logging import RunLogger
from apeiria_model.training.loop_utils import (Progress, batch_indices, make_accelerator, make_optimizer,
                                               make_scheduler, sample_rng)

Evaluator = Callable[[object], dict]


def collate_examples(processor, data: StageData, idx: list[int], cfg: TrainConfig, step: int, train: bool = True):
    """The CPU batch of samples ``idx`` at ``step`` (noise / label dropout seeded by (seed, step, j))."""
    exs = []
    for j, i in enumerate(idx):
        ex = data.examples[i]
        rng = sample_rng(cfg.seed, step, j)
        noise = cfg.data.feature_noise_std if train else 0.0
        drop = cfg.data.label_dropout if train else 0.0
        exs.append(processor.encode_example(ex.instruction, data.scenes[ex.scene_id], ex.target,
                                            noise_std=noise, label_dropout=drop, rng=rng))
    return processor.collate(exs)


def _to(batch: dict, model) -> dict:
    dev = getattr(model, "device", None)
    return {k: v.to(dev, non_blocking=True) for k, v in batch.items()} if dev is not None else batch


def encode_batch(model, data: StageData, idx: list[int], cfg: TrainConfig, step: int, train: bool = True):
    return _to(collate_examples(model.processor, data, idx, cfg, step, train), model)


class StepBatches(torch.utils.data.Dataset):
    """Item k = the training batch of step ``start + k``: the same pure function of
    (seed, step) as the inline path, so worker processes change speed, not data."""

    def __init__(self, processor, data: StageData, cfg: TrainConfig, start: int, stop: int):
        self.processor, self.data, self.cfg, self.start, self.stop = processor, data, cfg, start, stop

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __getitem__(self, k: int) -> dict:
        step = self.start + k
        idx = batch_indices(step, self.cfg.optim.batch_size, len(self.data.examples), self.cfg.seed)
        return collate_examples(self.processor, self.data, idx, self.cfg, step)


def _batch_stream(model, train: StageData, cfg: TrainConfig, start: int):
    """Yields the batches of steps start, start+1, ...: inline, or prefetched by
    ``optim.data_workers`` processes (the CPU encoding is the bottleneck on a GPU)."""
    o = cfg.optim
    if o.data_workers <= 0:
        step = start
        while True:
            idx = batch_indices(step, o.batch_size, len(train.examples), cfg.seed)
            yield encode_batch(model, train, idx, cfg, step)
            step += 1
    ds = StepBatches(model.processor, train, cfg, start, o.max_steps)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, shuffle=False, num_workers=o.data_workers,
                                         prefetch_factor=4, pin_memory=torch.cuda.is_available())
    for batch in loader:
        yield _to(batch, model)


@torch.no_grad()
def eval_loss(model, data: StageData, cfg: TrainConfig, accelerator, max_samples: int) -> float:
    model.eval()
    n = min(len(data.examples), max_samples)
    total, count = 0.0, 0
    bs = cfg.optim.batch_size
    for s in range(0, n, bs):
        idx = list(range(s, min(n, s + bs)))
        batch = encode_batch(model, data, idx, cfg, 0, train=False)
        with accelerator.autocast():
            loss, _ = model(**batch)
        k = int((batch["labels"][:, 1:] != -100).sum())
        total += float(loss) * k
        count += k
    model.train()
    return total / max(1, count)


def run_sft(model, train: StageData, val: StageData, cfg: TrainConfig, run_dir: str | Path, resume: bool = False,
            evaluator: Evaluator | None = None, progress: bool | None = None, stop_at_step: int | None = None) -> dict:
    """Train ``model`` in place; returns the final metrics. Checkpoints land in ``run_dir``.
    ``stop_at_step`` ends the run early (checkpoint saved) as an interruption would."""
    run_dir = Path(run_dir)
    o = cfg.optim
    if not train.examples:
        raise ValueError(f"stage {cfg.stage}: no training examples")
    acc = make_accelerator(o.mixed_precision)
    opt = make_optimizer(model, o.lr, o.weight_decay)
    sched = make_scheduler(opt, o.warmup_steps, o.max_steps)
    model, opt = acc.prepare(model, opt)
    step = 0
    if resume and (ck := latest_checkpoint(run_dir)) is not None:
        from safetensors.torch import load_file
        state = load_file(str(ck / "model" / "model.safetensors"))
        model.load_state_dict(state, strict=False)
        step = int(load_trainer_state(ck, opt, sched)["step"])
    log = RunLogger(run_dir, f"stage{cfg.stage}")
    bar = Progress(o.max_steps, step, f"stage {cfg.stage}", progress)
    t0 = time.monotonic()
    metrics: dict = {}
    model.train()
    running = []
    tok_count, tok_t = 0, time.monotonic()
    batches = _batch_stream(model, train, cfg, step)
    while step < o.max_steps:
        batch = next(batches)
        with acc.autocast():
            loss, _ = model(**batch)
        acc.backward(loss)
        if o.grad_clip > 0:
            acc.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], o.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        running.append(float(loss.detach()))
        tok_count += int(batch["attention_mask"].sum())
        bar.update(1, loss=running[-1])
        if step % o.log_every == 0 or step == o.max_steps:
            el = time.monotonic() - tok_t
            log.log(step, "train", {"loss": float(np.mean(running)), "lr": sched.get_last_lr()[0],
                                    "tokens_per_s": tok_count / max(el, 1e-9)})
            running, tok_count, tok_t = [], 0, time.monotonic()
        out_of_time = o.max_minutes > 0 and (time.monotonic() - t0) / 60.0 >= o.max_minutes
        if step % o.eval_every == 0 or step == o.max_steps or out_of_time:
            metrics = {"loss": eval_loss(model, val, cfg, acc, o.eval_samples)} if val.examples else {}
            if evaluator is not None:
                metrics.update(evaluator(model))
            log.log(step, "eval", metrics)
        if step % o.save_every == 0 or step == o.max_steps or out_of_time:
            save_checkpoint(run_dir, model, opt, step, f"stage{cfg.stage}", {"metrics": metrics},
                            scheduler=sched, keep=o.keep_checkpoints)
        if out_of_time:
            log.log(step, "info", {"stopped": "max_minutes reached", "max_minutes": o.max_minutes})
            break
        if stop_at_step is not None and step >= stop_at_step:
            save_checkpoint(run_dir, model, opt, step, f"stage{cfg.stage}", {"metrics": metrics},
                            scheduler=sched, keep=o.keep_checkpoints)
            log.close()
            bar.close()
            batches.close()
            return {"step": step, "interrupted": True}
    batches.close()
    bar.close()
    model.save_pretrained(run_dir / "final")
    log.close()
    return {"step": step, **metrics}
