"""ApeiriaConfig: everything needed to rebuild an APEIRIA grounding model.

Stored as ``config.json`` next to the weights. Nested dataclasses keep the YAML
configs readable (``backbone:``, ``lora:`` sections); unknown keys are an error so a
typo in a config file is caught instead of silently ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

BACKBONE_SMALL = "small"          # Llama-style decoder built from a config: no download
BACKBONE_PRETRAINED = "pretrained"  # a local path to a causal LM (HF folder or .gguf file)
BACKBONE_KINDS = (BACKBONE_SMALL, BACKBONE_PRETRAINED)

FEATURE_AUTO = "auto"    # the scene's own per-object features when present, else text
FEATURE_SCENE = "scene"  # perception features only (SceneObject.features)
FEATURE_TEXT = "text"    # stand-in: sentence embedding of label + colour + attributes
FEATURE_HASH = "hash"    # dependency-free stand-in: hashed bag of words (tests, no model)
FEATURE_SOURCES = (FEATURE_AUTO, FEATURE_SCENE, FEATURE_TEXT, FEATURE_HASH)

CONSTRAINT_MODES = ("off", "format", "sets")  # model/trace_constraint.py levels, or none

BOX_FOURIER = "fourier"
BOX_LINEAR = "linear"
BOX_ENCODINGS = (BOX_FOURIER, BOX_LINEAR)


class ConfigError(ValueError):
    """A model or training config has a missing, unknown or out-of-range key."""


# Upper bounds checked before any allocation: a config.json asking for hidden_size
# 200000 is refused in words instead of trying to allocate 160 GB.
BACKBONE_LIMITS = {"hidden_size": 16384, "num_layers": 256, "num_heads": 256, "num_kv_heads": 256,
                   "intermediate_size": 65536, "max_positions": 131072}
TOP_LIMITS = {"feature_dim": 65536, "box_bands": 64, "object_mlp_hidden": 65536, "pointer_dim": 16384,
              "vocab_size": 1_048_576, "max_new_tokens": 65536, "box_scale": 1e6}


def _check_types(klass, d: dict, prefix: str) -> None:
    """Each value has its field's type (int, float, bool, str, list): a one-line error
    naming the key otherwise, never a TypeError from deep inside."""
    names = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
             "list": "a list"}
    for f in fields(klass):
        if f.name not in d or d[f.name] is None:
            continue
        v = d[f.name]
        default = f.default if f.default is not MISSING else (f.default_factory() if f.default_factory is not MISSING
                                                                else None)
        if default is None or is_dataclass(default):
            continue
        kind = type(default).__name__
        ok = {"bool": isinstance(v, bool),
              "int": isinstance(v, int) and not isinstance(v, bool),
              "float": isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
              "str": isinstance(v, str),
              "list": isinstance(v, list)}.get(kind, True)
        if not ok:
            raise ConfigError(f"{prefix}{f.name} must be {names.get(kind, kind)}, got {type(v).__name__}")


@dataclass
class BackboneConfig:
    kind: str = BACKBONE_SMALL
    # small decoder
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 1024
    # pretrained
    path: str | None = None          # folder with config.json / weights, or a .gguf file
    gguf_file: str | None = None     # file name inside ``path`` when loading GGUF
    torch_dtype: str = "float32"

    def validate(self) -> None:
        if self.kind not in BACKBONE_KINDS:
            raise ConfigError(f"backbone.kind must be one of {BACKBONE_KINDS}, got {self.kind!r}")
        if self.kind == BACKBONE_PRETRAINED and not self.path:
            raise ConfigError("backbone.path is required when backbone.kind is 'pretrained'")
        for name in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "intermediate_size", "max_positions"):
            if int(getattr(self, name)) <= 0:
                raise ConfigError(f"backbone.{name} must be > 0")
            if int(getattr(self, name)) > BACKBONE_LIMITS[name]:  # before anything is allocated
                raise ConfigError(f"backbone.{name} must be at most {BACKBONE_LIMITS[name]}, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ConfigError("backbone.hidden_size must be divisible by backbone.num_heads")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError("backbone.num_heads must be divisible by backbone.num_kv_heads")


@dataclass
class LoRASettings:
    enabled: bool = False
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])

    def validate(self) -> None:
        if self.r <= 0:
            raise ConfigError("lora.r must be > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("lora.dropout must be in [0, 1)")
        if not self.target_modules:
            raise ConfigError("lora.target_modules must not be empty")


@dataclass
class ApeiriaConfig:
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    lora: LoRASettings = field(default_factory=LoRASettings)
    # object tokens
    feature_source: str = FEATURE_AUTO
    feature_dim: int = 384             # all-MiniLM-L6-v2 width; perception features must match
    fallback_features: str = FEATURE_TEXT  # 'auto' mode, objects without features: text | hash
    box_encoding: str = BOX_FOURIER
    box_bands: int = 6                 # Fourier frequencies 2^0..2^(bands-1) per box scalar
    box_scale: float = 8.0             # metres mapped to one period of the lowest band
    object_mlp_hidden: int = 256
    max_objects: int = 256             # real scans hold up to 132; IDs 0..255 are one token each
    # pointer/copy head for object IDs (model/pointer.py); False = plain LM head (older checkpoints)
    pointer_head: bool = False
    pointer_dim: int = 128
    # text side
    vocab_size: int = 2048             # small backbone: the trained tokenizer's size
    trace_style: str = "compact"
    thinking: bool = True              # False = ablation "no thinking": answer block only
    max_new_tokens: int = 192
    # decoding only (model/trace_constraint.py): "format" keeps compact traces well formed
    # (DSL grammar, step references, scene IDs), "sets" also forces set-consistent steps and
    # an answer that restates the last step, "off" decodes freely. Training never uses it.
    constrained_decoding: str = "format"

    def validate(self) -> "ApeiriaConfig":
        self.backbone.validate()
        self.lora.validate()
        if self.feature_source not in FEATURE_SOURCES:
            raise ConfigError(f"feature_source must be one of {FEATURE_SOURCES}, got {self.feature_source!r}")
        if self.fallback_features not in (FEATURE_TEXT, FEATURE_HASH):
            raise ConfigError(f"fallback_features must be 'text' or 'hash', got {self.fallback_features!r}")
        if self.box_encoding not in BOX_ENCODINGS:
            raise ConfigError(f"box_encoding must be one of {BOX_ENCODINGS}, got {self.box_encoding!r}")
        if self.feature_dim <= 0 or self.box_bands <= 0 or self.box_scale <= 0:
            raise ConfigError("feature_dim, box_bands and box_scale must be > 0")
        if not 1 <= self.max_objects <= 4096:
            raise ConfigError("max_objects must be in [1, 4096]")
        if self.trace_style not in ("compact", "full"):
            raise ConfigError("trace_style must be 'compact' or 'full'")
        if self.max_new_tokens <= 0:
            raise ConfigError("max_new_tokens must be > 0")
        if not isinstance(self.pointer_head, bool):
            raise ConfigError(f"pointer_head must be true or false, got {self.pointer_head!r}")
        if self.constrained_decoding not in CONSTRAINT_MODES:
            raise ConfigError(f"constrained_decoding must be one of {CONSTRAINT_MODES}, "
                              f"got {self.constrained_decoding!r}")
        if self.pointer_dim <= 0:
            raise ConfigError("pointer_dim must be > 0")
        for name, limit in TOP_LIMITS.items():
            if getattr(self, name) > limit:
                raise ConfigError(f"{name} must be at most {limit}, got {getattr(self, name)}")
        return self

    # --- (de)serialisation ------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ApeiriaConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"model config must be a mapping, got {type(d).__name__}")
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown model config key(s): {', '.join(unknown)}")
        _check_types(cls, d, "")
        backbone = _sub(BackboneConfig, d.pop("backbone", {}) or {}, "backbone")
        lora = _sub(LoRASettings, d.pop("lora", {}) or {}, "lora")
        return cls(backbone=backbone, lora=lora, **d).validate()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "ApeiriaConfig":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read model config {path}: {e}") from e
        return cls.from_dict(data)


def _sub(klass, d: Any, name: str):
    if not isinstance(d, dict):
        raise ConfigError(f"{name} must be a mapping, got {type(d).__name__}")
    known = {f.name for f in fields(klass)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"unknown {name} key(s): {', '.join(unknown)}")
    _check_types(klass, d, f"{name}.")
    return klass(**d)
