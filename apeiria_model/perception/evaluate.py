"""Run the pipeline over a simulated camera sweep and score it against ground truth.

Shared by ``apeiria perceive`` and ``benchmarks/bench_perception.py``. GT objects that
never show at least ``min_visible_pixels`` pixels in any frame cannot be perceived; the
metrics are reported both over those visible objects (the main numbers) and over all.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

import numpy as np

from apeiria_model.perception.frame import RGBDFrame
from apeiria_model.perception.metrics import IdStabilityTracker, detection_metrics, latency_stats
from apeiria_model.perception.pipeline import PerceptionPipeline
from apeiria_model.scene.model import Scene

MIN_VISIBLE_PIXELS = 200  # at 640x480; scaled with the image area


def run_sweep(pipeline: PerceptionPipeline, frames: Iterable[RGBDFrame], gt: Scene | None = None,
              scene_id: str = "perceived", min_visible_pixels: int = MIN_VISIBLE_PIXELS,
              per_frame: bool = True) -> tuple[Scene, dict[str, Any]]:
    """Feed every frame; return (perceived scene, summary dict)."""
    tracker = IdStabilityTracker(gt) if gt is not None else None
    seen_pixels: dict[int, int] = {}
    reports = []
    t0 = time.perf_counter()
    for frame in frames:
        rep = pipeline.process(frame)
        reports.append(rep)
        if gt is not None and frame.instance_ids is not None:
            scale = (frame.depth.shape[0] * frame.depth.shape[1]) / (640 * 480)
            ids, counts = np.unique(frame.instance_ids, return_counts=True)
            for i, c in zip(ids.tolist(), counts.tolist()):
                if i >= 0:
                    seen_pixels[i] = max(seen_pixels.get(i, 0), int(c / max(scale, 1e-9)))
        if tracker is not None and rep.ok:
            tracker.observe(pipeline.scene(scene_id))
    wall = time.perf_counter() - t0
    scene = pipeline.scene(scene_id)
    ok = [r for r in reports if r.ok]
    stages = sorted({k for r in ok for k in r.timings_ms})
    summary: dict[str, Any] = {
        "scene_id": scene_id,
        "frames": len(reports),
        "frames_ok": len(ok),
        "errors": [{"frame": r.frame_index, "error": r.error} for r in reports if not r.ok],
        "segmenter": getattr(pipeline.segmenter, "name", type(pipeline.segmenter).__name__),
        "objects": len(scene),
        "timing_ms": {k: latency_stats(r.timings_ms[k] for r in ok if k in r.timings_ms) for k in stages},
        "wall_seconds": wall,
    }
    if per_frame:
        summary["per_frame"] = [{"frame": r.frame_index, "ok": r.ok, "segments": r.segments, "objects": r.published,
                                 "ms": {k: round(v, 2) for k, v in r.timings_ms.items()}} for r in reports]
    if gt is not None:
        visible = gt.with_objects([o for o in gt.objects if seen_pixels.get(o.id, 0) >= min_visible_pixels])
        summary["gt_objects"] = len(gt)
        summary["gt_visible_objects"] = len(visible)
        summary["gt_visible_ids"] = sorted(visible.ids)
        summary["metrics"] = detection_metrics(scene, visible)
        summary["metrics_all_gt"] = detection_metrics(scene, gt)
        if summary["segmenter"] == "geometric":  # class-agnostic: every label is "object"
            summary["metrics"]["label_accuracy"] = None
            summary["metrics_all_gt"]["label_accuracy"] = None
        summary["metrics"].update(tracker.result() if tracker is not None else {})
    return scene, summary
