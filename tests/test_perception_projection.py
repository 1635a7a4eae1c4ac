"""Projection math against hand-computed points, and frame validation of bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from apeiria_model.perception.frame import CameraIntrinsics, RGBDFrame
from apeiria_model.perception.projection import (FrameError, depth_to_points, pixel_to_point, point_to_pixel,
                                                 validate_frame)
from apeiria_model.perception.toy_frames import look_at

K = CameraIntrinsics(width=4, height=3, fx=2.0, fy=2.0, cx=1.5, cy=1.0)


def _frame(depth, color=None, pose=None, intr=K):
    h, w = np.asarray(depth).shape[:2]
    color = np.zeros((h, w, 3), np.uint8) if color is None else color
    return RGBDFrame(color=color, depth=depth, intrinsics=intr, camera_to_world=np.eye(4) if pose is None else pose)


def test_depth_to_points_hand_computed_identity_pose():
    depth = np.zeros((3, 4), np.float32)
    depth[0, 0] = 2.0   # u=0, v=0: x = (0 - 1.5) / 2 * 2 = -1.5, y = (0 - 1) / 2 * 2 = -1
    depth[2, 3] = 4.0   # u=3, v=2: x = (3 - 1.5) / 2 * 4 = 3, y = (2 - 1) / 2 * 4 = 2
    pts, pix = depth_to_points(depth, K, np.eye(4))
    assert pix.tolist() == [[0, 0], [2, 3]]
    np.testing.assert_allclose(pts, [[-1.5, -1.0, 2.0], [3.0, 2.0, 4.0]])


def test_depth_to_points_applies_pose():
    pose = np.eye(4)
    pose[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]  # optical z -> world x, optical x -> world -y
    pose[:3, 3] = [1.0, 2.0, 3.0]
    depth = np.zeros((3, 4), np.float32)
    depth[0, 0] = 2.0  # camera point (-1.5, -1, 2)
    pts, _ = depth_to_points(depth, K, pose)
    # world = R @ p + t = (2, 1.5, 1) + (1, 2, 3)
    np.testing.assert_allclose(pts, [[3.0, 3.5, 4.0]])


def test_uint16_millimetres_and_missing_values_skipped():
    depth = np.array([[0, 1000, 2000, 65535], [500, 0, 0, 0], [0, 0, 0, 0]], np.uint16)
    pts, pix = depth_to_points(depth, K, np.eye(4))  # 65.535 m is beyond max_depth
    assert pix.tolist() == [[0, 1], [0, 2], [1, 0]]
    np.testing.assert_allclose(pts[:, 2], [1.0, 2.0, 0.5])
    f = np.array([[np.nan, np.inf, -1.0, 0.05], [1.0, 0, 0, 0], [0, 0, 0, 0]], np.float32)
    pts, pix = depth_to_points(f, K, np.eye(4))
    assert pix.tolist() == [[1, 0]]


def test_pixel_point_round_trip():
    k = CameraIntrinsics.from_fov(640, 480)
    pose = look_at((1.0, -2.0, 1.5), (0.0, 1.0, 0.5))
    p = pixel_to_point(100.0, 50.0, 3.0, k, pose)
    u, v, z = point_to_pixel(p, k, pose)
    np.testing.assert_allclose([u[0], v[0], z[0]], [100.0, 50.0, 3.0], atol=1e-9)
    behind = pose[:3, 3] - 2.0 * pose[:3, 2]
    assert point_to_pixel(behind, k, pose)[2][0] < 0


def test_validate_frame_normalises_uint16_depth():
    depth = np.full((3, 4), 1500, np.uint16)
    f = validate_frame(_frame(depth))
    assert f.depth.dtype == np.float32 and np.allclose(f.depth, 1.5)


@pytest.mark.parametrize("make, message", [
    (lambda: _frame(np.ones((3, 4), np.float32), color=np.zeros((3, 5, 3), np.uint8)), "differs from depth size"),
    (lambda: _frame(np.ones((3, 4), np.float32), color=np.zeros((3, 4, 3), np.float32)), "uint8"),
    (lambda: _frame(np.ones((3, 4), np.float32), color=np.zeros((3, 4), np.uint8)), "(H, W, 3)"),
    (lambda: _frame(np.ones((3, 4), np.int32)), "dtype int32"),
    (lambda: _frame(np.ones((3, 4, 1), np.float32)), "(H, W)"),
    (lambda: _frame(np.ones((2, 4), np.float32), color=np.zeros((2, 4, 3), np.uint8)), "intrinsics"),
    (lambda: _frame(np.zeros((3, 4), np.float32)), "no valid reading"),
    (lambda: _frame(np.full((3, 4), np.nan, np.float32)), "no valid reading"),
    (lambda: _frame(np.zeros((0, 0), np.float32), color=np.zeros((0, 0, 3), np.uint8)), "empty"),
    (lambda: _frame(np.ones((3, 4), np.float32), pose=np.full((4, 4), np.nan)), "NaN or inf"),
    (lambda: _frame(np.ones((3, 4), np.float32), pose=np.eye(3)), "shape (4, 4)"),
    (lambda: _frame(np.ones((3, 4), np.float32), pose=np.diag([2.0, 1, 1, 1])), "rigid"),
    (lambda: _frame(np.ones((3, 4), np.float32), pose="identity"), "4x4"),
    (lambda: _frame(np.ones((3, 4), np.float32), intr=replace(K, fx=0.0)), "focal"),
    (lambda: _frame(np.ones((3, 4), np.float32), intr=replace(K, cx=float("nan"))), "cx"),
    (lambda: "not a frame", "RGBDFrame"),
])
def test_validate_frame_rejects_bad_input_with_specific_message(make, message):
    with pytest.raises(FrameError, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate_frame(make())


def test_instance_ids_shape_checked():
    f = replace(_frame(np.ones((3, 4), np.float32)), instance_ids=np.zeros((2, 2), np.int32))
    with pytest.raises(FrameError, match="instance_ids"):
        validate_frame(f)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, (6, 8), elements=st.one_of(
    st.floats(-5, 20, width=32), st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.0]))))
def test_fuzz_depth_values_never_crash(depth):
    k = CameraIntrinsics(8, 6, 5.0, 5.0, 3.5, 2.5)
    frame = RGBDFrame(np.zeros((6, 8, 3), np.uint8), depth, k, np.eye(4))
    try:
        f = validate_frame(frame)
    except FrameError:
        return
    assert np.all(np.isfinite(f.depth)) and np.all((f.depth == 0) | ((f.depth >= 0.1) & (f.depth <= 10)))
    pts, _ = depth_to_points(f.depth, k, f.camera_to_world)
    assert np.all(np.isfinite(pts)) and len(pts) == int((f.depth > 0).sum())
