"""Stage 3: GRPO on instruction/answer pairs (no trace supervision)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from apeiria_model.model.trace_format import read_output
from apeiria_model.training.checkpoint import latest_checkpoint, load_trainer_state, save_checkpoint
from apeiria_model.training.config import TrainConfig
from apeiria_model.training.datasets import StageData
from apeiria_model.training.evaluation import reward_of
from apeiria_model.training.grpo import GRPOTrainer
from apeiria_model.training.logging import RunLogger
from apeiria_model.training.loop_utils import (Progress, batch_indices, make_accelerator, make_optimizer,
                                               make_scheduler, sample_rng)


def run_grpo(model, train: StageData, cfg: TrainConfig, run_dir: str | Path, resume: bool = False,
             evaluator=None, progress: bool | None = None) -> dict:
    run_dir = Path(run_dir)
    o = cfg.optim
    if not train.examples:
        raise ValueError("stage 3: no training examples")
    cfg.reward.require_thinking = model.config.thinking
    if not model.config.thinking:  # a direct answer is a handful of tokens, not degenerate
        cfg.reward.min_tokens = min(cfg.reward.min_tokens, 2)
    cfg.grpo.max_new_tokens = min(cfg.grpo.max_new_tokens, model.config.max_new_tokens)
    acc = make_accelerator("no")  # sampling and ratios in fp32: bf16 noise would bias the ratios
    opt = make_optimizer(model, o.lr, o.weight_decay)
    sched = make_scheduler(opt, o.warmup_steps, o.max_steps)
    model, opt = acc.prepare(model, opt)

    def reward_fn(text, sample, finished, ids):
        ex, scene = sample
        out = read_output(text, scene, len(ids), finished)
        return reward_of(ex, out, scene, cfg.reward)

    gen = torch.Generator().manual_seed(cfg.seed)
    # the reference policy (for the logged KL) is the stage's starting point, also on resume
    trainer = GRPOTrainer(model, opt, cfg.grpo, reward_fn, generator=gen, accelerator=acc, max_grad_norm=o.grad_clip)
    step = 0
    if resume and (ck := latest_checkpoint(run_dir)) is not None:
        from safetensors.torch import load_file
        model.load_state_dict(load_file(str(ck / "model" / "model.safetensors")), strict=False)
        step = int(load_trainer_state(ck, opt, sched, generators={"sampling": gen})["step"])
    log = RunLogger(run_dir, f"stage{cfg.stage}")
    bar = Progress(o.max_steps, step, "stage 3 (GRPO)", progress)
    t0 = time.monotonic()
    metrics: dict = {}
    while step < o.max_steps:
        idx = batch_indices(step, cfg.prompts_per_step, len(train.examples), cfg.seed)
        items = []
        for j, i in enumerate(idx):
            ex = train.examples[i]
            scene = train.scenes[ex.scene_id]
            prompt = model.processor.encode_prompt(ex.instruction, scene, noise_std=cfg.data.feature_noise_std,
                                                   label_dropout=cfg.data.label_dropout,
                                                   rng=sample_rng(cfg.seed, step, j))
            items.append((prompt, (ex, scene)))
        st = trainer.step(items)
        sched.step()
        step += 1
        bar.update(1, reward=st["reward_mean"], kl=st["kl"])
        if step % o.log_every == 0 or step == o.max_steps:
            log.log(step, "train", {**st, "lr": sched.get_last_lr()[0]})
        out_of_time = o.max_minutes > 0 and (time.monotonic() - t0) / 60.0 >= o.max_minutes
        if evaluator is not None and (step % o.eval_every == 0 or step == o.max_steps or out_of_time):
            metrics = evaluator(model)
            log.log(step, "eval", metrics)
        if step % o.save_every == 0 or step == o.max_steps or out_of_time:
            save_checkpoint(run_dir, model, opt, step, "stage3", {"metrics": metrics}, scheduler=sched,
                            keep=o.keep_checkpoints, generators={"sampling": gen})
        if out_of_time:
            log.log(step, "info", {"stopped": "max_minutes reached", "max_minutes": o.max_minutes})
            break
    bar.close()
    model.save_pretrained(run_dir / "final")
    log.close()
    return {"step": step, **metrics}
