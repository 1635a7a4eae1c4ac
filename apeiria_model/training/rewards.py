"""GRPO rewards: soft grounding (or IoU, for the ablation) + format.

Grounding (the paper's soft reward, reference-code form), per matched target::

    exp(-2 ||c_pred - c_gt||_2) + exp(-2 * mean_i |s_pred,i - s_gt,i| / max(s_gt,i, 0.01))

so an exact box scores 2.0 and a far-off one tends to 0 smoothly (dense signal even
when boxes do not overlap, unlike IoU). Predictions are Hungarian-matched to the gold
targets on that score; the matched sum is divided by the number of gold targets.
On top: ``id_bonus`` x share of gold IDs named exactly, minus ``extra_penalty`` x share
of predictions that are unmatched or not in the scene. A zero-target query earns
``zero_target_reward`` for answering "nothing matches" and the extra penalty otherwise.

Format: points for each required block present (thinking, plan, execution, answer),
for their order and for an answer consistent with itself (IDs xor "nothing"); a
penalty when the plan is missing and when the generation is degenerately short or
runs to the length limit (so the model cannot skip the reasoning).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from apeiria_model.model.trace_format import OutputStructure  # noqa: F401 - what format_reward scores
from apeiria_model.scene.geometry import box_iou
from apeiria_model.scene.model import Scene

REWARD_SOFT = "soft"
REWARD_IOU = "iou"


@dataclass
class RewardConfig:
    kind: str = REWARD_SOFT        # "soft" | "iou" (ablation: 2 x IoU, same 0..2 range)
    alpha: float = 2.0
    id_bonus: float = 0.5
    extra_penalty: float = 0.5
    zero_target_reward: float = 2.0
    use_format: bool = True        # False = ablation "no format reward"
    format_weight: float = 1.0
    require_thinking: bool = True  # False when the model is trained to answer directly
    min_tokens: int = 8
    max_tokens: int = 180

    def validate(self) -> "RewardConfig":
        if self.kind not in (REWARD_SOFT, REWARD_IOU):
            raise ValueError(f"reward kind must be 'soft' or 'iou', got {self.kind!r}")
        if self.alpha <= 0 or self.min_tokens < 0 or self.max_tokens <= self.min_tokens:
            raise ValueError("reward alpha must be > 0 and 0 <= min_tokens < max_tokens")
        return self


def soft_box_score(c_pred, s_pred, c_gt, s_gt, alpha: float = 2.0) -> float:
    """exp(-a ||dc||) + exp(-a mean |ds| / max(s_gt, 0.01)); 2.0 for an exact box."""
    cp, sp = np.asarray(c_pred, float), np.asarray(s_pred, float)
    cg, sg = np.asarray(c_gt, float), np.asarray(s_gt, float)
    centre = math.exp(-alpha * float(np.linalg.norm(cp - cg)))
    rel = np.abs(sp - sg) / np.maximum(np.abs(sg), 0.01)
    size = math.exp(-alpha * float(np.mean(rel)))
    return centre + size


def box_score(c_pred, s_pred, c_gt, s_gt, cfg: RewardConfig) -> float:
    if cfg.kind == REWARD_IOU:
        return 2.0 * box_iou(c_pred, s_pred, c_gt, s_gt)
    return soft_box_score(c_pred, s_pred, c_gt, s_gt, cfg.alpha)


@dataclass
class GroundingBreakdown:
    reward: float
    matched_score: float = 0.0
    correct_ids: int = 0
    extras: int = 0
    invalid_ids: list[int] = field(default_factory=list)


def grounding_reward(pred_ids: Sequence[int] | None, gt_ids: Sequence[int], scene: Scene,
                     cfg: RewardConfig | None = None) -> GroundingBreakdown:
    """Reward for predicting ``pred_ids`` (None = no parseable answer) when ``gt_ids`` is right."""
    cfg = cfg or RewardConfig()
    if pred_ids is None:
        return GroundingBreakdown(0.0)
    pred = list(dict.fromkeys(int(i) for i in pred_ids))  # de-duplicate, keep order
    invalid = [i for i in pred if not scene.has(i)]
    pred = [i for i in pred if scene.has(i)]
    gt = [int(i) for i in gt_ids if scene.has(int(i))]
    n_pred_all = len(pred) + len(invalid)
    if not gt:
        if n_pred_all == 0:
            return GroundingBreakdown(cfg.zero_target_reward)
        return GroundingBreakdown(-cfg.extra_penalty, extras=n_pred_all, invalid_ids=invalid)
    if not pred:
        pen = cfg.extra_penalty if invalid else 0.0
        return GroundingBreakdown(-pen, extras=len(invalid), invalid_ids=invalid)
    score = np.zeros((len(pred), len(gt)))
    for a, pid in enumerate(pred):
        po = scene.get(pid)
        for b, gid in enumerate(gt):
            go = scene.get(gid)
            score[a, b] = box_score(po.center, po.size, go.center, go.size, cfg)
    rows, cols = linear_sum_assignment(-score)
    matched = float(score[rows, cols].sum())
    correct = sum(1 for r, c in zip(rows, cols) if pred[r] == gt[c])
    extras = (len(pred) - len(rows)) + len(invalid)
    reward = matched / len(gt) + cfg.id_bonus * correct / len(gt) - cfg.extra_penalty * extras / n_pred_all
    return GroundingBreakdown(reward, matched / len(gt), correct, extras, invalid)


def format_reward(s: OutputStructure, cfg: RewardConfig | None = None) -> float:
    """In [-1, 1]: +0.15 per required block, +0.2 order, +0.2 consistent answer (with
    thinking: 4 blocks; direct-answer mode: the answer block alone earns 0.6), -0.5
    missing plan (thinking mode), -0.5 degenerate length or unfinished generation."""
    cfg = cfg or RewardConfig()
    r = 0.0
    if cfg.require_thinking:
        r += 0.15 * sum([s.has_thinking, s.has_plan, s.has_execution, s.has_answer])
        r += 0.2 if s.in_order else 0.0
        if not s.has_plan:
            r -= 0.5
    else:
        r += 0.6 if s.has_answer else 0.0
        r += 0.2 if s.has_answer and not s.has_thinking else 0.0
    consistent = s.has_answer and s.answer_ids is not None and (bool(s.answer_ids) != s.answer_says_none)
    r += 0.2 if consistent else 0.0
    if s.n_tokens < cfg.min_tokens or s.n_tokens > cfg.max_tokens or not s.finished:
        r -= 0.5
    return r


@dataclass
class RewardBreakdown:
    total: float
    grounding: float
    format: float
    details: GroundingBreakdown


def total_reward(s: OutputStructure, gt_ids: Sequence[int], scene: Scene, cfg: RewardConfig | None = None) -> RewardBreakdown:
    cfg = cfg or RewardConfig()
    g = grounding_reward(s.answer_ids, gt_ids, scene, cfg)
    f = format_reward(s, cfg) if cfg.use_format else 0.0
    return RewardBreakdown(g.reward + cfg.format_weight * f, g.reward, f, g)
