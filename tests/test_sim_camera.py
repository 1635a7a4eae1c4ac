"""Camera helpers: look-at poses, projection and back-projection agree with each other."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.sim.camera import backproject, check_pose, depth_to_points, look_at_pose, project_points

K = CameraIntrinsics(width=160, height=120, fx=100.0, fy=100.0, cx=79.5, cy=59.5)


def test_look_at_optical_axes():
    # Standing at the origin looking along +y: right is +x, image-down is -z (world down).
    pose = look_at_pose((0, 0, 1), (0, 5, 1))
    np.testing.assert_allclose(pose[:3, 0], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(pose[:3, 1], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(pose[:3, 2], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(pose[:3, 3], [0, 0, 1])
    check_pose(pose)


def test_look_at_straight_down_is_defined():
    pose = look_at_pose((1, 2, 3), (1, 2, 0))
    check_pose(pose)
    np.testing.assert_allclose(pose[:3, 2], [0, 0, -1], atol=1e-12)


def test_look_at_rejects_same_point_and_nan():
    with pytest.raises(ValueError, match="differ"):
        look_at_pose((1, 1, 1), (1, 1, 1))
    with pytest.raises(ValueError, match="eye"):
        look_at_pose((np.nan, 0, 0), (1, 1, 1))


def test_hand_computed_projection():
    pose = look_at_pose((0, 0, 1), (0, 5, 1))
    # 2 m ahead, 0.5 m to the right, 0.3 m up: u = cx + fx*0.5/2, v = cy - fy*0.3/2.
    uv, z = project_points([[0.5, 2.0, 1.3]], K, pose)
    np.testing.assert_allclose(uv[0], [79.5 + 25.0, 59.5 - 15.0])
    np.testing.assert_allclose(z, [2.0])


def test_points_behind_camera_have_no_pixel():
    pose = look_at_pose((0, 0, 1), (0, 5, 1))
    uv, z = project_points([[0, -2, 1]], K, pose)
    assert z[0] < 0 and np.all(np.isnan(uv[0]))


@settings(max_examples=60, deadline=None)
@given(st.tuples(*[st.floats(-5, 5)] * 3), st.tuples(*[st.floats(-5, 5)] * 3),
       st.floats(0, 159), st.floats(0, 119), st.floats(0.1, 20))
def test_backproject_then_project_roundtrip(eye, target, u, v, z):
    if np.linalg.norm(np.subtract(eye, target)) < 1e-3:
        return
    pose = look_at_pose(eye, target)
    p = backproject([u], [v], [z], K, pose)
    uv, zz = project_points(p, K, pose)
    np.testing.assert_allclose(uv[0], [u, v], atol=1e-6)
    np.testing.assert_allclose(zz[0], z, rtol=1e-9)


def test_depth_to_points_skips_missing():
    depth = np.zeros((120, 160), np.float32)
    depth[10, 20] = 2.0
    depth[30, 40] = np.nan
    pose = look_at_pose((0, 0, 1), (0, 5, 1))
    pts, idx = depth_to_points(depth, K, pose)
    assert pts.shape == (1, 3) and idx.tolist() == [10 * 160 + 20]
    with pytest.raises(ValueError, match="does not match"):
        depth_to_points(np.zeros((5, 5)), K, pose)


@pytest.mark.parametrize("bad, msg", [
    (np.eye(3), "4x4"),
    (np.full((4, 4), np.nan), "finite"),
    (np.diag([2.0, 1, 1, 1]), "orthonormal"),
    (np.diag([-1.0, 1, 1, 1]), "right-handed"),
    ("pose", "4x4"),
    ([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]], "last row"),
])
def test_check_pose_errors(bad, msg):
    with pytest.raises(ValueError, match=msg):
        check_pose(bad)
