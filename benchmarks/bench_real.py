"""Symbolic grounding on real scans with real referring expressions (ScanRefer / Nr3D / Sr3D).

Data: ``../shared/real_train/scenes`` next to the repository (ScanNet train scenes;
research data, never in this repository), or the directory ``$APEIRIA_REAL_DATA``.
When it is absent the result is ``{"skipped": "real data not found at ..."}``.

``run(quick)`` scores ``SymbolicReasoner`` on the **dev** part (the calib part is for
tuning; split rule in apeiria_model/evaluation/real_data.py) with a fixed random sample
of at most 400 queries per dataset (100 in quick mode) and returns, overall and per
dataset (with its unique / multiple, easy / hard, view_dep / view_indep groups):
``n``, ``accuracy`` (exactly the target), ``same_class_random`` (1 / number of objects
with the target's label) and ``statuses``; plus ``latency_ms`` p50 / p95 / max.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "real_train" / "scenes"
PART = "dev"


def data_dir() -> Path:
    return Path(os.environ.get("APEIRIA_REAL_DATA") or DEFAULT_DATA)


def run(quick: bool = False) -> dict:
    root = data_dir()
    if not root.is_dir():
        return {"skipped": f"real data not found at {root} (set APEIRIA_REAL_DATA)"}
    from apeiria_model.evaluation.real_data import evaluate_real, load_real
    from apeiria_model.reasoning.symbolic import SymbolicReasoner

    cap = 100 if quick else 400
    data = load_real(root, part=PART, per_dataset=cap)
    reasoner = SymbolicReasoner(answer_mode="single")  # ReferIt3D scoring: one object per expression
    t0 = time.perf_counter()
    reasoner.warm_up()
    load_s = round(time.perf_counter() - t0, 3)
    d = evaluate_real(reasoner, data).to_dict()
    return {"part": PART, "answer_mode": reasoner.answer_mode, "per_dataset_cap": cap, "model_load_s": load_s, "n_scenes": d["n_scenes"],
            "n_queries": d["n_queries"], "overall": d["overall"], "latency_ms": d["latency_ms"],
            "by_dataset": d["by_dataset"]}


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=1))
