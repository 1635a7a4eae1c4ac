"""Ray-cast renderer: depth is z-depth on the hit surface, ids/colours match the objects."""

from __future__ import annotations

import numpy as np
import pytest

from apeiria_model.perception.frame import CameraIntrinsics, RGBDFrame
from apeiria_model.perception.sim import Room, SceneRenderer, SensorNoise, backproject, look_at_pose, project_points
from apeiria_model.scene import Scene, SceneObject

K = CameraIntrinsics.from_fov(160, 120, 69.0)


@pytest.fixture
def renderer(office_scene):
    return SceneRenderer(office_scene, K)


def _front_view(scene):
    vp = scene.default_viewpoint()
    return look_at_pose(vp.position, vp.look_at)


def test_frame_contract(renderer, office_scene):
    pose = _front_view(office_scene)
    f = renderer.render(pose, stamp=1.5)
    assert isinstance(f, RGBDFrame)
    assert f.color.shape == (120, 160, 3) and f.color.dtype == np.uint8
    assert f.depth.shape == (120, 160) and f.depth.dtype == np.float32
    assert f.instance_ids.shape == (120, 160) and f.instance_ids.dtype == np.int32
    assert f.stamp == 1.5 and f.intrinsics == K
    np.testing.assert_allclose(f.camera_to_world, pose)
    seen = set(np.unique(f.instance_ids).tolist())
    assert {0, 4, 6} <= seen and -1 in seen  # desk, a chair, the window, and the room
    assert np.all(f.depth >= 0) and np.all(np.isfinite(f.depth))


def test_depth_backprojects_into_the_hit_object(renderer, office_scene):
    """Meshes fill their boxes exactly, so every pixel of object k lands inside box k."""
    pose = _front_view(office_scene)
    f = renderer.render(pose)
    v, u = np.nonzero((f.instance_ids >= 0) & (f.depth > 0))
    pts = backproject(u, v, f.depth[v, u], K, pose)
    for oid in np.unique(f.instance_ids[v, u]):
        o = office_scene.get(int(oid))
        sel = f.instance_ids[v, u] == oid
        assert np.all(pts[sel] >= o.min_corner - 2e-3), o.label
        assert np.all(pts[sel] <= o.max_corner + 2e-3), o.label


def test_floor_pixels_are_on_the_floor_even_off_axis():
    """Z-depth (not ray length): corner pixels back-project exactly onto the plane z = 0."""
    scene = Scene("empty_floor", (SceneObject(0, "box", (0, 0, 0.5), (0.2, 0.2, 1.0)),))
    r = SceneRenderer(scene, K, room=Room(-10, -10, 10, 10), walls=False)
    pose = look_at_pose((0, -3, 1.5), (0, 0, 0))
    f = r.render(pose)
    for v, u in [(119, 0), (119, 159), (100, 10), (110, 150)]:
        assert f.instance_ids[v, u] == -1 and f.depth[v, u] > 0
        p = backproject([u], [v], [f.depth[v, u]], K, pose)[0]
        assert abs(p[2]) < 1e-4, (u, v, p)


def test_box_top_depth_hand_computed():
    scene = Scene("one_box", (SceneObject(3, "storage box", (0, 0, 0.25), (1.0, 1.0, 0.5)),))
    r = SceneRenderer(scene, K, room=False)
    pose = look_at_pose((0, 0, 2.0), (0, 0, 0))  # straight down from 2 m
    f = r.render(pose)
    assert f.instance_ids[60, 80] == 3
    assert f.depth[60, 80] == pytest.approx(1.5, abs=1e-4)
    # The box's corner (0.5, 0.5, 0.5) projects where the mask ends.
    uv, _ = project_points([[0.5, 0.5, 0.5]], K, pose)
    u, v = np.round(uv[0]).astype(int)
    assert f.instance_ids[v - 1 if v > 60 else v + 1, u - 1 if u > 80 else u + 1] == 3
    assert f.instance_ids[60, 0] == -1 and f.depth[60, 0] == 0.0  # nothing there: no depth


def test_colour_follows_the_scene_colour_and_is_shaded(renderer, office_scene):
    pose = look_at_pose((-0.4, 1.0, 1.0), (-0.4, 1.5, 0.8))  # close to the red mug
    f = renderer.render(pose)
    red = f.color[f.instance_ids == 1].astype(int)
    assert len(red) > 20
    assert np.median(red[:, 0]) > 2 * np.median(red[:, 1])  # red dominates green
    assert red[:, 0].max() - red[:, 0].min() > 15  # shading, not a flat mask


def test_max_range_and_determinism(office_scene):
    pose = _front_view(office_scene)
    near = SceneRenderer(office_scene, K, max_range=3.0).render(pose)
    assert near.depth.max() <= 3.0 and (near.depth == 0).sum() > 0
    a = SceneRenderer(office_scene, K).render(pose)
    b = SceneRenderer(office_scene, K).render(pose)
    assert np.array_equal(a.color, b.color) and np.array_equal(a.depth, b.depth)


