"""Training configs (``config/train_stage{1,2,3}.yaml``, ``config/train_curriculum.yaml``).

Unknown keys are errors (a typo must not silently fall back to a default), relative
paths are resolved against the repository root (the folder holding ``config/``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from apeiria_model.training.grpo import GRPOSettings
from apeiria_model.training.rewards import RewardConfig

STAGES = (1, 2, 3)


class TrainConfigError(ValueError):
    """A training config file is unreadable or has a bad key / value."""


@dataclass
class OptimSettings:
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    max_steps: int = 1000
    max_minutes: float = 0.0          # > 0: stop (and save) when this wall-clock budget is spent
    grad_clip: float = 1.0
    mixed_precision: str = "no"       # "no" | "bf16" (accelerate autocast; CPU bf16 works here)
    eval_every: int = 200
    save_every: int = 200
    log_every: int = 10
    eval_samples: int = 64
    keep_checkpoints: int = 2
    data_workers: int = 0             # > 0: batches encoded by this many worker processes (GPU runs)
    threads: int = 0                  # torch intra-op threads; 0 = torch's default. On a shared CPU
                                      # 1 avoids OpenMP spin-waits (measured 2-5x faster here)


@dataclass
class DataSettings:
    data_dir: str = "data/apeiria"
    generate_if_missing: bool = True   # run the generator (H3) when data_dir is empty
    n_scenes: int = 300
    max_train_samples: int = 0         # 0 = all
    feature_noise_std: float = 0.05
    label_dropout: float = 0.05        # label word dropped from the text stand-in (0.15 before: see docs/model.md)
    deep_traces: bool = True           # stage 2 also learns traces of deeper gold programs (see docs/model.md)


@dataclass
class TrainConfig:
    stage: int = 2
    seed: int = 0
    run_dir: str = "runs/stage2"
    model_config: str = "config/model_small.yaml"
    init_from: str | None = None       # a model folder (previous stage's output); None = fresh
    add_pointer_head: bool = False     # init_from lacks the pointer head: add a fresh one (model/pointer.py)
    tokenizer_vocab: int = 2048        # fresh small model: BPE size trained on the data
    thinking: bool = True              # False: ablation "no thinking" (answer block only)
    optim: OptimSettings = field(default_factory=OptimSettings)
    data: DataSettings = field(default_factory=DataSettings)
    grpo: GRPOSettings = field(default_factory=GRPOSettings)
    reward: RewardConfig = field(default_factory=RewardConfig)
    prompts_per_step: int = 2          # GRPO: prompts (groups) per update

    def validate(self) -> "TrainConfig":
        if self.stage not in STAGES:
            raise TrainConfigError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.optim.batch_size <= 0 or self.optim.max_steps <= 0 or self.optim.lr <= 0:
            raise TrainConfigError("optim.batch_size, optim.max_steps and optim.lr must be > 0")
        if self.optim.data_workers < 0:
            raise TrainConfigError("optim.data_workers must be >= 0")
        if self.optim.mixed_precision not in ("no", "bf16"):
            raise TrainConfigError("optim.mixed_precision must be 'no' or 'bf16'")
        if self.prompts_per_step <= 0:
            raise TrainConfigError("prompts_per_step must be > 0")
        try:
            self.grpo.validate()
            self.reward.validate()
        except ValueError as e:
            raise TrainConfigError(str(e)) from e
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        if not isinstance(d, dict):
            raise TrainConfigError(f"training config must be a mapping, got {type(d).__name__}")
        d = dict(d)
        _check_keys(cls, d, "training config")
        subs = {"optim": OptimSettings, "data": DataSettings, "grpo": GRPOSettings, "reward": RewardConfig}
        kw = {}
        for name, klass in subs.items():
            sub = d.pop(name, None) or {}
            if not isinstance(sub, dict):
                raise TrainConfigError(f"{name} must be a mapping")
            _check_keys(klass, sub, name)
            kw[name] = klass(**sub)
        try:
            return cls(**d, **kw).validate()
        except TypeError as e:
            raise TrainConfigError(str(e)) from e


def _check_keys(klass, d: dict, where: str) -> None:
    unknown = sorted(set(d) - {f.name for f in fields(klass)})
    if unknown:
        raise TrainConfigError(f"unknown key(s) in {where}: {', '.join(unknown)}")


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def resolve(path: str | None, base: Path | None = None) -> Path | None:
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else (base or repo_root()) / p


def read_yaml(path: str | Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise TrainConfigError(f"cannot read {path}: {e}") from e
    if not isinstance(data, dict):
        raise TrainConfigError(f"{path} must hold a YAML mapping")
    return data


def load_train_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    data = read_yaml(path)
    for k, v in (overrides or {}).items():
        data[k] = v
    return TrainConfig.from_dict(data)


def load_model_config(path: str | Path):
    from apeiria_model.model.config import ApeiriaConfig, ConfigError

    try:
        return ApeiriaConfig.from_dict(read_yaml(path))
    except ConfigError as e:
        raise TrainConfigError(f"{path}: {e}") from e
