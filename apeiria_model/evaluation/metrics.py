"""Grounding metrics, defined as the public benchmarks define them (docs/metrics.md).

* ScanRefer Acc@k: the first predicted box has axis-aligned 3D IoU >= k with the
  ground-truth box; no prediction is a miss; split "unique" / "multiple".
* Multi3DRefer F1@k: per query, Hungarian matching of predicted and ground-truth
  boxes maximising total IoU; TP = matched pairs with IoU >= k;
  F1 = 2 TP / (|P| + |G|); a zero-target query scores 1 iff nothing is predicted.
  Reported as the mean over queries and by group (zt_w_d, zt_wo_d, st_w_d, st_wo_d, mt).
* ReferIt3D accuracy: the chosen object id equals the target id; "hard" = more than
  2 same-class distractors; "view-dependent" = the utterance uses one of
  :data:`VIEW_DEPENDENT_WORDS`.

Everything here is pure numpy/scipy over plain arrays, so the runner
(:mod:`apeiria_model.evaluation.evaluate`) and external tools can share it.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from apeiria_model.scene.geometry import pairwise_iou

IOU_THRESHOLDS: tuple[float, ...] = (0.25, 0.5)

# ReferIt3D's list (Achlioptas et al. 2020, `is_explicitly_view_dependent`).
VIEW_DEPENDENT_WORDS = frozenset(
    {"front", "behind", "back", "left", "right", "facing", "leftmost", "rightmost", "looking", "across"}
)

# Multi3DRefer evaluation groups (the dataset's `eval_type` values).
M3D_ZT_W_D, M3D_ZT_WO_D, M3D_ST_W_D, M3D_ST_WO_D, M3D_MT = "zt_w_d", "zt_wo_d", "st_w_d", "st_wo_d", "mt"
M3D_GROUPS = (M3D_ZT_W_D, M3D_ZT_WO_D, M3D_ST_W_D, M3D_ST_WO_D, M3D_MT)

# Program-depth buckets of the paper's "RL gain by reasoning complexity" table.
DEPTH_BUCKETS = ("<=4", "5", ">=6")

_WORD = re.compile(r"[a-z]+")


def threshold_key(k: float) -> str:
    """'0.25' / '0.5': the suffix used in report keys such as ``acc@0.25``."""
    return f"{k:g}"


# --------------------------------------------------------------------------- boxes
def as_boxes(centers: Any, sizes: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return ``(centers [N,3], sizes [N,3])`` as float arrays.

    Raises ``ValueError`` for wrong shapes or non-finite values: a NaN box would
    otherwise silently score IoU 0 and hide a bug upstream.
    """
    c = np.asarray(centers, dtype=float).reshape(-1, 3) if np.size(centers) else np.zeros((0, 3))
    s = np.asarray(sizes, dtype=float).reshape(-1, 3) if np.size(sizes) else np.zeros((0, 3))
    if c.shape != s.shape:
        raise ValueError(f"{len(c)} centres but {len(s)} sizes")
    if not (np.isfinite(c).all() and np.isfinite(s).all()):
        raise ValueError("box centres and sizes must be finite")
    return c, s


def iou_matrix(pred_centers: Any, pred_sizes: Any, gt_centers: Any, gt_sizes: Any) -> np.ndarray:
    """Axis-aligned 3D IoU matrix ``[n_pred, n_gt]`` (empty when either side is)."""
    pc, ps = as_boxes(pred_centers, pred_sizes)
    gc, gs = as_boxes(gt_centers, gt_sizes)
    if len(pc) == 0 or len(gc) == 0:
        return np.zeros((len(pc), len(gc)))
    return pairwise_iou(pc, ps, gc, gs)


# ------------------------------------------------------------------ ScanRefer Acc@k
def top_iou(iou: np.ndarray) -> float | None:
    """IoU of the first prediction with the (single) ground-truth box; None if no prediction."""
    iou = np.asarray(iou, dtype=float)
    if iou.ndim != 2 or iou.shape[0] == 0 or iou.shape[1] == 0:
        return None
    return float(iou[0, 0])


def acc_at_k(top_ious: Sequence[float | None], k: float) -> float | None:
    """Share of queries whose first predicted box reaches IoU >= k (None = no prediction = miss).

    None when there are no queries (an empty average is undefined, not 0).
    """
    if len(top_ious) == 0:
        return None
    v = np.array([-1.0 if x is None else float(x) for x in top_ious])
    return float(np.mean(v >= k))


