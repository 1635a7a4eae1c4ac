"""Hand-written GRPO for a model whose inputs include object embeddings.

trl's GRPOTrainer only feeds text/images, so this loop is explicit:

1. for each prompt sample a group of G completions (temperature ~1.2, KV cache);
2. score each completion with the reward function;
3. advantage A_i = (r_i - mean_group) / (std_group + 1e-4);
4. ``ppo_epochs`` passes of the clipped surrogate (clip-higher: 1-0.2 .. 1+0.28),
   token-level mean over all completion tokens, no KL term by default
   (KL to the frozen starting policy and entropy are still measured and logged).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from apeiria_model.model.processor import IGNORE_INDEX, EncodedPrompt, TrainExample


@dataclass
class GRPOSettings:
    group_size: int = 8
    temperature: float = 1.2
    top_k: int = 0
    max_new_tokens: int = 160
    clip_low: float = 0.2
    clip_high: float = 0.28
    kl_coef: float = 0.0
    ppo_epochs: int = 2
    adv_eps: float = 1e-4

    def validate(self) -> "GRPOSettings":
        if self.group_size < 2:
            raise ValueError("grpo.group_size must be >= 2 (advantages are relative within a group)")
        if self.temperature <= 0 or self.clip_low <= 0 or self.clip_high <= 0 or self.ppo_epochs < 1:
            raise ValueError("grpo temperature, clip_low, clip_high must be > 0 and ppo_epochs >= 1")
        return self


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """[P, G] rewards -> [P, G] advantages normalised within each group (population std)."""
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, unbiased=False, keepdim=True)
    return (rewards - mean) / (std + eps)


def clipped_surrogate(logp_new: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor,
                      clip_low: float = 0.2, clip_high: float = 0.28) -> tuple[torch.Tensor, dict]:
    """PPO/GRPO token loss. ``logp_*``/``mask`` [B, T]; ``adv`` [B]. Returns (loss, stats)."""
    ratio = torch.exp(logp_new - logp_old)
    a = adv[:, None]
    unclipped = ratio * a
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * a
    per_tok = -torch.minimum(unclipped, clipped)
    m = mask.float()
    n = m.sum().clamp_min(1.0)
    loss = (per_tok * m).sum() / n
    with torch.no_grad():
        was_clipped = ((ratio < 1.0 - clip_low) & (a < 0)) | ((ratio > 1.0 + clip_high) & (a > 0))
        clip_frac = float((was_clipped.float() * m).sum() / n)
    return loss, {"clip_frac": clip_frac}


def completion_batch(model, prompt: EncodedPrompt, completions: Sequence[Sequence[int]], finished: Sequence[bool]):
    """Prompt + each completion (+ <eos> when it finished) as one padded batch whose
    labels mark exactly the completion tokens."""
    exs = []
    eos = model.tokenizer.eos_id
    for ids, fin in zip(completions, finished):
        target = list(ids) + ([eos] if fin else [])
        exs.append(TrainExample(prompt.input_ids + target, prompt.object_positions, prompt.features, prompt.boxes,
                                prompt.object_ids, prompt.slot_tokens, labels=[IGNORE_INDEX] * len(prompt.input_ids) + target))
    return model.processor.collate(exs)


def token_logprobs(model, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logp [B, T-1] of each label token, mask [B, T-1], entropy [B, T-1])."""
    dev = model.device if hasattr(model, "device") else torch.device("cpu")
    batch = {k: v.to(dev) for k, v in batch.items()}
    _, logits = model(batch["input_ids"], batch["attention_mask"], batch["object_features"],
                      batch["object_boxes"], batch["object_positions"], object_tokens=batch.get("object_tokens"))
    logits = logits[:, :-1].float()
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE_INDEX
    logp_all = torch.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    ent = -(logp_all.exp() * logp_all).sum(-1)
    return logp, mask, ent


RewardFn = Callable[[str, object, bool, list], float]  # (text, sample, finished, token_ids) -> reward


class GRPOTrainer:
    """One GRPO update per call to :meth:`step` over a list of (prompt, sample) pairs."""

    def __init__(self, model, optimizer, settings: GRPOSettings, reward_fn: RewardFn,
                 generator: torch.Generator | None = None, accelerator=None, max_grad_norm: float = 1.0):
        self.model = model
        self.opt = optimizer
        self.s = settings.validate()
        self.reward_fn = reward_fn
        self.gen = generator
        self.acc = accelerator
        self.max_grad_norm = max_grad_norm
        # frozen copy of the starting policy, for the logged KL (and the optional KL term)
        self.ref = copy.deepcopy(model).eval()
        for p in self.ref.parameters():
            p.requires_grad_(False)

    def rollout(self, prompt: EncodedPrompt, sample) -> dict:
        g = self.model.generate(prompt, max_new_tokens=self.s.max_new_tokens, temperature=self.s.temperature,
                                num_samples=self.s.group_size, top_k=self.s.top_k, generator=self.gen)
        rewards = [float(self.reward_fn(t, sample, f, ids)) for t, f, ids in zip(g.texts, g.finished, g.token_ids)]
        return {"prompt": prompt, "gen": g, "rewards": torch.tensor(rewards)}

    def step(self, items: Sequence[tuple[EncodedPrompt, object]]) -> dict:
        rolls = [self.rollout(p, s) for p, s in items]
        rewards = torch.stack([r["rewards"] for r in rolls])            # [P, G]
        adv = group_advantages(rewards, self.s.adv_eps)
        batches, olds, refs = [], [], []
        for r in rolls:
            b = completion_batch(self.model, r["prompt"], r["gen"].token_ids, r["gen"].finished)
            with torch.no_grad():
                lp_old, _, _ = token_logprobs(self.model, b)
                lp_ref, _, _ = token_logprobs(self.ref, b)  # constant over the epochs: once
            batches.append(b)
            olds.append(lp_old)
            refs.append(lp_ref)
        self.model.train()
        stats = {"loss": 0.0, "clip_frac": 0.0, "kl": 0.0, "entropy": 0.0}
        n_updates = 0
        for _ in range(self.s.ppo_epochs):
            self.opt.zero_grad(set_to_none=True)
            for i, b in enumerate(batches):
                lp, mask, ent = token_logprobs(self.model, b)
                loss, st = clipped_surrogate(lp, olds[i], adv[i], mask, self.s.clip_low, self.s.clip_high)
                d = refs[i] - lp
                kl_tok = torch.exp(d) - d - 1.0  # k3 estimator, >= 0
                m = mask.float()
                kl = (kl_tok * m).sum() / m.sum().clamp_min(1.0)
                if self.s.kl_coef > 0:
                    loss = loss + self.s.kl_coef * kl
                loss = loss / len(batches)
                if self.acc is not None:
                    self.acc.backward(loss)
                else:
                    loss.backward()
                stats["loss"] += float(loss.detach())
                stats["clip_frac"] += st["clip_frac"] / len(batches)
                stats["kl"] += float(kl.detach()) / len(batches)
                stats["entropy"] += float((ent.detach() * m).sum() / m.sum().clamp_min(1.0)) / len(batches)
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.max_grad_norm)
            self.opt.step()
            n_updates += 1
        out = {k: v / n_updates for k, v in stats.items()}
        lens = [len(ids) for r in rolls for ids in r["gen"].token_ids]
        out.update(reward_mean=float(rewards.mean()), reward_std=float(rewards.std(unbiased=False)),
                   reward_max=float(rewards.max()), completion_len=sum(lens) / max(1, len(lens)))
        return out
