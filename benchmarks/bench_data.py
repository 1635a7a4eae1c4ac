"""Synthetic data generator throughput.

- ``rooms``: ``generate_room`` alone (scenes/s);
- ``dataset``: the whole ``generate_dataset`` pipeline into a temporary folder (rooms,
  program sampling, executor answers, wording, stage-1/2/3 records, JSON Lines), one
  process. Reported per wall-clock second and per CPU second of this process (the
  machine may be shared, which slows wall time but not CPU time); the full run also
  times 2 worker processes (wall clock; same output bytes);
- ``grounding_samples_per_s``: grounding + QA records written per second, the
  headline number; ``records_per_s`` counts every record of every file.

``run(quick=False) -> dict``; ``python benchmarks/bench_data.py [--quick]`` prints JSON.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time

import numpy as np

from apeiria_model.data.categories import ROOM_TYPES
from apeiria_model.data.generator import GeneratorConfig, generate_dataset
from apeiria_model.data.rooms import generate_room


def _rooms(n: int) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    objects = 0
    for i in range(n):
        room = generate_room(np.random.default_rng(i), ROOM_TYPES[i % len(ROOM_TYPES)])
        objects += len(room.scene)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"n_scenes": n, "scenes_per_s": round(n / wall, 1), "scenes_per_cpu_s": round(n / cpu, 1),
            "mean_objects": round(objects / n, 1)}


def _dataset(n: int, seed: int = 0, workers: int = 1) -> dict:
    out = tempfile.mkdtemp(prefix="bench_data_")
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        m = generate_dataset(out, n, seed, GeneratorConfig(), workers=workers)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        shutil.rmtree(out, ignore_errors=True)
    grounding = sum(m["counts"]["grounding"].values())
    records = sum(sum(v.values()) for k, v in m["counts"].items() if k != "stage3")  # stage3 repeats grounding
    if workers > 1:  # CPU time of the worker processes is not visible here: wall clock only
        return {"n_scenes": n, "workers": workers, "wall_s": round(wall, 3), "scenes_per_s": round(n / wall, 1),
                "grounding_samples_per_s": round(grounding / wall, 1), "records_per_s": round(records / wall, 1)}
    return {
        "n_scenes": n, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
        "scenes_per_s": round(n / wall, 1), "scenes_per_cpu_s": round(n / cpu, 1),
        "grounding_samples": grounding,
        "grounding_samples_per_s": round(grounding / wall, 1),
        "grounding_samples_per_cpu_s": round(grounding / cpu, 1),
        "records": records, "records_per_s": round(records / wall, 1),
        "records_per_cpu_s": round(records / cpu, 1),
        "failed_samples": m["failed_samples"], "dropped_mismatch": m["dropped_mismatch"],
    }


def run(quick: bool = False) -> dict:
    n_rooms, n_scenes = (40, 16) if quick else (400, 200)
    out = {"rooms": _rooms(n_rooms), "dataset": _dataset(n_scenes)}
    if not quick:
        out["dataset_2_workers"] = _dataset(n_scenes, workers=2)
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
