"""Training pipeline pieces: config parsing, GT labelling of segments, a tiny training run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apeiria_model.perception.segmenters.learned import BACKGROUND, TorchClassifier
from apeiria_model.perception.training import SegmentSet, TrainConfig, TrainConfigError, label_segment, train


def test_train_config_yaml_and_errors(tmp_path):
    cfg = TrainConfig.from_yaml("config/train_perception.yaml")
    assert cfg.train_rooms >= 1 and cfg.trajectories == ["orbit", "walk"] and isinstance(cfg.lr, float)
    bad = tmp_path / "t.yaml"
    for text, msg in (("epochs: many\n", "epochs"), ("epoch: 3\n", "unknown key"), ("epochs: 0\n", "epochs"),
                      ("noise: 1\n", "noise"), ("trajectories: orbit\n", "trajectories"), ("[1, 2]\n", "mapping")):
        bad.write_text(text)
        with pytest.raises(TrainConfigError, match=msg):
            TrainConfig.from_yaml(bad)


def test_label_segment_majority_and_purity():
    ids = np.array([[3, 3, 3, -1], [3, 5, -1, -1]])
    labels = {3: "chair", 5: "mug"}
    pix = np.array([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]])
    assert label_segment(ids, pix, labels, 0.6) == "chair"
    assert label_segment(ids, np.array([[0, 3], [1, 2], [1, 3]]), labels, 0.6) == BACKGROUND
    assert label_segment(ids, np.array([[0, 0], [1, 1], [1, 2]]), labels, 0.6) is None  # no label covers 60%


def _toy_data(n_per_class: int, seed: int) -> SegmentSet:
    """Two shapes anyone can tell apart: tall thin poles vs flat wide plates."""
    rng = np.random.default_rng(seed)
    pts, cols, labels, rooms = [], [], [], []
    for k in range(n_per_class):
        pole = rng.uniform([0, 0, 0], [0.05, 0.05, 1.5], (80, 3))
        plate = rng.uniform([0, 0, 0.7], [1.2, 0.8, 0.72], (80, 3))
        for p, lab in ((pole, "floor lamp"), (plate, "table")):
            pts.append(p.astype(np.float32))
            cols.append(rng.integers(0, 255, (80, 3)).astype(np.uint8))
            labels.append(lab)
            rooms.append(k % 3)  # rooms 0, 1 train; 2 validation (see cfg below)
    return SegmentSet(pts, cols, labels, rooms)


@pytest.mark.kernels  # a short training with an accuracy threshold
def test_tiny_training_run_saves_loadable_model(tmp_path):
    cfg = TrainConfig(train_rooms=2, val_rooms=1, epochs=60, batch_size=8, lr=5e-3, n_points=32, net_width=16,
                      feature_dim=8, out_dir=str(tmp_path), threads=1)
    report = train(cfg, log=lambda m: None, data=_toy_data(15, 0))
    assert (tmp_path / "segment_classifier.onnx").is_file()
    saved = json.loads((tmp_path / "segment_classifier.json").read_text())
    assert saved["n_train"] == 20 and saved["n_val"] == 10 and saved["classes"][0] == BACKGROUND
    assert report["val_accuracy"] >= 0.9  # poles vs plates is easy: a broken pipeline would not get there
    clf = TorchClassifier(tmp_path / "segment_classifier.safetensors")
    assert clf.spec.n_points == 32 and "table" in clf.classes