def test_camera_outside_the_room_sees_through_the_near_wall(office_scene):
    r = SceneRenderer(office_scene, K)
    assert not r.room.contains_xy([0.0, -4.0])[0]
    f = r.render(look_at_pose((0.3, -4.0, 1.5), (0.3, 1.0, 0.6)))
    assert {0, 4} <= set(np.unique(f.instance_ids).tolist())
    # Depth is measured from the camera, not from the wall the rays skipped.
    assert f.depth[f.instance_ids == 0].min() > 4.0


def test_noise_is_seeded(office_scene):
    pose = _front_view(office_scene)
    clean = SceneRenderer(office_scene, K).render(pose)
    n1 = SceneRenderer(office_scene, K, noise=SensorNoise(seed=3)).render(pose)
    n2 = SceneRenderer(office_scene, K, noise=SensorNoise(seed=3)).render(pose)
    n3 = SceneRenderer(office_scene, K, noise=SensorNoise(seed=4)).render(pose)
    assert np.array_equal(n1.depth, n2.depth) and np.array_equal(n1.color, n2.color)
    assert not np.array_equal(n1.depth, n3.depth)
    assert not np.array_equal(n1.depth, clean.depth)
    assert np.array_equal(n1.instance_ids, clean.instance_ids)  # ground truth stays clean


def test_render_many_stamps(office_scene):
    r = SceneRenderer(office_scene, K)
    frames = r.render_many([_front_view(office_scene)] * 3, dt=0.5)
    assert [f.stamp for f in frames] == [0.0, 0.5, 1.0]


def test_empty_scene_renders_floor():
    f = SceneRenderer(Scene("empty", ()), K).render(look_at_pose((0, -1, 1.5), (0, 1, 0)))
    assert set(np.unique(f.instance_ids).tolist()) == {-1} and f.depth.max() > 0


@pytest.mark.parametrize("pose, msg", [
    (np.eye(3), "4x4"), (np.full((4, 4), np.inf), "finite"), (np.diag([1.0, 2, 1, 1]), "orthonormal")])
def test_bad_pose(renderer, pose, msg):
    with pytest.raises(ValueError, match=msg):
        renderer.render(pose)


def test_bad_construction(office_scene):
    with pytest.raises(TypeError, match="Scene"):
        SceneRenderer({"objects": []})
    with pytest.raises(ValueError, match="focal"):
        SceneRenderer(office_scene, CameraIntrinsics(10, 10, 0.0, 1.0, 5, 5))
    with pytest.raises(ValueError, match="image size"):
        SceneRenderer(office_scene, CameraIntrinsics(0, 10, 1.0, 1.0, 5, 5))
    with pytest.raises(ValueError, match="range"):
        SceneRenderer(office_scene, K, max_range=-1)
    with pytest.raises(ValueError, match="int32"):
        SceneRenderer(Scene("big", (SceneObject(2**40, "box", (0, 0, 0.5), (1, 1, 1)),)), K)
    with pytest.raises(TypeError, match="SensorNoise"):
        SceneRenderer(office_scene, K, noise="loud")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_LABELS = ["chair", "office chair", "desk", "lamp", "bed", "sofa", "plant", "mug", "bookshelf", "window", "tv",
           "toilet", "zorblax", "shelf", "bottle"]
_obj = st.tuples(st.sampled_from(_LABELS), st.tuples(*[st.floats(-3, 3)] * 2 + [st.floats(0, 2)]),
                 st.tuples(*[st.floats(0.005, 4.0)] * 3),
                 st.sampled_from([None, (0, 1, 0), (-1, 0, 0), (0.3, -0.7, 0.2), (0, 0, 1)]),
                 st.sampled_from([None, "red", "dark blue", "plaid"]))


@settings(max_examples=15, deadline=None)
@given(st.lists(_obj, max_size=8), st.tuples(*[st.floats(-6, 6)] * 2 + [st.floats(0.2, 4)]))
def test_random_scenes_render_sanely(objs, eye):
    scene = Scene("fuzz", tuple(SceneObject(i, lab, c, s, color=col, front=f)
                                for i, (lab, c, s, f, col) in enumerate(objs)))
    k = CameraIntrinsics.from_fov(40, 30, 80.0)
    r = SceneRenderer(scene, k)
    target = np.array([0.0, 0.0, 0.5])
    if np.linalg.norm(np.subtract(eye, target)) < 1e-3:
        return
    f = r.render(look_at_pose(eye, target))
    assert np.all(np.isfinite(f.depth)) and np.all(f.depth >= 0) and f.depth.max() <= r.max_range
    assert set(np.unique(f.instance_ids).tolist()) <= set(scene.ids) | {-1}
    assert f.color.dtype == np.uint8 and f.color.shape == (30, 40, 3)
