"""Perception quality against a ground-truth Scene.

- instance recall / precision at 3D IoU k (0.25, 0.5): one-to-one Hungarian matching
  of predicted to GT boxes on IoU (scipy.optimize.linear_sum_assignment); a match
  counts when its IoU >= k;
- label accuracy: share of matched pairs (at 0.25) whose predicted label equals the GT
  label (after an optional label map);
- ID stability over a sweep: of the GT objects matched in at least one frame, the
  share whose matched map ID never changed;
- latency p50 / p95 of per-frame timings.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from apeiria_model.scene.geometry import pairwise_iou
from apeiria_model.scene.model import Scene

IOU_THRESHOLDS = (0.25, 0.5)


def match(pred: Scene, gt: Scene) -> list[tuple[int, int, float]]:
    """Hungarian matching maximising total IoU: [(pred id, gt id, iou)] for pairs with IoU > 0."""
    if len(pred) == 0 or len(gt) == 0:
        return []
    iou = pairwise_iou(pred.centers(), pred.sizes(), gt.centers(), gt.sizes())
    rows, cols = linear_sum_assignment(-iou)
    return [(pred.objects[r].id, gt.objects[c].id, float(iou[r, c])) for r, c in zip(rows, cols) if iou[r, c] > 0]


def detection_metrics(pred: Scene, gt: Scene, thresholds: Sequence[float] = IOU_THRESHOLDS,
                      label_map: Callable[[str], str] | None = None) -> dict:
    """Recall / precision / F1 at each IoU threshold, label accuracy of matches at the first."""
    pairs = match(pred, gt)
    out: dict = {"n_pred": len(pred), "n_gt": len(gt)}
    for k in thresholds:
        tp = sum(1 for _, _, i in pairs if i >= k)
        r = tp / len(gt) if len(gt) else 1.0
        p = tp / len(pred) if len(pred) else (1.0 if len(gt) == 0 else 0.0)
        out[f"recall@{k}"] = r
        out[f"precision@{k}"] = p
        out[f"f1@{k}"] = 2 * tp / (len(pred) + len(gt)) if (len(pred) + len(gt)) else 1.0
    k0 = thresholds[0]
    matched = [(pi, gi) for pi, gi, i in pairs if i >= k0]
    if matched:
        lm = label_map or (lambda s: s)
        correct = sum(1 for pi, gi in matched if lm(pred.get(pi).label) == lm(gt.get(gi).label))
        out["label_accuracy"] = correct / len(matched)
    else:
        out["label_accuracy"] = None
    out["matched"] = len(matched)
    return out


class IdStabilityTracker:
    """Feed the map's scene after every frame; reports how stable GT -> map IDs were."""

    def __init__(self, gt: Scene, threshold: float = 0.25):
        self.gt = gt
        self.threshold = threshold
        self.history: dict[int, list[int]] = {o.id: [] for o in gt.objects}

    def observe(self, pred: Scene) -> None:
        for pi, gi, i in match(pred, self.gt):
            if i >= self.threshold:
                self.history[gi].append(pi)

    def result(self) -> dict:
        tracked = {g: ids for g, ids in self.history.items() if ids}
        stable = sum(1 for ids in tracked.values() if len(set(ids)) == 1)
        return {"id_stability": stable / len(tracked) if tracked else None,
                "tracked_gt_objects": len(tracked),
                "id_switches": sum(len(set(ids)) - 1 for ids in tracked.values())}


def latency_stats(samples_ms: Iterable[float]) -> dict:
    x = np.asarray(list(samples_ms), float)
    if x.size == 0:
        return {"p50_ms": None, "p95_ms": None, "mean_ms": None, "n": 0}
    return {"p50_ms": float(np.percentile(x, 50)), "p95_ms": float(np.percentile(x, 95)),
            "mean_ms": float(x.mean()), "n": int(x.size)}
