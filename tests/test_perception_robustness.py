"""A segmenter failure on one frame is a report, not a crash; the wall fit that raised once."""

from __future__ import annotations

import numpy as np

from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.pipeline import PerceptionPipeline
from apeiria_model.perception.toy_frames import ToyBox, look_at, render_boxes

K = CameraIntrinsics.from_fov(320, 240)
CHAIR = ToyBox((1.2, 1.2, 0.45), (0.5, 0.5, 0.9), (30, 30, 200))


class _Flaky:
    """Wraps a segmenter; raises on the frames listed."""

    name = "flaky"

    def __init__(self, inner, fail_on):
        self.inner, self.fail_on, self.calls = inner, set(fail_on), 0

    def segment(self, frame):
        self.calls += 1
        if self.calls in self.fail_on:
            raise ValueError("zero-size array to reduction operation minimum")
        return self.inner.segment(frame)


def test_a_segmenter_exception_is_reported_and_leaves_the_map_alone():
    p = PerceptionPipeline("geometric")
    p.segmenter = _Flaky(p.segmenter, fail_on={3})
    frame = render_boxes([CHAIR], K, look_at((0.0, -0.5, 1.5), (0.0, 2.0, 0.5)))
    assert p.process(frame).ok and p.process(frame).ok
    before = p.scene()
    rep = p.process(frame)
    assert not rep.ok
    assert rep.error.startswith("segmentation failed: ValueError: zero-size array")
    assert rep.objects == len(p.map) and "total" in rep.timings_ms
    assert p.scene() == before
    assert p.process(frame).ok


def test_wall_refit_that_snaps_away_from_its_inliers_does_not_raise():
    # Generated room seed 80, orbit frame 4 (the training collection's settings): the
    # refined, axis-snapped wall plane kept none of the RANSAC inliers and the range of
    # an empty set raised; the whole sweep now segments.
    from apeiria_model.data.rooms import generate_room
    from apeiria_model.perception.projection import validate_frame
    from apeiria_model.perception.segmenters.geometric import GeometricSegmenter
    from apeiria_model.perception.sim.noise import SensorNoise
    from apeiria_model.perception.sim.renderer import SceneRenderer
    from apeiria_model.perception.sim.trajectory import sweep

    room = generate_room(np.random.default_rng(80), scene_id="train_80")
    renderer = SceneRenderer(room.scene, CameraIntrinsics.from_fov(640, 480), SensorNoise(seed=80))
    seg = GeometricSegmenter()
    for i, pose in enumerate(sweep(room.scene, 12, "orbit")[:5]):
        assert len(seg.segment(validate_frame(renderer.render(pose, frame_index=i)))) > 0
