"""Message conversions: images (step, endianness, encodings), camera info, poses,
scenes and grounding results, with hypothesis fuzzing where it fits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ros.conftest import require_ros  # noqa: E402

require_ros()

from sensor_msgs.msg import Image  # noqa: E402

from apeiria_model.reasoning.result import GroundingResult, StepReport, Target  # noqa: E402
from apeiria_ros.conversions.camera import (CameraInfoError, camera_info_to_intrinsics,  # noqa: E402
                                            intrinsics_to_camera_info)
from apeiria_ros.conversions.geometry import (matrix_to_pose, pose_to_matrix, sec_to_stamp,  # noqa: E402
                                              stamp_to_sec, xyz_rpy_to_matrix)
from apeiria_ros.conversions.image import (ImageConversionError, depth_to_image, image_to_depth_m,  # noqa: E402
                                           image_to_numpy, image_to_rgb, numpy_to_image)
from apeiria_ros.conversions.result import msg_to_result, result_to_msg  # noqa: E402
from apeiria_ros.conversions.scene import SceneMessageError, msg_to_scene, scene_to_msg  # noqa: E402
from tests.ros.scenes import office  # noqa: E402


def _padded(arr: np.ndarray, encoding: str, pad: int, big: bool) -> Image:
    """An Image with ``pad`` extra bytes per row and the given byte order."""
    a = arr.astype(arr.dtype.newbyteorder(">" if big else "<"))
    rows = a.reshape(a.shape[0], -1).view(np.uint8)
    data = np.concatenate([rows, np.full((rows.shape[0], pad), 0xAB, np.uint8)], axis=1)
    return Image(height=arr.shape[0], width=arr.shape[1], encoding=encoding, is_bigendian=int(big),
                 step=data.shape[1], data=data.tobytes())


@pytest.mark.parametrize("encoding, dtype, ch", [("rgb8", np.uint8, 3), ("bgr8", np.uint8, 3), ("mono8", np.uint8, 1),
                                                 ("16UC1", np.uint16, 1), ("32FC1", np.float32, 1)])
@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("pad", [0, 3, 8])
def test_images_respect_step_and_endianness(encoding, dtype, ch, big, pad):
    rng = np.random.default_rng(0)
    shape = (5, 7, 3) if ch == 3 else (5, 7)
    arr = (rng.random(shape) * 1000).astype(dtype) if dtype != np.uint8 else rng.integers(0, 255, shape, dtype=np.uint8)
    out = image_to_numpy(_padded(arr, encoding, pad, big))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_colour_and_depth_helpers():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    np.testing.assert_array_equal(image_to_rgb(numpy_to_image(rgb[..., ::-1].copy(), "bgr8")), rgb)
    mono = image_to_rgb(numpy_to_image(rgb[..., 0].copy(), "mono8"))
    assert mono.shape == (2, 3, 3) and (mono[..., 1] == rgb[..., 0]).all()
    depth = np.array([[0.0, 1.234], [np.nan, 65.6]], np.float32)
    mm = image_to_depth_m(depth_to_image(depth, "16UC1"))
    assert math.isnan(mm[0, 0]) and math.isnan(mm[1, 0]) and mm[0, 1] == pytest.approx(1.234)
    assert mm[1, 1] == pytest.approx(65.535)  # clipped to the 16-bit range
    f = image_to_depth_m(depth_to_image(depth, "32FC1"))
    assert math.isnan(f[0, 0]) and f[1, 1] == pytest.approx(65.6)
    with pytest.raises(ImageConversionError, match="not a depth encoding"):
        image_to_depth_m(numpy_to_image(rgb, "rgb8"))
    with pytest.raises(ImageConversionError, match="not a colour encoding"):
        image_to_rgb(depth_to_image(depth, "16UC1"))


@pytest.mark.parametrize("msg, fragment", [
    (Image(height=2, width=2, encoding="yuv422", step=4, data=bytes(8)), "unsupported image encoding 'yuv422'"),
    (Image(height=0, width=2, encoding="mono8", step=2, data=b""), "no pixels"),
    (Image(height=2, width=2, encoding="rgb8", step=5, data=bytes(12)), "step 5 < width*channels*bytes 6"),
    (Image(height=2, width=2, encoding="16UC1", step=4, data=bytes(6)), "data has 6 bytes"),
    (Image(height=100000, width=100000, encoding="mono8", step=100000, data=b""), "exceeds"),
])
def test_bad_images_name_the_problem(msg, fragment):
    import re

    with pytest.raises(ImageConversionError, match=re.escape(fragment)):
        image_to_numpy(msg)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(0, 6), w=st.integers(0, 6), step=st.integers(0, 40), n=st.integers(0, 200),
       enc=st.sampled_from(["rgb8", "bgr8", "mono8", "16UC1", "32FC1", "bayer_rggb8", ""]), big=st.booleans())
def test_image_fuzz_never_raises_anything_else(h, w, step, n, enc, big):
    msg = Image(height=h, width=w, encoding=enc, step=step, is_bigendian=int(big), data=bytes(n))
    try:
        out = image_to_numpy(msg)
    except ImageConversionError:
        return
    assert out.shape[:2] == (h, w)


def test_camera_info_round_trip_and_errors():
    from apeiria_model.perception.frame import CameraIntrinsics

    k = CameraIntrinsics.from_fov(640, 480)
    assert camera_info_to_intrinsics(intrinsics_to_camera_info(k)) == k
    bad = intrinsics_to_camera_info(k)
    bad.k = [0.0] * 9
    with pytest.raises(CameraInfoError, match="no valid focal lengths"):
        camera_info_to_intrinsics(bad)
    bad = intrinsics_to_camera_info(k)
    bad.width = 0
    with pytest.raises(CameraInfoError, match="no image size"):
        camera_info_to_intrinsics(bad)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=6, max_size=6))
def test_pose_round_trip(v):
    m = xyz_rpy_to_matrix(v)
    np.testing.assert_allclose(pose_to_matrix(matrix_to_pose(m)), m, atol=1e-9)


def test_stamps_and_bad_poses():
    assert stamp_to_sec(sec_to_stamp(12.25)) == pytest.approx(12.25)
    with pytest.raises(ValueError, match="6 finite numbers"):
        xyz_rpy_to_matrix([0, 0, float("nan"), 0, 0, 0])
    from geometry_msgs.msg import Pose

    with pytest.raises(ValueError, match="invalid quaternion"):
        p = Pose()
        p.orientation.w = 0.0  # all-zero quaternion
        pose_to_matrix(p)


def test_scene_round_trip_and_validation():
    s = office()
    assert msg_to_scene(scene_to_msg(s)) == s
    m = scene_to_msg(s)
    m.objects[2].bbox.size.y = 0.0
    with pytest.raises(SceneMessageError, match=r"objects\[2\].size\[1\] must be > 0"):
        msg_to_scene(m)
    m = scene_to_msg(s)
    m.objects[1].bbox.center.position.x = float("nan")
    with pytest.raises(SceneMessageError, match=r"objects\[1\].center\[0\] must be finite"):
        msg_to_scene(m)
    m = scene_to_msg(s)
    m.objects[3].id = m.objects[0].id
    with pytest.raises(SceneMessageError, match=r"objects\[3\].id duplicates objects\[0\].id"):
        msg_to_scene(m)


def _nan_viewpoint(m):
    m.has_viewpoint = True
    m.viewpoint_position.x = float("nan")


def _zero_front(m):
    m.objects[1].has_front = True
    m.objects[1].front.x = m.objects[1].front.y = m.objects[1].front.z = 0.0


@pytest.mark.parametrize("mutate, message", [
    # the probes of issue 15 that the node used to accept and the JSON loader refused
    (_nan_viewpoint, "viewpoint.position[0] must be finite"),
    (_zero_front, "objects[1].front must not be the zero vector"),
    (lambda m: setattr(m.objects[0], "features", [0.5, float("nan")]), "objects[0].features[1] must be finite"),
    (lambda m: setattr(m.objects[2], "label", "x" * 1_000_000), "objects[2].label must be at most 256 characters"),
    (lambda m: setattr(m.objects[0], "id", 2**40), "objects[0].id must be an integer in [0, 2^31)"),
    (lambda m: setattr(m.objects[0], "score", float("nan")), "objects[0].score must be finite"),
    (lambda m: setattr(m.objects[0].bbox.center.position, "y", 1e30), "objects[0].center[1] must be a number in"),
])
def test_scene_message_uses_the_json_validator(mutate, message):
    from apeiria_model.scene.io import SceneValidationError, scene_from_dict, scene_to_dict

    m = scene_to_msg(office())
    mutate(m)
    with pytest.raises(SceneMessageError) as e:
        msg_to_scene(m)
    assert str(e.value).startswith(message), str(e.value)
    assert isinstance(e.value, SceneValidationError)
    # the same document as JSON gives the very same message
    doc = scene_to_dict(office(), with_features=True)
    with pytest.raises(SceneValidationError) as e_json:
        back = {"scene_id": doc["scene_id"], "frame_id": doc["frame_id"],
                "objects": [_as_doc(o) for o in m.objects]}
        if m.has_viewpoint:
            p, q = m.viewpoint_position, m.viewpoint_look_at
            back["viewpoint"] = {"position": [p.x, p.y, p.z], "look_at": [q.x, q.y, q.z]}
        scene_from_dict(back)
    assert str(e_json.value) == str(e.value)


def _as_doc(o):
    c, z = o.bbox.center.position, o.bbox.size
    return {"id": o.id, "label": o.label, "center": [c.x, c.y, c.z], "size": [z.x, z.y, z.z],
            "front": [o.front.x, o.front.y, o.front.z] if o.has_front else None,
            "score": None if o.score < 0 else o.score, "features": list(o.features) or None}


def test_scene_message_strings_are_cleaned():
    m = scene_to_msg(office())
    m.objects[0].label = "mug\x1b[31m\x07"
    assert msg_to_scene(m).objects[0].label == "mug\ufffd[31m\ufffd"


def test_grounding_result_round_trip():
    r = GroundingResult(
        instruction="how many mugs", status="ok", reasoner="symbolic",
        targets=[Target(1, "mug", [0.1, 0.2, 0.3], [0.1, 0.1, 0.1], 0.9)], answer=2,
        program="count(filter(scene(), mug))", trace="<think>...</think>",
        steps=[StepReport(0, "filter", "find mugs", "Found 2", [[0, 1, 2]], [1, 2], True),
               StepReport(1, "count", "count them", "2", [[1, 2], []], 2, None),
               StepReport(2, "query", "colour", "red", [], "red", False)],
        verified=True, latency_ms=3.5, message="")
    assert msg_to_result(result_to_msg(r)).to_dict() == r.to_dict()
    r2 = GroundingResult(instruction="x", status="error", reasoner="neural", verified=None, message="why")
    assert msg_to_result(result_to_msg(r2)).to_dict() == r2.to_dict()


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_scene_map_round_trip_property(data):
    from apeiria_model.programs.strategies import scenes

    s = data.draw(scenes(min_objects=0, max_objects=8))
    back = msg_to_scene(scene_to_msg(s))
    assert back.ids == s.ids and back.viewpoint == s.viewpoint
    for a, b in zip(back.objects, s.objects):
        assert (a.label, a.color, a.attributes, a.front, a.score) == (b.label, b.color, b.attributes, b.front, b.score)
        np.testing.assert_allclose(a.center, b.center)
        np.testing.assert_allclose(a.size, b.size)
