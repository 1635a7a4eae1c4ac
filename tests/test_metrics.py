"""Metric definitions against hand-computed cases (ScanRefer / Multi3DRefer / ReferIt3D)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.evaluation import metrics as M

UNIT = (1.0, 1.0, 1.0)


def iou1(ca, sa, cb, sb) -> float:
    return float(M.iou_matrix([ca], [sa], [cb], [sb])[0, 0])


# ----------------------------------------------------------------------- IoU
def test_iou_identical_boxes_is_one():
    assert iou1((1, 2, 3), (0.5, 1, 2), (1, 2, 3), (0.5, 1, 2)) == pytest.approx(1.0)


def test_iou_touching_boxes_is_zero():
    # faces meet at x = 0.5: zero-volume intersection
    assert iou1((0, 0, 0), UNIT, (1, 0, 0), UNIT) == 0.0


def test_iou_disjoint_boxes_is_zero():
    assert iou1((0, 0, 0), UNIT, (5, 5, 5), UNIT) == 0.0


def test_iou_nested_box_is_volume_ratio():
    # 1x1x1 inside 2x2x2: 1 / 8
    assert iou1((0, 0, 0), UNIT, (0.2, -0.3, 0.1), (2, 2, 2)) == pytest.approx(1 / 8)


def test_iou_partial_overlap_by_hand():
    # shifted by half a side along x: intersection 0.5, union 1.5
    assert iou1((0, 0, 0), UNIT, (0.5, 0, 0), UNIT) == pytest.approx(1 / 3)


def test_iou_matrix_shapes_and_empty_sides():
    assert M.iou_matrix([], [], [(0, 0, 0)], [UNIT]).shape == (0, 1)
    assert M.iou_matrix([(0, 0, 0)] * 3, [UNIT] * 3, [], []).shape == (3, 0)
    assert M.iou_matrix([(0, 0, 0)] * 2, [UNIT] * 2, [(0, 0, 0)] * 3, [UNIT] * 3).shape == (2, 3)


@pytest.mark.parametrize("bad", [[(np.nan, 0, 0)], [(0, np.inf, 0)]])
def test_non_finite_boxes_are_rejected(bad):
    with pytest.raises(ValueError, match="finite"):
        M.iou_matrix(bad, [UNIT], [(0, 0, 0)], [UNIT])


def test_mismatched_centres_and_sizes_are_rejected():
    with pytest.raises(ValueError, match="centres"):
        M.iou_matrix([(0, 0, 0), (1, 1, 1)], [UNIT], [(0, 0, 0)], [UNIT])


# ------------------------------------------------------------ ScanRefer Acc@k
def test_acc_at_k_counts_missing_prediction_as_miss():
    assert M.acc_at_k([1.0, None, 0.3, 0.6], 0.25) == pytest.approx(3 / 4)
    assert M.acc_at_k([1.0, None, 0.3, 0.6], 0.5) == pytest.approx(2 / 4)


def test_acc_at_k_threshold_is_inclusive():
    assert M.acc_at_k([0.25], 0.25) == 1.0
    assert M.acc_at_k([0.2499], 0.25) == 0.0


def test_acc_at_k_of_no_queries_is_undefined():
    assert M.acc_at_k([], 0.25) is None


def test_top_iou_uses_first_prediction():
    iou = np.array([[0.1], [0.9]])  # the better box is second: ScanRefer scores the first
    assert M.top_iou(iou) == pytest.approx(0.1)
    assert M.top_iou(np.zeros((0, 1))) is None


# --------------------------------------------------------- Multi3DRefer F1@k
def test_zero_target_rules():
    assert M.f1_from_iou(np.zeros((0, 0))) == {0.25: 1.0, 0.5: 1.0}   # nothing, correctly
    assert M.f1_from_iou(np.zeros((1, 0))) == {0.25: 0.0, 0.5: 0.0}   # predicted on a zero-target query
    assert M.f1_from_iou(np.zeros((0, 2))) == {0.25: 0.0, 0.5: 0.0}   # missed every target


def test_f1_by_hand_two_of_three():
    # 2 predictions, 3 targets, both predictions exact: F1 = 2*2 / (2+3)
    c = [(0, 0, 0), (3, 0, 0), (6, 0, 0)]
    iou = M.iou_matrix(c[:2], [UNIT] * 2, c, [UNIT] * 3)
    assert M.f1_from_iou(iou)[0.5] == pytest.approx(4 / 5)


def test_duplicate_predictions_match_once_but_count_in_p():
    iou = M.iou_matrix([(0, 0, 0), (0, 0, 0)], [UNIT] * 2, [(0, 0, 0)], [UNIT])
    assert M.f1_from_iou(iou)[0.25] == pytest.approx(2 * 1 / (2 + 1))


def _greedy_f1(iou: np.ndarray, k: float) -> float:
    """What a naive greedy matcher would report (for contrast only)."""
    iou = iou.copy()
    tp = 0
    n_p, n_g = iou.shape
    for _ in range(min(n_p, n_g)):
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        tp += iou[i, j] >= k
        iou[i, :] = -1
        iou[:, j] = -1
    return 2 * tp / (n_p + n_g)


def test_hungarian_beats_greedy_on_crafted_case():
    # Boxes differ only along x, so IoU is 1-D interval IoU.
    # G1=[0,1], G2=[0.5,1.5]; A=[0.2,1.2] overlaps both (0.667 / 0.538); B=[-0.5,0.5] only G1 (0.333).
    gt_c, gt_s = [(0.5, 0, 0), (1.0, 0, 0)], [UNIT, UNIT]
    pr_c, pr_s = [(0.7, 0, 0), (0.0, 0, 0)], [UNIT, UNIT]
    iou = M.iou_matrix(pr_c, pr_s, gt_c, gt_s)
    assert iou[0, 0] == pytest.approx(0.8 / 1.2)
    assert iou[0, 1] == pytest.approx(0.7 / 1.3)
    assert iou[1, 0] == pytest.approx(0.5 / 1.5)
    assert iou[1, 1] == 0.0
    assert _greedy_f1(iou, 0.25) == pytest.approx(0.5)  # greedy takes A-G1 and strands B
    f1 = M.f1_from_iou(iou)
    assert f1[0.25] == pytest.approx(1.0)   # A-G2 + B-G1: both >= 0.25
    assert f1[0.5] == pytest.approx(0.5)    # only A-G2 (0.538) reaches 0.5


def test_hungarian_match_is_one_to_one():
    rows, cols = M.hungarian_match(np.array([[0.9, 0.8], [0.85, 0.1], [0.2, 0.3]]))
    assert len(set(rows)) == len(rows) == 2 and len(set(cols)) == len(cols) == 2


def test_f1_rejects_bad_matrices():
    with pytest.raises(ValueError):
        M.f1_from_iou(np.array([0.5, 0.2]))
    with pytest.raises(ValueError):
        M.f1_from_iou(np.array([[np.nan]]))


def test_m3d_group():
    assert M.m3d_group(0, True) == "zt_w_d"
    assert M.m3d_group(0, False) == "zt_wo_d"
    assert M.m3d_group(1, True) == "st_w_d"
    assert M.m3d_group(1, False) == "st_wo_d"
    assert M.m3d_group(3, None) == "mt"
    assert M.m3d_group(1, None) is None


boxes = st.lists(
    st.tuples(st.tuples(*[st.floats(-5, 5)] * 3), st.tuples(*[st.floats(0.05, 3)] * 3)), min_size=0, max_size=6)


@settings(max_examples=60, deadline=None)
@given(preds=boxes, gts=boxes, seed=st.integers(0, 1000))
def test_f1_is_bounded_and_order_free(preds, gts, seed):
    def mat(p, g):
        return M.iou_matrix([c for c, _ in p], [s for _, s in p], [c for c, _ in g], [s for _, s in g])
    f1 = M.f1_from_iou(mat(preds, gts))
    perm = np.random.default_rng(seed).permutation(len(preds))
    f1_perm = M.f1_from_iou(mat([preds[i] for i in perm], gts))
    for k in M.IOU_THRESHOLDS:
        assert 0.0 <= f1[k] <= 1.0
        assert f1[k] == pytest.approx(f1_perm[k])
    assert f1[0.5] <= f1[0.25] + 1e-12
    if gts:  # predicting exactly the ground truth is perfect
        assert M.f1_from_iou(mat(gts, gts))[0.5] == pytest.approx(1.0)


# ------------------------------------------------------------------ ReferIt3D
@pytest.mark.parametrize("text,expected", [
    ("the chair on the left of the desk", True),
    ("Facing the TV, pick the right one.", True),
    ("the lamp in front of the sofa", True),
    ("the one across the room", True),
    ("the leftover box near the door", False),   # whole words only
    ("the backpack on the bed", False),
    ("the largest table", False),
    ("", False),
])
def test_is_view_dependent(text, expected):
    assert M.is_view_dependent(text) is expected


def test_hard_is_more_than_two_distractors():
    assert not M.is_hard(2)
    assert M.is_hard(3)


def test_referit3d_correct_uses_first_choice():
    assert M.referit3d_correct([4, 9], 4)
    assert not M.referit3d_correct([9, 4], 4)
    assert not M.referit3d_correct([], 4)


# -------------------------------------------------------------------- others
@pytest.mark.parametrize("depth,bucket", [(1, "<=4"), (4, "<=4"), (5, "5"), (6, ">=6"), (11, ">=6"), (None, None)])
def test_depth_buckets(depth, bucket):
    assert M.depth_bucket(depth) == bucket


@pytest.mark.parametrize("pred,gold,ok", [
    (2, 2, True), ("2", 2, True), ("two", 2, True), (2.0, "2", True), ("The Brown.", "brown", True),
    ("dark brown", "brown", False), (3, 2, False), (None, 2, False), (None, None, False), (float("nan"), 2, False),
    ("gray", "grey", True), ("Grey", "gray", True), ("grey", "green", False),
])
def test_answers_match(pred, gold, ok):
    assert M.answers_match(pred, gold) is ok


def test_step_counts_and_means():
    assert M.step_counts([True, False, None, True]) == (4, 2, 1)
    assert M.mean_or_none([]) is None
    assert M.mean_or_none([True, False, None]) == pytest.approx(0.5)
    assert M.percentile_or_none([], 50) is None
