"""Run one curriculum stage, or stages 1 -> 2 -> 3 on the same weights.

``run_stage(cfg)``: seed, data, model (fresh or ``init_from``), the stage's loop,
``<run_dir>/final`` (the model) and ``<run_dir>/summary.json``.
``run_curriculum(path)``: each listed stage config in order, each starting from the
previous stage's ``final``; ``skip_stage2`` / ``skip_stage3`` are the paper's ablations.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from apeiria_model.model.config import BACKBONE_SMALL
from apeiria_model.model.modeling import ApeiriaForGrounding
from apeiria_model.model.tokenizer import BPETokenizer
from apeiria_model.training.checkpoint import seed_everything
from apeiria_model.training.config import (TrainConfig, TrainConfigError, load_model_config, load_train_config,
                                           read_yaml, resolve)
from apeiria_model.training.datasets import (StageData, direct_answer_examples, ensure_dataset, load_scenes,
                                             load_stage, traced_examples)
from apeiria_model.training.evaluation import grounding_eval

SUMMARY = "summary.json"


def _stage_data(cfg: TrainConfig, data_dir: Path, split: str, scenes) -> StageData:
    limit = cfg.data.max_train_samples if split == "train" else 0
    if cfg.stage == 1:
        return load_stage(data_dir, 1, split, scenes=scenes, limit=limit)
    if cfg.stage == 2:
        if not cfg.thinking:
            # direct answers: supervise the answer only, on the same records stage 2 + deep use
            base = load_stage(data_dir, 2, split, thinking=False, scenes=scenes, limit=limit)
            if cfg.data.deep_traces:
                deep = direct_answer_examples(load_stage(data_dir, 3, split, scenes=scenes, limit=limit))
                base = StageData(scenes, base.examples + deep.examples)
            return base
        base = load_stage(data_dir, 2, split, thinking=True, scenes=scenes, limit=limit)
        if cfg.data.deep_traces:
            deep = traced_examples(load_stage(data_dir, 3, split, scenes=scenes, limit=limit), thinking=True)
            base = StageData(scenes, base.examples + deep.examples)
        return base
    return load_stage(data_dir, 3, split, scenes=scenes, limit=limit)


def tokenizer_corpus(data_dir: Path, scenes) -> list[str]:
    """Every text the model reads or writes in the curriculum (train split)."""
    texts = []
    s1 = load_stage(data_dir, 1, "train", scenes=scenes)
    texts += [e.instruction for e in s1.examples] + [e.target or "" for e in s1.examples]
    s2 = load_stage(data_dir, 2, "train", scenes=scenes)
    texts += [e.instruction for e in s2.examples] + [e.target or "" for e in s2.examples]
    s3 = load_stage(data_dir, 3, "train", scenes=scenes)
    texts += [e.instruction for e in s3.examples]
    texts += [e.target or "" for e in traced_examples(s3).examples]
    texts += [e.target or "" for e in direct_answer_examples(s3).examples]
    for sc in scenes.values():
        texts += [o.describe() for o in sc.objects]
    return texts


def build_model(cfg: TrainConfig, data_dir: Path, scenes) -> ApeiriaForGrounding:
    if cfg.init_from:
        path = resolve(cfg.init_from)
        model = ApeiriaForGrounding.from_pretrained(path)
        if model.config.thinking != cfg.thinking:
            model.config.thinking = cfg.thinking
        if cfg.add_pointer_head:
            model.enable_pointer_head(load_model_config(resolve(cfg.model_config)).pointer_dim)
        model.train()
        return model
    mcfg = load_model_config(resolve(cfg.model_config))
    mcfg.thinking = cfg.thinking
    if mcfg.backbone.kind == BACKBONE_SMALL:
        tok = BPETokenizer.train(tokenizer_corpus(data_dir, scenes), vocab_size=cfg.tokenizer_vocab,
                                 number_range=max(256, mcfg.max_objects))
        model = ApeiriaForGrounding.build(mcfg, tok)
    else:
        model = ApeiriaForGrounding.build(mcfg)
    model.train()
    return model


def run_stage(cfg: TrainConfig, resume: bool = False, progress: bool | None = None) -> dict:
    cfg.validate()
    if cfg.optim.threads > 0:
        torch.set_num_threads(cfg.optim.threads)
    seed_everything(cfg.seed)
    torch.use_deterministic_algorithms(False)
    data_dir = ensure_dataset(resolve(cfg.data.data_dir), cfg.data.n_scenes, cfg.seed, cfg.data.generate_if_missing)
    run_dir = resolve(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    train_scenes = load_scenes(data_dir, "train")
    val_scenes = load_scenes(data_dir, "val")
    model = build_model(cfg, data_dir, train_scenes)
    # embed every object phrase once (cached beside the data) so no batch waits on MiniLM
    objs = [o for sc in list(train_scenes.values()) + list(val_scenes.values()) for o in sc.objects]
    model.processor.features.warm(objs, data_dir / f"phrases_{model.config.fallback_features}.npz")
    (run_dir / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2, default=str))
    train = _stage_data(cfg, data_dir, "train", train_scenes)
    val_ground = load_stage(data_dir, 0, "val", scenes=val_scenes)
    # a fixed, mixed eval subset: every depth and target kind appears early in the list
    val_ground.examples.sort(key=lambda e: (hash_key(e.sample_id), e.sample_id))

    def evaluator(m):
        if cfg.stage == 1:
            return {}
        return grounding_eval(m, val_ground, cfg.optim.eval_samples)

    t0 = time.time()
    if cfg.stage in (1, 2):
        from apeiria_model.training.sft import run_sft
        val = _stage_data(cfg, data_dir, "val", val_scenes)
        result = run_sft(model, train, val, cfg, run_dir, resume=resume, evaluator=evaluator, progress=progress)
    else:
        from apeiria_model.training.rl import run_grpo
        result = run_grpo(model, train, cfg, run_dir, resume=resume, evaluator=evaluator, progress=progress)
    summary = {"stage": cfg.stage, "result": result, "seconds": round(time.time() - t0, 1),
               "train_examples": len(train.examples), "params": model.num_parameters(),
               "trainable_params": model.num_parameters(trainable_only=True), "final": str(run_dir / "final"),
               "command": " ".join(sys.argv), "python": platform.python_version(), "torch": torch.__version__,
               "complete": True}
    (run_dir / SUMMARY).write_text(json.dumps(summary, indent=2, default=str))
    return summary


def hash_key(s: str) -> int:
    import zlib
    return zlib.crc32(s.encode("utf-8"))


def run_curriculum(path: str | Path, resume: bool = False, progress: bool | None = None,
                   overrides: dict | None = None) -> list[dict]:
    doc = read_yaml(path)
    known = {"run_dir", "stages", "skip_stage2", "skip_stage3", "init_from", "seed", "data_dir", "thinking",
             "reward"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise TrainConfigError(f"unknown key(s) in {path}: {', '.join(unknown)}")
    doc.update(overrides or {})
    root = Path(doc.get("run_dir", "runs/curriculum"))
    stages = doc.get("stages") or []
    if not isinstance(stages, list) or not stages:
        raise TrainConfigError(f"{path}: 'stages' must list stage config files")
    base = Path(path).resolve().parent.parent
    prev = doc.get("init_from")
    summaries = []
    for stage_path in stages:
        sp = resolve(stage_path, base)
        data = read_yaml(sp)
        cfg = TrainConfig.from_dict(data)
        if (cfg.stage == 2 and doc.get("skip_stage2")) or (cfg.stage == 3 and doc.get("skip_stage3")):
            summaries.append({"stage": cfg.stage, "skipped": True})
            continue
        cfg.run_dir = str(root / f"stage{cfg.stage}")
        cfg.init_from = prev if prev else (cfg.init_from if cfg.stage == 1 else None)
        for key in ("seed", "thinking"):
            if key in doc:
                setattr(cfg, key, doc[key])
        if "data_dir" in doc:
            cfg.data.data_dir = doc["data_dir"]
        if "reward" in doc and isinstance(doc["reward"], dict):
            for k, v in doc["reward"].items():
                if not hasattr(cfg.reward, k):
                    raise TrainConfigError(f"{path}: unknown reward key {k!r}")
                setattr(cfg.reward, k, v)
        cfg.validate()
        done = resolve(cfg.run_dir) / SUMMARY
        if resume and done.is_file() and json.loads(done.read_text()).get("complete"):
            summaries.append(json.loads(done.read_text()))
        else:
            summaries.append(run_stage(cfg, resume=resume, progress=progress))
        prev = str(resolve(cfg.run_dir) / "final")
    (resolve(str(root)) / SUMMARY).write_text(json.dumps(summaries, indent=2, default=str))
    return summaries


__all__ = ["run_stage", "run_curriculum", "build_model", "load_train_config", "asdict"]
