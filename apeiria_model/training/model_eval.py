"""Evaluate a checkpoint with the standard metrics plus the model-only numbers.

    python -m apeiria_model.training.model_eval --checkpoint apeiria_model/assets/model \
        --data data/apeiria --split test --limit 400 --out runs/eval_full.json

Runs ``apeiria_model.evaluation.evaluate`` (Acc@k, F1@k, depth / phrasing / target-kind
buckets: the same code as ``apeiria eval --reasoner neural``) on a reasoner that also
records, per query, the generated token count, decode time, whether the trace parsed
with no error and whether every step verified.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def _instrumented(base_cls):
    class Instrumented(base_cls):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.records: list[dict] = []

        def generate(self, instruction, scene, *args, **kwargs):
            t0 = time.perf_counter()
            out = super().generate(instruction, scene, *args, **kwargs)
            self.records.append({"tokens": self.last_generation_tokens, "gen_s": time.perf_counter() - t0,
                                 "parsed": bool(out.parsed.has_answer and not out.parsed.errors)})
            return out

        def result_from_output(self, instruction, scene, out):
            res = super().result_from_output(instruction, scene, out)
            if self.records:
                self.records[-1]["verified"] = bool(res.verified)
            return res

    return Instrumented


def evaluate_checkpoint(checkpoint: str | Path, data_dir: str | Path, split: str = "test", limit: int = 0,
                        thinking_override: bool | None = None, constrained: str | None = None) -> dict:
    from apeiria_model.data.schema import GroundingSample
    from apeiria_model.evaluation import evaluate
    from apeiria_model.reasoning.neural import NeuralReasoner
    from apeiria_model.training.datasets import load_scenes

    reasoner = _instrumented(NeuralReasoner)(checkpoint, constrained=constrained)
    if thinking_override is not None:
        reasoner.model.config.thinking = thinking_override
    scenes = load_scenes(data_dir, split)
    samples = []
    with open(Path(data_dir) / "grounding" / f"{split}.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                samples.append(GroundingSample.from_dict(json.loads(line)))
    if limit:
        # an even spread over the split (the file is ordered by scene)
        idx = np.linspace(0, len(samples) - 1, min(limit, len(samples))).round().astype(int)
        samples = [samples[i] for i in sorted(set(idx.tolist()))]
    reasoner.warm_up()
    report = evaluate(reasoner, samples, scenes, progress=False).to_dict()
    recs = reasoner.records[-len(samples):]  # the evaluator's warm-up calls come first
    toks = sum(r["tokens"] for r in recs)
    report["model"] = {
        "checkpoint": str(checkpoint),
        "constrained_decoding": reasoner.model.config.constrained_decoding if constrained is None else constrained,
        "n_generations": len(recs),
        "trace_parse_rate": float(np.mean([r["parsed"] for r in recs])) if recs else None,
        "fully_verified_share": float(np.mean([r.get("verified", False) for r in recs])) if recs else None,
        "gen_tokens_mean": toks / len(recs) if recs else None,
        "decode_tokens_per_s": toks / max(sum(r["gen_s"] for r in recs), 1e-9) if recs else None,
    }
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--constrained", choices=("config", "off", "format", "sets"), default="config",
                   help="constrained decoding level (model/trace_constraint.py); 'config': the checkpoint's")
    a = p.parse_args(argv)
    if a.threads:
        import torch
        torch.set_num_threads(a.threads)
    rep = evaluate_checkpoint(a.checkpoint, a.data, a.split, a.limit,
                              constrained=None if a.constrained == "config" else a.constrained)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(rep, indent=1))
    print(json.dumps({"accuracy": rep["accuracy"], **rep["model"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
