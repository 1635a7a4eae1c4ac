"""Trajectories: valid poses in the room, out of furniture, objects in view."""

from __future__ import annotations

import numpy as np
import pytest

from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.sim import Room, check_pose, infer_room, orbit, project_points, sweep, walkthrough
from apeiria_model.scene import Scene, SceneObject

K = CameraIntrinsics.from_fov(640, 480, 69.0)


def _visible_share(scene, pose) -> float:
    uv, z = project_points(scene.centers(), K, pose)
    ok = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < K.width) & (uv[:, 1] >= 0) & (uv[:, 1] < K.height)
    return float(ok.mean())


def _inside_tall_furniture(scene, xy) -> bool:
    for o in scene.objects:
        if o.top > 1.3 and o.bottom < 1.5:  # would put the camera (at 1.5 m) inside it
            if np.all(xy >= o.min_corner[:2]) and np.all(xy <= o.max_corner[:2]):
                return True
    return False


@pytest.fixture
def living_room() -> Scene:
    objs = [
        SceneObject(0, "sofa", (2.0, 0.5, 0.4), (2.0, 0.9, 0.8), front=(0, 1, 0)),
        SceneObject(1, "coffee table", (2.0, 1.8, 0.22), (1.0, 0.6, 0.44)),
        SceneObject(2, "tv stand", (2.0, 3.7, 0.25), (1.4, 0.4, 0.5), front=(0, -1, 0)),
        SceneObject(3, "tv", (2.0, 3.85, 1.2), (1.2, 0.08, 0.7), front=(0, -1, 0)),
        SceneObject(4, "bookshelf", (0.2, 2.0, 0.9), (0.35, 1.0, 1.8), front=(1, 0, 0)),
        SceneObject(5, "plant", (3.7, 3.5, 0.6), (0.45, 0.45, 1.2)),
        SceneObject(6, "armchair", (3.6, 1.8, 0.45), (0.8, 0.8, 0.9), front=(-1, 0, 0)),
        SceneObject(7, "floor lamp", (0.4, 0.4, 0.8), (0.3, 0.3, 1.6)),
    ]
    return Scene("living", tuple(objs))


def _visible_ids(scene, pose) -> set[int]:
    uv, z = project_points(scene.centers(), K, pose)
    ok = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < K.width) & (uv[:, 1] >= 0) & (uv[:, 1] < K.height)
    return {o.id for o, v in zip(scene.objects, ok) if v}


@pytest.mark.parametrize("kind, min_share", [("orbit", 0.5), ("walk", 0.3)])
def test_poses_are_valid_and_keep_objects_in_view(living_room, kind, min_share):
    poses = sweep(living_room, 24, kind=kind)
    room = infer_room(living_room)
    assert len(poses) == 24
    shares, seen = [], set()
    for p in poses:
        check_pose(p)
        assert room.contains_xy(p[:2, 3])[0]
        assert p[2, 3] == pytest.approx(1.5)
        assert not _inside_tall_furniture(living_room, p[:2, 3])
        shares.append(_visible_share(living_room, p))
        seen |= _visible_ids(living_room, p)
    # The orbit looks across the room at everything; the walk, inside this tight room,
    # sees a part at a time but every object over the sweep.
    assert np.median(shares) >= min_share, shares
    assert seen == set(living_room.ids)


def test_walk_moves_and_avoids_furniture_footprints(living_room):
    poses = walkthrough(living_room, 40)
    xy = np.array([p[:2, 3] for p in poses])
    steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    assert steps.max() < 1.0 and steps.mean() > 0.05  # a continuous path that goes somewhere
    for p in xy:
        for o in living_room.objects:
            assert not (np.all(p > o.min_corner[:2]) and np.all(p < o.max_corner[:2])), (p, o.label)


def test_orbit_with_radius_is_a_circle(living_room):
    poses = orbit(living_room, 8, radius=3.0, height=1.2)
    c = np.mean([p[:2, 3] for p in poses], axis=0)
    d = [np.linalg.norm(p[:2, 3] - c) for p in poses]
    np.testing.assert_allclose(d, 3.0, atol=1e-6)
    assert all(p[2, 3] == pytest.approx(1.2) for p in poses)


def test_explicit_room_is_respected(living_room):
    room = Room.from_size(4.2, 4.0, 2.7)
    for p in sweep(living_room, 12, kind="walk", room=room) + sweep(living_room, 12, room=room):
        assert room.contains_xy(p[:2, 3])[0]


def test_tiny_and_empty_scenes():
    one = Scene("one", (SceneObject(0, "mug", (0, 0, 0.05), (0.08, 0.08, 0.1)),))
    assert len(sweep(one, 5, kind="walk")) == 5
    assert len(sweep(Scene("none", ()), 3)) == 3


@pytest.mark.parametrize("args, err", [((0,), ValueError), ((True,), TypeError), (("5",), TypeError),
                                       ((10**6,), ValueError)])
def test_bad_frame_counts(living_room, args, err):
    with pytest.raises(err):
        sweep(living_room, *args)


def test_bad_kind_radius_height(living_room):
    with pytest.raises(ValueError, match="kind"):
        sweep(living_room, 3, kind="fly")
    with pytest.raises(ValueError, match="radius"):
        orbit(living_room, 3, radius=-1.0)
    with pytest.raises(ValueError, match="height"):
        orbit(living_room, 3, height=float("nan"))


def test_walk_never_jumps_across_a_wall_of_furniture():
    # A full-width bookcase row splits the room; waypoints beyond it are unreachable.
    objs = (SceneObject(0, "bookshelf", (2.0, 2.0, 1.0), (4.0, 0.4, 2.0), front=(0, -1, 0)),
            SceneObject(1, "chair", (1.0, 1.0, 0.45), (0.5, 0.5, 0.9)),
            SceneObject(2, "plant", (3.0, 3.2, 0.6), (0.4, 0.4, 1.2)))
    room = Room.from_size(4.0, 4.0)
    xy = np.array([p[:2, 3] for p in walkthrough(Scene("split", objs), 30, room=room)])
    steps = np.linalg.norm(np.diff(np.vstack([xy, xy[:1]]), axis=0), axis=1)
    assert steps.max() < 0.6, steps.max()
    assert len({bool(y > 2.0) for y in xy[:, 1]}) == 1  # stays on one side of the bookcases
