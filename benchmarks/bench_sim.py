"""Simulator speed: ms per 640x480 RGB-D frame for 10 / 30 / 60-object rooms.

Rooms are laid out deterministically from the category table (furniture on a grid,
small objects on the tables), rendered along an orbit; the first frame of each scene
is an untimed warm-up. Reports wall-clock render time per frame (p50 / p95), the CPU
time it used (all threads; a shared machine inflates wall time, much less CPU time), its
split into ray setup / ray casting / shading, the scene build time and triangle counts, with and
without sensor noise. ``python benchmarks/bench_sim.py [--quick]`` prints JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from apeiria_model.data.categories import CATEGORIES
from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.sim import SceneRenderer, SensorNoise, sweep
from apeiria_model.scene.model import Scene, SceneObject

FLOOR_LABELS = ("desk", "chair", "table", "sofa", "bookshelf", "plant", "cabinet", "floor lamp", "armchair",
                "bed", "refrigerator", "trash can", "office chair", "dresser")
SMALL_LABELS = ("mug", "lamp", "monitor", "book", "bottle", "laptop", "vase")


def bench_scene(n_objects: int, seed: int = 0) -> Scene:
    """A room with ``n_objects``: about 2/3 furniture on a grid, the rest on the tables."""
    rng = np.random.default_rng(seed)
    n_floor = max(1, int(round(n_objects * 2 / 3)))
    cols = int(np.ceil(np.sqrt(n_floor)))
    objs: list[SceneObject] = []
    supports = []
    for i in range(n_floor):
        cat = CATEGORIES[FLOOR_LABELS[i % len(FLOOR_LABELS)]]
        w, d, h = (float(rng.uniform(a, b)) for a, b in zip(cat.size_min, cat.size_max))
        x, y = (i % cols) * 2.2, (i // cols) * 2.2
        front = [(0, 1, 0), (1, 0, 0), (0, -1, 0), (-1, 0, 0)][int(rng.integers(4))] if cat.facing else None
        if front is not None and front[0] != 0:
            w, d = d, w
        o = SceneObject(i, cat.label, (x, y, h / 2), (w, d, h), color=str(rng.choice(cat.colors)), front=front)
        objs.append(o)
        if cat.support:
            supports.append(o)
    for j in range(n_objects - n_floor):
        cat = CATEGORIES[SMALL_LABELS[j % len(SMALL_LABELS)]]
        w, d, h = (float(rng.uniform(a, b)) for a, b in zip(cat.size_min, cat.size_max))
        s = supports[j % len(supports)] if supports else objs[j % len(objs)]
        off = rng.uniform(-0.3, 0.3, 2) * (np.asarray(s.size[:2]) - [w, d])
        objs.append(SceneObject(len(objs), cat.label, (s.center[0] + off[0], s.center[1] + off[1], s.top + h / 2),
                                (w, d, h), color=str(rng.choice(cat.colors))))
    return Scene(f"bench_{n_objects}", tuple(objs))


def _pct(xs: list[float]) -> dict:
    a = np.asarray(xs, float)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "mean": round(float(a.mean()), 2), "n": int(len(a))}


def run(quick: bool = False) -> dict:
    intr = CameraIntrinsics.from_fov(640, 480, 69.0)
    n_frames = 6 if quick else 40
    # The machine's load when measured: shared CPUs inflate every latency below.
    out: dict = {"image": "640x480", "frames_per_scene": n_frames, "load_avg_1min_before": round(os.getloadavg()[0], 2),
                 "scenes": {}}
    for n in (10, 30, 60):
        scene = bench_scene(n)
        t = time.perf_counter()
        renderer = SceneRenderer(scene, intr)
        build_ms = 1e3 * (time.perf_counter() - t)
        poses = sweep(scene, n_frames + 1, kind="orbit", room=renderer.room)
        renderer.render(poses[0])  # warm-up (first-call allocations)
        total, cpu, rays, cast, shade, visible = [], [], [], [], [], []
        for p in poses[1:]:
            t, c = time.perf_counter(), time.process_time()
            f = renderer.render(p)
            total.append(1e3 * (time.perf_counter() - t))
            cpu.append(1e3 * (time.process_time() - c))
            rays.append(renderer.last_timing_ms["rays"])
            cast.append(renderer.last_timing_ms["cast"])
            shade.append(renderer.last_timing_ms["shade"])
            visible.append(len(np.unique(f.instance_ids)) - 1)
        noisy = SceneRenderer(scene, intr, noise=SensorNoise(seed=0), room=renderer.room)
        noisy.render(poses[0])
        noise_ms = []
        for p in poses[1:1 + max(3, n_frames // 4)]:
            t = time.perf_counter()
            noisy.render(p)
            noise_ms.append(1e3 * (time.perf_counter() - t))
        out["scenes"][str(n)] = {
            "objects": n,
            "triangles": renderer.n_triangles,
            "build_ms": round(build_ms, 2),
            "render_ms": _pct(total),
            # CPU time of all threads: less sensitive to other processes than wall time.
            "render_cpu_ms": _pct(cpu),
            "rays_ms": _pct(rays),
            "cast_ms": _pct(cast),
            "shade_ms": _pct(shade),
            "render_with_noise_ms": _pct(noise_ms),
            "fps_p50": round(1e3 / float(np.percentile(total, 50)), 1),
            "mean_visible_objects": round(float(np.mean(visible)), 1),
        }
    out["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=1))
