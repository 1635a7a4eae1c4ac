"""Perception metrics on hand-built scenes whose answers are known by construction."""

from __future__ import annotations

import pytest

from apeiria_model.perception.metrics import IdStabilityTracker, detection_metrics, latency_stats, match
from apeiria_model.scene.model import Scene, SceneObject

GT = Scene("gt", (SceneObject(0, "chair", (0, 0, 0.5), (1, 1, 1)),
                  SceneObject(1, "table", (3, 0, 0.5), (1, 1, 1)),
                  SceneObject(2, "mug", (6, 0, 0.5), (1, 1, 1))))


def test_perfect_prediction():
    m = detection_metrics(GT, GT)
    assert m["recall@0.25"] == m["precision@0.25"] == m["recall@0.5"] == m["label_accuracy"] == 1.0


def test_shifted_box_counts_at_025_not_at_05_and_extra_prediction_lowers_precision():
    # x shifted by 0.5: overlap 0.5 / (2 - 0.5) = 1/3
    pred = Scene("p", (SceneObject(10, "chair", (0.5, 0, 0.5), (1, 1, 1)),
                       SceneObject(11, "sofa", (3, 0, 0.5), (1, 1, 1)),
                       SceneObject(12, "lamp", (9, 0, 0.5), (1, 1, 1))))
    m = detection_metrics(pred, GT)
    assert m["recall@0.25"] == pytest.approx(2 / 3) and m["precision@0.25"] == pytest.approx(2 / 3)
    assert m["recall@0.5"] == pytest.approx(1 / 3) and m["precision@0.5"] == pytest.approx(1 / 3)
    assert m["label_accuracy"] == 0.5  # chair right, sofa != table


def test_hungarian_matching_is_one_to_one():
    pred = Scene("p", (SceneObject(5, "chair", (0, 0, 0.5), (1, 1, 1)),
                       SceneObject(6, "chair", (0.1, 0, 0.5), (1, 1, 1))))
    pairs = match(pred, GT)
    assert len(pairs) == 1 and pairs[0][1] == 0
    m = detection_metrics(pred, GT)
    assert m["precision@0.25"] == 0.5 and m["recall@0.25"] == pytest.approx(1 / 3)


def test_empty_cases():
    empty = Scene("e", ())
    m = detection_metrics(empty, GT)
    assert m["recall@0.25"] == 0.0 and m["precision@0.25"] == 0.0 and m["label_accuracy"] is None
    assert detection_metrics(empty, empty)["recall@0.25"] == 1.0


def test_id_stability():
    t = IdStabilityTracker(GT)
    a = Scene("p", (SceneObject(1, "chair", (0, 0, 0.5), (1, 1, 1)), SceneObject(2, "table", (3, 0, 0.5), (1, 1, 1))))
    b = Scene("p", (SceneObject(1, "chair", (0, 0, 0.5), (1, 1, 1)), SceneObject(7, "table", (3, 0, 0.5), (1, 1, 1))))
    t.observe(a)
    t.observe(b)
    r = t.result()
    assert r["id_stability"] == 0.5 and r["tracked_gt_objects"] == 2 and r["id_switches"] == 1


def test_latency_stats():
    s = latency_stats([10.0, 20.0, 30.0])
    assert s["p50_ms"] == 20.0 and s["n"] == 3
    assert latency_stats([])["p50_ms"] is None