# ---------------------------------------------------------------- Multi3DRefer F1@k
def hungarian_match(iou: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows/cols of the one-to-one assignment maximising the total IoU."""
    iou = np.asarray(iou, dtype=float)
    if iou.size == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return linear_sum_assignment(iou, maximize=True)


def f1_from_iou(iou: np.ndarray, thresholds: Iterable[float] = IOU_THRESHOLDS) -> dict[float, float]:
    """Multi3DRefer F1 of one query for each threshold, from its ``[n_pred, n_gt]`` IoU matrix.

    Matching is done once on IoU (as Multi3DRefer does), then each threshold counts
    the matched pairs reaching it. Duplicate predictions can match at most once and
    still count in |P|.
    """
    iou = np.asarray(iou, dtype=float)
    if iou.ndim != 2:
        raise ValueError(f"IoU matrix must be 2-D [n_pred, n_gt], got shape {iou.shape}")
    if not np.isfinite(iou).all():
        raise ValueError("IoU matrix must be finite")
    n_pred, n_gt = iou.shape
    thresholds = tuple(thresholds)
    if n_pred == 0 and n_gt == 0:
        return {k: 1.0 for k in thresholds}
    if n_pred == 0 or n_gt == 0:
        return {k: 0.0 for k in thresholds}
    rows, cols = hungarian_match(iou)
    matched = iou[rows, cols]
    return {k: float(2.0 * np.count_nonzero(matched >= k) / (n_pred + n_gt)) for k in thresholds}


def m3d_group(n_targets: int, has_distractors: bool | None) -> str | None:
    """Multi3DRefer ``eval_type`` of a query; None when the distractor flag is unknown."""
    if n_targets >= 2:
        return M3D_MT
    if has_distractors is None:
        return None
    prefix = "zt" if n_targets == 0 else "st"
    return f"{prefix}_{'w' if has_distractors else 'wo'}_d"


# ------------------------------------------------------------------------ ReferIt3D
def tokenize(text: str) -> list[str]:
    """Lower-case alphabetic words ("left-hand" -> left, hand)."""
    return _WORD.findall(text.lower()) if isinstance(text, str) else []


def is_view_dependent(text: str) -> bool:
    """ReferIt3D's rule: the utterance names a viewpoint word (front, left, facing...)."""
    return not VIEW_DEPENDENT_WORDS.isdisjoint(tokenize(text))


def is_hard(n_distractors: int) -> bool:
    """ReferIt3D "hard": more than 2 same-class distractors."""
    return n_distractors > 2


def referit3d_correct(pred_ids: Sequence[int], target_id: int) -> bool:
    """The (first) chosen object is the target."""
    return len(pred_ids) > 0 and int(pred_ids[0]) == int(target_id)


# ------------------------------------------------------------------- other metrics
def depth_bucket(depth: int | None) -> str | None:
    if depth is None:
        return None
    return "<=4" if depth <= 4 else "5" if depth == 5 else ">=6"


_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_ARTICLES = {"a", "an", "the"}


# British / American spellings are the same answer ("grey" sofa == "gray" sofa).
_SPELLING = {"grey": "gray", "colour": "color", "greyish": "grayish"}


def normalize_answer(value: Any) -> str | None:
    """Canonical text of a QA answer: 3 / "3" / "three" -> "3"; "The Red." -> "red"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if not math.isfinite(f):
            return None
        return str(int(f)) if f.is_integer() else f"{f:g}"
    words = re.findall(r"[a-z0-9.]+", str(value).lower())
    words = [w.strip(".") for w in words if w.strip(".") and w not in _ARTICLES]
    words = [_SPELLING.get(w, _NUMBER_WORDS.get(w, w)) for w in words]
    return " ".join(words) if words else None


def answers_match(pred: Any, gold: Any) -> bool:
    """QA exact match after :func:`normalize_answer` (a missing answer never matches)."""
    p, g = normalize_answer(pred), normalize_answer(gold)
    return p is not None and p == g


def step_counts(verified_flags: Sequence[bool | None]) -> tuple[int, int, int]:
    """(steps, verified, unchecked) of one trace from its steps' ``verified`` flags."""
    n = len(verified_flags)
    ok = sum(1 for v in verified_flags if v is True)
    unchecked = sum(1 for v in verified_flags if v is None)
    return n, ok, unchecked


def mean_or_none(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the non-None values; None when there are none (never a fake 0)."""
    v = [float(x) for x in values if x is not None]
    return float(np.mean(v)) if v else None


def percentile_or_none(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None
