"""A long-running scene builder must not keep every frame's report forever."""

import numpy as np

from apeiria_model.perception import pipeline as pipeline_mod
from apeiria_model.perception.frame import CameraIntrinsics, RGBDFrame


def test_reports_keep_only_the_newest_frames(monkeypatch):
    monkeypatch.setattr(pipeline_mod, "REPORT_HISTORY", 5)
    p = pipeline_mod.PerceptionPipeline("geometric")
    k = CameraIntrinsics.from_fov(32, 24)
    bad = RGBDFrame(np.zeros((24, 32, 3), np.uint8), np.zeros((24, 32), np.float32), k, np.eye(4))
    for _ in range(12):
        assert not p.process(bad).ok  # all-zero depth: rejected, but reported
    assert [r.frame_index for r in p.reports] == [8, 9, 10, 11, 12]
    p.reset()
    assert len(p.reports) == 0 and p.reports.maxlen == 5
