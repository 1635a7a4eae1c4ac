"""How far ``verified: true`` can be trusted, per reasoner (symbolic, neural, hybrid).

``verified`` is true only when every step re-executes AND the program answers the
question asked (reasoning/answer_check.py). This bench scores the three reasoners on the
same queries and reports, per set and reasoner: ``n``, ``accuracy`` (exact target set,
or the answer), ``verified`` (share of results with the flag), ``verified_wrong`` (results
vouched for that are wrong: the target is none), ``failed_checks`` (results refused, per
check) and ``p50_ms``.

Sets:

- ``generated_qa``: every count / attribute question of the test split of freshly
  generated rooms (the issue's target: 0 wrong with ``verified: true``);
- ``generated_grounding``: an evenly spaced sample of the same split's grounding queries;
- ``human``: the shipped human-phrased set (apeiria_model/assets/eval/human_queries.jsonl).

Through ``apeiria_model.evaluation.evaluate`` (the code behind ``apeiria eval``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
HUMAN = REPO / "apeiria_model" / "assets" / "eval" / "human_queries.jsonl"
HUMAN_SCENES = REPO / "apeiria_model" / "assets" / "eval" / "scenes"
SEED = 0


def _stats(report: dict) -> dict:
    tr = report["trace"]
    return {"n": report["n_samples"], "accuracy": report["accuracy"], "verified": tr["verified"],
            "verified_wrong": tr["verified_wrong"], "failed_checks": tr["failed_checks"],
            "p50_ms": report["latency_ms"]["p50"]}


def _sets(tmp: str, n_scenes: int, n_grounding: int) -> dict:
    from apeiria_model.data.generator import generate_dataset
    from apeiria_model.data.loaders import load_samples_jsonl, load_scenes

    generate_dataset(tmp, n_scenes, seed=SEED)
    samples = load_samples_jsonl(f"{tmp}/grounding/test.jsonl")
    scenes = load_scenes(f"{tmp}/scenes/test.jsonl")
    qa = [s for s in samples if s.answer is not None]
    grounding = [s for s in samples if s.answer is None]
    step = max(1, len(grounding) // n_grounding)
    sets = {"generated_qa": (qa, scenes), "generated_grounding": (grounding[::step][:n_grounding], scenes)}
    if HUMAN.is_file():
        sets["human"] = (load_samples_jsonl(HUMAN), load_scenes(HUMAN_SCENES))
    return sets


def run(quick: bool = False) -> dict:
    import torch

    from apeiria_model.evaluation.evaluate import evaluate
    from apeiria_model.reasoning.hybrid import HybridReasoner
    from apeiria_model.reasoning.neural import NeuralReasoner
    from apeiria_model.reasoning.symbolic import SymbolicReasoner

    torch.set_num_threads(1)
    n_scenes, n_grounding = (60, 40) if quick else (300, 200)
    symbolic = SymbolicReasoner()
    neural = NeuralReasoner()
    reasoners = {"symbolic": symbolic, "neural": neural, "hybrid": HybridReasoner(neural=neural, symbolic=symbolic)}
    out: dict = {"n_scenes_generated": n_scenes, "seed": SEED, "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (samples, scenes) in _sets(tmp, n_scenes, n_grounding).items():
            out["sets"][name] = {r: _stats(evaluate(reasoner, samples, scenes, progress=False).to_dict())
                                 for r, reasoner in reasoners.items()}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=1))
