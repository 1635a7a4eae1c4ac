"""Where a neural model's traces go wrong: the plan, or the object IDs the steps list.

    python -m apeiria_model.training.trace_diagnosis --checkpoint apeiria_model/assets/model \
        --data data/apeiria --split test --limit 60 --out runs/diag.json

For each query (an even spread over the split, as ``model_eval`` picks them):

* the plan, substituted into one program (``plan_program``), is compared with the gold
  program: ``plan_exact``, ``plan_same_ops_wrong_args`` (same operators in the same
  nesting, some concept / relation / argument differs; ``concepts_differ`` counts those
  whose filter concepts differ), ``plan_wrong_structure``, ``plan_unreadable``;
* every step the model wrote is re-executed from the inputs it states (``verify_trace``),
  and the verdicts are counted per operator: ``steps[op] = {"ok": n, "bad": m}`` -- a
  wrong ID set under a right plan shows up here.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path


def _ops(program) -> list[str]:
    from apeiria_model.programs import ast

    return [type(n).__name__ for n in ast.walk(program)]


def diagnose_outputs(items) -> dict:
    """``items``: (ModelOutput, gold program text or None, gold ids, gold answer value, Scene)."""
    from apeiria_model.programs import ast, parse_program
    from apeiria_model.programs.trace import verify_trace
    from apeiria_model.reasoning.neural import plan_program

    c: Counter = Counter()
    steps: dict[str, Counter] = defaultdict(Counter)
    for out, gold_text, gold_ids, gold_value, scene in items:
        c["n"] += 1
        right = (out.answer_value == gold_value) if gold_value is not None else \
            (out.answer_ids is not None and sorted(out.answer_ids) == sorted(gold_ids))
        c["answer_right"] += bool(right)
        for st, chk in zip(out.parsed.steps, verify_trace(out.parsed, scene).steps):
            steps[st.op or "unreadable"]["ok" if chk.ok else "bad"] += 1
        plan = plan_program(out.parsed)
        if plan is None:
            c["plan_unreadable"] += 1
            continue
        if gold_text is None:
            continue
        gold = parse_program(gold_text)
        if plan == str(gold):
            c["plan_exact"] += 1
            c["plan_exact_answer_right"] += bool(right)
        elif _ops(parse_program(plan)) == _ops(gold):
            c["plan_same_ops_wrong_args"] += 1
            c["concepts_differ"] += ast.concepts(parse_program(plan)) != ast.concepts(gold)
        else:
            c["plan_wrong_structure"] += 1
    out = dict(c)
    out["steps"] = {op: {"ok": v["ok"], "bad": v["bad"], "ok_share": v["ok"] / max(1, v["ok"] + v["bad"])}
                    for op, v in sorted(steps.items())}
    return out


def diagnose_checkpoint(checkpoint, data_dir, split: str = "test", limit: int = 60) -> dict:
    import numpy as np

    from apeiria_model.data.schema import GroundingSample
    from apeiria_model.reasoning.neural import NeuralReasoner
    from apeiria_model.training.datasets import load_scenes

    reasoner = NeuralReasoner(checkpoint)
    scenes = load_scenes(data_dir, split)
    with open(Path(data_dir) / "grounding" / f"{split}.jsonl", encoding="utf-8") as f:
        samples = [GroundingSample.from_dict(json.loads(line)) for line in f if line.strip()]
    if limit:
        idx = np.linspace(0, len(samples) - 1, min(limit, len(samples))).round().astype(int)
        samples = [samples[i] for i in sorted(set(idx.tolist()))]
    items = []
    for s in samples:
        sc = scenes[s.scene_id]
        items.append((reasoner.generate(s.instruction, sc), s.program, list(s.target_ids), s.answer, sc))
    rep = diagnose_outputs(items)
    rep["checkpoint"] = str(checkpoint)
    return rep


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    rep = diagnose_checkpoint(a.checkpoint, a.data, a.split, a.limit)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(rep, indent=1))
    print(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
