"""Category shapes: label matching by words, boxes filled exactly, fronts respected."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.perception.sim.colors import color_rgb, nearest_color_name
from apeiria_model.perception.sim.room import Room, infer_room, room_mesh
from apeiria_model.perception.sim.shapes import object_mesh, shape_name
from apeiria_model.scene import Scene, SceneObject


@pytest.mark.parametrize("label, shape", [
    ("chair", "chair"), ("office chair", "office_chair"), ("red wooden chair", "chair"), ("chairs", "chair"),
    ("table lamp", "lamp"), ("kitchen_table_1", "table"), ("coffee table", "table"), ("desk", "desk"),
    ("bookshelves", "shelf_unit"), ("tv stand", "cabinet"), ("TV", "screen"), ("computer monitor", "screen"),
    ("potted plant", "plant"), ("small tree", "tree"), ("mug", "mug"), ("water bottle", "bottle"),
    ("picture frame", "picture"),
    ("bedside table", "drawers"), ("fridge", "fridge"), ("washing machine", "washer"), ("toilet", "toilet"),
    ("bathtub", "bathtub"), ("sofa", "sofa"), ("armchair", "sofa"), ("bed", "bed"), ("window", "window"),
    ("flux capacitor", "box"), ("", "box"), ("OfficeChair", "office_chair"),
])
def test_label_matching(label, shape):
    assert shape_name(label) == shape


def test_every_category_fills_its_box():
    from apeiria_model.data.categories import CATEGORIES

    for i, (label, cat) in enumerate(CATEGORIES.items()):
        size = tuple((a + b) / 2 for a, b in zip(cat.size_min, cat.size_max))
        for front in (None, (0, 1, 0), (1, 0, 0), (0.6, -0.8, 0)):
            o = SceneObject(i, label, (1.0, -2.0, 3.0), size, color=cat.colors[0], front=front)
            m = object_mesh(o)
            lo, hi = m.bounds()
            np.testing.assert_allclose(lo, o.min_corner, atol=1e-9, err_msg=label)
            np.testing.assert_allclose(hi, o.max_corner, atol=1e-9, err_msg=label)
            assert m.instance_id == i and m.n_triangles >= 12
            assert np.all((m.triangle_colors >= 0) & (m.triangle_colors <= 1))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["chair", "desk", "lamp", "bed", "sofa", "plant", "mug", "bookshelf", "window", "thing",
                        "tree", "office chair", "toilet", "sink", "bathtub", "fridge", "clock", "washer", "tv"]),
       st.tuples(*[st.floats(0.01, 3.0)] * 3), st.tuples(*[st.floats(-50, 50)] * 3),
       st.one_of(st.none(), st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1))))
def test_any_box_any_front(label, size, center, front):
    if front is not None and np.linalg.norm(front) < 1e-6:
        front = None
    o = SceneObject(0, label, center, size, front=front)
    m = object_mesh(o)
    lo, hi = m.bounds()
    assert np.all(np.isfinite(m.vertices))
    np.testing.assert_allclose(lo, o.min_corner, atol=1e-6)
    np.testing.assert_allclose(hi, o.max_corner, atol=1e-6)


def _back_side(front) -> np.ndarray:
    """Mean xy of a chair's vertices above the seat: the back's position."""
    o = SceneObject(0, "chair", (0, 0, 0.45), (0.5, 0.5, 0.9), front=front)
    m = object_mesh(o)
    high = m.vertices[m.vertices[:, 2] > 0.7]
    return high[:, :2].mean(axis=0)


@pytest.mark.parametrize("front, back", [((0, 1, 0), (0, -1)), ((0, -1, 0), (0, 1)), ((1, 0, 0), (-1, 0)),
                                         ((-1, 0, 0), (1, 0))])
def test_chair_back_is_opposite_its_front(front, back):
    c = _back_side(front)
    assert np.dot(c, back) > 0.15  # the back sits near the edge opposite the front
    assert abs(np.dot(c, [back[1], back[0]])) < 0.05


def test_non_square_object_facing_x_keeps_its_box():
    o = SceneObject(0, "sofa", (0, 0, 0.4), (0.9, 2.0, 0.8), front=(1, 0, 0))  # long along y, faces +x
    m = object_mesh(o)
    lo, hi = m.bounds()
    np.testing.assert_allclose(hi - lo, [0.9, 2.0, 0.8], atol=1e-9)
    back = m.vertices[m.vertices[:, 2] > 0.7]  # only the back rises that high
    assert back[:, 0].mean() < -0.2


def test_object_colour_words():
    np.testing.assert_allclose(color_rgb("red"), (0.80, 0.14, 0.12))
    assert color_rgb("dark red")[0] < color_rgb("red")[0] < color_rgb("light red")[0]
    assert color_rgb("plaid") is None
    assert nearest_color_name((0.9, 0.1, 0.1)) == "red"
    assert nearest_color_name((0.05, 0.05, 0.05)) == "black"
    with pytest.raises(ValueError):
        nearest_color_name((np.nan, 0, 0))
    red = object_mesh(SceneObject(0, "storage box", (0, 0, 0.5), (1, 1, 1), color="red"))
    assert np.allclose(red.triangle_colors, color_rgb("red"))


def test_bad_object_rejected():
    with pytest.raises(ValueError, match="size"):
        object_mesh(SceneObject(0, "chair", (0, 0, 0), (0.5, -1, 1)))
    with pytest.raises(ValueError, match="center"):
        object_mesh(SceneObject(0, "chair", (0, np.nan, 0), (0.5, 1, 1)))


def test_room_goes_flush_behind_wall_hung_objects(office_scene):
    room = infer_room(office_scene)
    assert room.ymax == pytest.approx(2.0)  # the window hangs on the north wall
    assert room.ymin < 0.25 - 0.5  # elsewhere the margin applies
    m = room_mesh(room)
    assert m.instance_id == -1
    lo, hi = m.bounds()
    assert hi[2] >= 2.5 and lo[2] == pytest.approx(0.0)
    assert Room.from_size(4, 3).xmax == 4 and Room.from_size(4, 3).ymax == 3
    with pytest.raises(ValueError):
        Room.from_size(0, 3)
    assert infer_room(Scene("e", ())).contains_xy([0, 0])[0]


def test_room_walls_behind_large_furniture_and_at_the_door():
    from apeiria_model.scene import Viewpoint

    objs = (
        SceneObject(0, "wardrobe", (1.0, 3.7, 1.0), (1.2, 0.6, 2.0), front=(0, -1, 0)),  # back to y = 4
        SceneObject(1, "chair", (3.0, 1.0, 0.45), (0.5, 0.5, 0.9), front=(-1, 0, 0)),  # small: no wall
        SceneObject(2, "table", (2.0, 2.0, 0.4), (1.0, 1.0, 0.8)),
    )
    room = infer_room(Scene("r", objs, viewpoint=Viewpoint((2.0, 0.4, 1.6), (2.0, 2.0, 1.0))))
    assert room.ymax == pytest.approx(4.0)
    assert room.xmax == pytest.approx(3.25 + 0.8)  # the chair's edge plus the margin
    assert room.ymin == pytest.approx(0.4)  # the observer stands in the doorway
    assert room.xmin == pytest.approx(0.4 - 0.8)


def test_object_mesh_exports_to_open3d():
    m = object_mesh(SceneObject(5, "lamp", (0, 0, 0.3), (0.2, 0.2, 0.6), color="yellow"))
    legacy = m.to_legacy()
    assert len(legacy.triangles) == m.n_triangles and legacy.has_vertex_colors()
    c = np.asarray(legacy.vertex_colors)
    assert c.min() >= 0 and c.max() <= 1
    moved = m.transformed(np.array([[1, 0, 0, 2.0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]))
    np.testing.assert_allclose(moved.bounds()[0], m.bounds()[0] + [2, 0, 0])
    from apeiria_model.perception.sim.mesh import ObjectMesh

    with pytest.raises(ValueError, match="colours"):
        ObjectMesh(0, np.zeros((3, 3)), [[0, 1, 2]], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out of range"):
        ObjectMesh(0, np.zeros((3, 3)), [[0, 1, 3]], np.zeros((1, 3)))
