"""Issue 15, part 3: perception refuses impossible poses and intrinsics (a frame error
with a reason, counted, the map untouched), and whatever the map publishes reloads."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.object_map import ObjectMap
from apeiria_model.perception.pipeline import ConfigError, PerceptionConfig, PerceptionPipeline
from apeiria_model.perception.projection import FrameError, check_intrinsics, check_pose
from apeiria_model.perception.toy_frames import ToyBox, look_at, render_boxes
from apeiria_model.scene.io import load_scene, save_scene, scene_from_dict, scene_to_dict

K = CameraIntrinsics.from_fov(160, 120)
CHAIR = ToyBox((1.2, 1.2, 0.45), (0.5, 0.5, 0.9), (30, 30, 200))
TABLE = ToyBox((0.2, 1.8, 0.35), (0.9, 0.6, 0.7), (200, 40, 40))
POSE = look_at((0.0, -0.5, 1.5), (0.0, 2.0, 0.5))


def _frame(pose=POSE, intr=K):
    f = render_boxes([CHAIR, TABLE], K, POSE)
    return dataclasses.replace(f, camera_to_world=pose, intrinsics=intr)


def _reflected():
    m = POSE.copy()
    m[:3, 0] *= -1  # mirror the optical x axis: orthonormal, det -1
    return m


def _far(t):
    m = POSE.copy()
    m[0, 3] = t
    return m


@pytest.mark.parametrize("frame, reason", [
    (lambda: _frame(pose=_reflected()), "not a proper rotation (det -1.000, a reflection)"),
    (lambda: _frame(pose=_far(1e30)), "outside the workspace"),
    (lambda: _frame(pose=_far(5000.0)), "outside the workspace (+-1000 m)"),
    (lambda: _frame(intr=dataclasses.replace(K, fx=1e-30)), "intrinsics.fx = 1e-30 is not a plausible focal length"),
    (lambda: _frame(intr=dataclasses.replace(K, fy=1e30)), "intrinsics.fy = 1e+30 is not a plausible focal length"),
    (lambda: _frame(intr=dataclasses.replace(K, cx=1e9)), "principal point"),
])
def test_impossible_frames_are_counted_errors_that_never_touch_the_map(frame, reason):
    p = PerceptionPipeline("geometric")
    assert p.process(_frame()).ok
    before, n = p.scene(), len(p.map)
    rep = p.process(frame())
    assert not rep.ok and reason in rep.error, rep.error
    assert p.frames_rejected == 1 and len(p.map) == n and p.scene() == before


def test_proper_rotations_within_tolerance_pass():
    m = POSE.copy()
    m[:3, :3] *= 1 + 2e-4  # slightly off orthonormal, within the 1e-3 tolerance
    check_pose(m, workspace=1000.0)
    check_intrinsics(CameraIntrinsics(4, 3, 2.0, 2.0, 1.5, 1.0))  # tiny test cameras stay valid
    with pytest.raises(FrameError, match="not a rigid transform"):
        check_pose(np.diag([2.0, 1, 1, 1]))


def test_workspace_is_a_checked_config_value():
    assert PerceptionConfig.from_dict({"workspace": 50.0}).workspace == 50.0
    with pytest.raises(ConfigError, match="workspace"):
        PerceptionConfig.from_dict({"workspace": 1e30})


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(0.5, 4), st.floats(0.1, 1.2), st.floats(0.1, 1.2),
                          st.floats(0.1, 1.5), st.integers(0, 255)), min_size=1, max_size=3),
       st.floats(-2, 2), st.floats(-40, 40))
def test_every_published_map_saves_and_reloads(tmp_path_factory, boxes, eye_x, shift):
    """Property: the scene of any map fused from valid frames is a valid Scene JSON that
    round-trips through save -> load, and so does the map file itself."""
    toys = [ToyBox((x + shift, y, h / 2), (w, d, h), (c, 255 - c, 90)) for x, y, w, d, h, c in boxes]
    p = PerceptionPipeline("geometric")
    for dx in (0.0, 0.3):
        pose = look_at((eye_x + shift + dx, -1.0, 1.5), (shift, 2.0, 0.4))
        p.process(render_boxes(toys, K, pose))
    scene = p.scene()
    again = scene_from_dict(json.loads(json.dumps(scene_to_dict(scene))))
    assert again.ids == scene.ids
    folder = tmp_path_factory.mktemp("m")
    save_scene(scene, folder / "scene.json")
    assert load_scene(folder / "scene.json").ids == scene.ids
    p.save_map(folder / "map.json")
    assert ObjectMap.load(folder / "map.json").to_scene().ids == scene.ids
