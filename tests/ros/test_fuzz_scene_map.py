"""Fuzzing the SceneMap -> Scene conversion (the node's way in for maps): every message
ROS can carry converts to a valid Scene or is refused with SceneMessageError, whose text
is the JSON loader's. `make test` runs a few hundred messages; `make fuzz` 100000."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tests.ros.conftest import require_ros  # noqa: E402

require_ros()

from apeiria_ros.conversions.scene import SceneMessageError, msg_to_scene  # noqa: E402
from apeiria.msg import DetectedObject, SceneMap  # noqa: E402
from tests.fuzz.budget import FUZZ  # noqa: E402
from tests.fuzz.strategies import HOSTILE_TEXT  # noqa: E402

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-5, 5) | st.sampled_from([0.0, 1e-300, 1e30])
INT64 = st.integers(-(2 ** 63), 2 ** 63 - 1) | st.integers(0, 40)
ROS_TEXT = HOSTILE_TEXT.map(lambda t: t.encode("utf-8", "replace").decode("utf-8"))  # ROS strings are UTF-8


def _vec(target, values):
    target.x, target.y, target.z = values


@st.composite
def scene_maps(draw):
    m = SceneMap()
    m.scene_id = draw(ROS_TEXT)
    m.header.frame_id = draw(ROS_TEXT)
    for _ in range(draw(st.integers(0, 5))):
        o = DetectedObject()
        o.id = draw(INT64)
        o.label = draw(st.sampled_from(["chair", "table"]) | ROS_TEXT)
        o.score = draw(ANY_FLOAT)
        p = o.bbox.center.position
        p.x, p.y, p.z = draw(st.tuples(ANY_FLOAT, ANY_FLOAT, ANY_FLOAT))
        _vec(o.bbox.size, draw(st.tuples(ANY_FLOAT, ANY_FLOAT, ANY_FLOAT) | st.tuples(*[st.floats(0.05, 2)] * 3)))
        o.color = draw(st.sampled_from(["", "red"]) | ROS_TEXT)
        o.attributes = draw(st.lists(ROS_TEXT, max_size=3))
        o.has_front = draw(st.booleans())
        _vec(o.front, draw(st.tuples(ANY_FLOAT, ANY_FLOAT, ANY_FLOAT)))
        o.features = draw(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), max_size=6))
        m.objects.append(o)
    m.has_viewpoint = draw(st.booleans())
    _vec(m.viewpoint_position, draw(st.tuples(ANY_FLOAT, ANY_FLOAT, ANY_FLOAT)))
    _vec(m.viewpoint_look_at, draw(st.tuples(ANY_FLOAT, ANY_FLOAT, ANY_FLOAT)))
    return m


@FUZZ
@given(scene_maps())
def test_fuzz_scene_map_conversion(m):
    try:
        scene = msg_to_scene(m)
    except SceneMessageError as e:
        assert str(e) and "\n" not in str(e)
        return
    for obj in scene:
        assert 0 <= obj.id < 2 ** 31 and all(math.isfinite(v) for v in (*obj.center, *obj.size))
