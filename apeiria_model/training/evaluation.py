"""Quick in-training grounding evaluation (greedy decoding on a fixed eval subset).

The full metrics (Acc@k, F1@k, depth buckets...) come from ``apeiria eval --reasoner
neural`` (``apeiria_model.evaluation``); this is the cheap signal logged while training.
"""

from __future__ import annotations

import time

import numpy as np

from apeiria_model.model.trace_format import read_output
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.trace import verify_trace
from apeiria_model.training.datasets import StageData, StageExample
from apeiria_model.training.rewards import RewardConfig, total_reward


def answer_correct(ex: StageExample, out) -> bool:
    if ex.answer is not None:
        return out.answer_value is not None and str(out.answer_value).strip().lower() == str(ex.answer).strip().lower()
    return out.answer_ids is not None and sorted(out.answer_ids) == sorted(ex.gt_ids)


def reward_of(ex: StageExample, out, scene, cfg: RewardConfig) -> float:
    """Stage-3 reward for one generation; QA answers (count / colour) are scored by
    exact match on the same 0..2.5 scale as the grounding reward."""
    s = out.structure
    if ex.answer is not None:
        from apeiria_model.training.rewards import format_reward
        g = (2.0 + cfg.id_bonus) if answer_correct(ex, out) else 0.0
        return g + (cfg.format_weight * format_reward(s, cfg) if cfg.use_format else 0.0)
    return total_reward(s, ex.gt_ids, scene, cfg).total


def grounding_eval(model, data: StageData, n: int = 64, reward_cfg: RewardConfig | None = None,
                   verify: bool = True) -> dict:
    cfg = reward_cfg or RewardConfig(require_thinking=model.config.thinking)
    exs = data.examples[:n]
    if not exs:
        return {}
    ex_ = Executor()
    correct, parsed_ok, verified, rewards, toks, lat = [], [], [], [], [], []
    for e in exs:
        scene = data.scenes[e.scene_id]
        t0 = time.perf_counter()
        p = model.processor.encode_prompt(e.instruction, scene)
        g = model.generate(p)
        lat.append((time.perf_counter() - t0) * 1000)
        out = read_output(g.texts[0], scene, len(g.token_ids[0]), g.finished[0])
        toks.append(len(g.token_ids[0]))
        correct.append(answer_correct(e, out))
        parsed_ok.append(out.parsed.has_answer and not out.parsed.errors)
        if verify and model.config.thinking:
            verified.append(verify_trace(out.parsed, scene, executor=ex_).all_ok)
        rewards.append(reward_of(e, out, scene, cfg))
    res = {"accuracy": float(np.mean(correct)), "parse_rate": float(np.mean(parsed_ok)),
           "reward": float(np.mean(rewards)), "gen_tokens": float(np.mean(toks)),
           "latency_ms_p50": float(np.median(lat)), "n": len(exs)}
    if verified:
        res["verified_share"] = float(np.mean(verified))
    return res
