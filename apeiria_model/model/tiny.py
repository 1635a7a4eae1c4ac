"""A seconds-to-build model for tests, smoke runs and examples (random weights)."""

from __future__ import annotations

from typing import Iterable

import torch

from apeiria_model.model.config import ApeiriaConfig, BackboneConfig
from apeiria_model.model.modeling import ApeiriaForGrounding
from apeiria_model.model.tokenizer import BPETokenizer

DEFAULT_TEXTS = (
    "find the red mug on the desk",
    "the chair closest to the window",
    "<think> plan: find all mug ; keep those on desk . exec: mug -> 1 2 ; on desk -> 1 </think>",
    "<answer> 1 </answer>",
    "<answer> none </answer>",
)


def tiny_config(**overrides) -> ApeiriaConfig:
    cfg = ApeiriaConfig(
        backbone=BackboneConfig(hidden_size=64, num_layers=2, num_heads=2, num_kv_heads=2, intermediate_size=128,
                                max_positions=512),
        feature_source="hash", fallback_features="hash", feature_dim=32, object_mlp_hidden=64, max_objects=64, max_new_tokens=24)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    return cfg.validate()


def build_tiny_model(texts: Iterable[str] = DEFAULT_TEXTS, seed: int = 0, vocab_size: int = 400,
                     **overrides) -> ApeiriaForGrounding:
    torch.manual_seed(seed)
    tok = BPETokenizer.train(list(texts) * 4, vocab_size=vocab_size, number_range=64)
    return ApeiriaForGrounding.build(tiny_config(**overrides), tok)
