"""Rewards on hand-computed cases (soft grounding, IoU ablation, zero targets, format)."""

from __future__ import annotations

import math

import pytest

from apeiria_model.scene import Scene, SceneObject
from apeiria_model.training.rewards import (OutputStructure, RewardConfig, format_reward, grounding_reward,
                                            soft_box_score, total_reward)


def _scene():
    return Scene("r", (
        SceneObject(0, "chair", (0.0, 0.0, 0.5), (1.0, 1.0, 1.0)),
        SceneObject(1, "chair", (3.0, 0.0, 0.5), (1.0, 1.0, 1.0)),
        SceneObject(2, "table", (0.5, 0.0, 0.5), (2.0, 1.0, 1.0)),
        SceneObject(3, "lamp", (0.0, 4.0, 0.5), (1.0, 1.0, 1.0)),
    ))


def test_exact_box_scores_two():
    assert soft_box_score((1, 2, 3), (0.5, 0.5, 0.5), (1, 2, 3), (0.5, 0.5, 0.5)) == pytest.approx(2.0)


def test_known_centre_and_size_offsets():
    # centre 1 m off, same size: exp(-2) + 1
    assert soft_box_score((1, 0, 0), (1, 1, 1), (0, 0, 0), (1, 1, 1)) == pytest.approx(math.exp(-2) + 1.0)
    # same centre, sizes (2,1,1) vs gt (1,1,1): mean rel error 1/3 -> 1 + exp(-2/3)
    assert soft_box_score((0, 0, 0), (2, 1, 1), (0, 0, 0), (1, 1, 1)) == pytest.approx(1.0 + math.exp(-2 / 3))
    # tiny gt size is floored at 0.01 (no division blow-up)
    v = soft_box_score((0, 0, 0), (0.02, 0.001, 0.001), (0, 0, 0), (0.001, 0.001, 0.001))
    assert v == pytest.approx(1.0 + math.exp(-2 * (0.019 / 0.01) / 3))


def test_single_target_correct_and_wrong():
    s, cfg = _scene(), RewardConfig()
    right = grounding_reward([0], [0], s, cfg)
    assert right.reward == pytest.approx(2.0 + cfg.id_bonus)
    assert right.correct_ids == 1
    wrong = grounding_reward([1], [0], s, cfg)  # 3 m away, same size
    assert wrong.reward == pytest.approx(math.exp(-6) + 1.0)
    near = grounding_reward([2], [0], s, cfg)   # 0.5 m off, twice as wide
    assert near.reward == pytest.approx(math.exp(-1.0) + math.exp(-2 / 3))
    assert max(wrong.reward, near.reward) < right.reward


def test_multi_target_hungarian_and_extras():
    s, cfg = _scene(), RewardConfig()
    both = grounding_reward([1, 0], [0, 1], s, cfg)  # order must not matter
    assert both.reward == pytest.approx(2.0 + cfg.id_bonus)
    half = grounding_reward([0], [0, 1], s, cfg)
    assert half.reward == pytest.approx((2.0 + cfg.id_bonus) / 2)
    extra = grounding_reward([0, 3], [0], s, cfg)
    assert extra.extras == 1
    assert extra.reward == pytest.approx(2.0 + cfg.id_bonus - cfg.extra_penalty * 1 / 2)
    invalid = grounding_reward([0, 99], [0], s, cfg)  # id not in the scene
    assert invalid.invalid_ids == [99] and invalid.reward < right_reward(s, cfg)


def right_reward(s, cfg):
    return grounding_reward([0], [0], s, cfg).reward


def test_zero_target_rules():
    s, cfg = _scene(), RewardConfig()
    assert grounding_reward([], [], s, cfg).reward == pytest.approx(cfg.zero_target_reward)
    assert grounding_reward([0], [], s, cfg).reward == pytest.approx(-cfg.extra_penalty)
    assert grounding_reward([], [0], s, cfg).reward == 0.0
    assert grounding_reward(None, [0], s, cfg).reward == 0.0   # unparseable answer
    assert grounding_reward(None, [], s, cfg).reward == 0.0    # "nothing" must be said, not implied


def test_iou_ablation_is_sparse():
    s = _scene()
    cfg = RewardConfig(kind="iou")
    assert grounding_reward([0], [0], s, cfg).reward == pytest.approx(2.0 + cfg.id_bonus)
    assert grounding_reward([1], [0], s, cfg).reward == pytest.approx(0.0)  # no overlap: no signal
    assert grounding_reward([1], [0], s, RewardConfig()).reward > 0.5      # soft still informs


def _good(**kw):
    base = dict(has_thinking=True, has_plan=True, has_execution=True, has_answer=True, in_order=True,
                answer_ids=[3], answer_says_none=False, n_tokens=40, finished=True)
    base.update(kw)
    return OutputStructure(**base)


def test_format_reward_cases():
    cfg = RewardConfig()
    assert format_reward(_good(), cfg) == pytest.approx(1.0)
    assert format_reward(_good(has_plan=False), cfg) == pytest.approx(1.0 - 0.15 - 0.5)
    assert format_reward(_good(in_order=False), cfg) == pytest.approx(0.8)
    assert format_reward(_good(n_tokens=2), cfg) == pytest.approx(0.5)      # degenerate length
    assert format_reward(_good(n_tokens=500), cfg) == pytest.approx(0.5)
    assert format_reward(_good(finished=False), cfg) == pytest.approx(0.5)  # ran into the limit
    # answer says both "nothing" and lists IDs: inconsistent
    assert format_reward(_good(answer_says_none=True), cfg) == pytest.approx(0.8)
    assert format_reward(_good(answer_ids=[], answer_says_none=True), cfg) == pytest.approx(1.0)
    assert format_reward(OutputStructure(n_tokens=40), cfg) == pytest.approx(-0.5)


def test_format_direct_answer_mode():
    cfg = RewardConfig(require_thinking=False, min_tokens=1)
    direct = OutputStructure(has_answer=True, answer_ids=[1], n_tokens=5)
    assert format_reward(direct, cfg) == pytest.approx(1.0)
    assert format_reward(_good(), cfg) == pytest.approx(0.8)


def test_total_and_no_format_ablation():
    s = _scene()
    t = total_reward(_good(answer_ids=[0]), [0], s, RewardConfig())
    assert t.total == pytest.approx(t.grounding + t.format) and t.format == pytest.approx(1.0)
    t2 = total_reward(_good(answer_ids=[0]), [0], s, RewardConfig(use_format=False))
    assert t2.total == pytest.approx(t2.grounding) and t2.format == 0.0


def test_bad_config_rejected():
    with pytest.raises(ValueError, match="soft"):
        RewardConfig(kind="dice").validate()
