"""Gazebo SDF worlds: poses compose, includes resolve, meshes load, errors are specific."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.sim import SceneRenderer, look_at_pose
from apeiria_model.perception.sim.sdf import SdfError, label_from_name, load_sdf_world

WORLDS = Path(__file__).parent / "fixtures" / "worlds"
K = CameraIntrinsics.from_fov(160, 120, 69.0)


def _by_label(scene):
    return {o.label: o for o in scene.objects}


def test_inline_world():
    scene, meshes = load_sdf_world(WORLDS / "inline.sdf")
    assert scene.scene_id == "inline_world"
    objs = _by_label(scene)
    assert set(objs) == {"kitchen table", "red ball", "storage cabinet"}  # ground plane, sun ignored
    t = objs["kitchen table"]
    # model (1, 2, 0) + link z 0.35: legs 0..0.7, top 0.7..0.75; legs at +-0.55 +- 0.025 radius.
    np.testing.assert_allclose(t.center, (1.0, 2.0, 0.375), atol=1e-6)
    np.testing.assert_allclose(t.size, (1.2, 0.8, 0.75), atol=1e-6)
    assert t.color == "brown"
    b = objs["red ball"]
    np.testing.assert_allclose(b.center, (-1, 0, 0.15), atol=1e-6)
    assert b.color == "red" and b.size[0] == pytest.approx(0.3, abs=0.01)
    c = objs["storage cabinet"]  # 0.8 x 0.4 box turned 90 degrees about z
    np.testing.assert_allclose(c.size, (0.4, 0.8, 1.0), atol=1e-6)
    assert c.color == "brown"  # Gazebo/Wood material script
    assert [m.instance_id for m in meshes] == [o.id for o in scene.objects]
    red = meshes[b.id].triangle_colors
    np.testing.assert_allclose(red[0], (0.8, 0.1, 0.1), atol=1e-6)


def test_include_world_pose_override_and_name():
    scene, _ = load_sdf_world(WORLDS / "include.sdf")
    objs = _by_label(scene)
    assert set(objs) == {"simple chair", "office chair", "storage box"}
    a, b = objs["simple chair"], objs["office chair"]
    # The include's pose replaces the model's own <pose>5 5 5 ...>.
    np.testing.assert_allclose(a.center, (0.0, 0.0, 0.475), atol=1e-6)
    np.testing.assert_allclose(a.size, (0.45, 0.45, 0.95), atol=1e-6)
    np.testing.assert_allclose(b.center, (2.0, 1.0, 0.475), atol=1e-6)
    assert a.color == "black"


def test_include_turns_the_model():
    _, meshes = load_sdf_world(WORLDS / "include.sdf")
    # The chair back is at local -x; turned 180 degrees, it sits on the +x side of chair 2.
    chair2 = meshes[1]
    high = chair2.vertices[chair2.vertices[:, 2] > 0.6]
    assert high[:, 0].mean() > 2.0 + 0.15


def test_mesh_world(caplog):
    with caplog.at_level(logging.WARNING, logger="apeiria_model.perception.sim.sdf"):
        scene, meshes = load_sdf_world(WORLDS / "meshes.sdf")
    objs = _by_label(scene)
    assert set(objs) == {"crate", "wedge"}
    np.testing.assert_allclose(objs["crate"].size, (0.6, 0.4, 0.3), atol=1e-6)  # OBJ cube with <scale>
    np.testing.assert_allclose(objs["crate"].center, (0, 0, 0.15), atol=1e-6)
    np.testing.assert_allclose(objs["wedge"].size, (0.5, 0.5, 0.8), atol=1e-6)  # STL tetrahedron
    np.testing.assert_allclose(objs["wedge"].center, (1.75, 0.25, 0.4), atol=1e-6)
    assert objs["crate"].color == "orange"
    assert any(".dae" in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("world", ["inline.sdf", "include.sdf", "meshes.sdf"])
def test_render_sdf_world(world):
    from apeiria_model.perception.sim import sweep

    r = SceneRenderer.from_sdf(WORLDS / world, K)
    lo, hi = r.scene.bounds()
    centre = (lo + hi) / 2
    f = r.render(look_at_pose(centre + [0, -4.5, 2.5], centre))
    assert set(np.unique(f.instance_ids).tolist()) - {-1} == set(r.scene.ids)
    # The default orbit around an SDF world (no walls, wide floor) keeps every model in view.
    for pose in sweep(r.scene, 4, room=r.room):
        assert set(np.unique(r.render(pose).instance_ids).tolist()) - {-1} == set(r.scene.ids)


def test_env_search_path(tmp_path, monkeypatch):
    world = tmp_path / "w.sdf"
    world.write_text((WORLDS / "include.sdf").read_text())
    with pytest.raises(SdfError, match="simple_chair"):
        load_sdf_world(world)
    monkeypatch.setenv("GZ_SIM_RESOURCE_PATH", str(WORLDS / "models"))
    scene, _ = load_sdf_world(world)
    assert len(scene) == 3
    monkeypatch.delenv("GZ_SIM_RESOURCE_PATH")
    assert len(load_sdf_world(world, search_paths=[WORLDS / "models"])[0]) == 3
    scene, _ = load_sdf_world(world, skip_missing=True)
    assert [o.label for o in scene.objects] == ["storage box"]


def _world(tmp_path, body: str, version: str = "1.7") -> Path:
    p = tmp_path / "t.sdf"
    p.write_text(f'<?xml version="1.0"?><sdf version="{version}"><world name="t">{body}</world></sdf>')
    return p


def _model(geom: str, pose: str = "0 0 0 0 0 0", extra: str = "") -> str:
    return (f'<model name="m"><pose{extra}>{pose}</pose><link name="l"><visual name="v"><geometry>{geom}'
            f'</geometry></visual></link></model>')


def test_pose_formats(tmp_path):
    box = "<box><size>1 2 0.5</size></box>"
    deg = load_sdf_world(_world(tmp_path, _model(box, "0 0 0 0 0 90", ' degrees="true"')))[0].objects[0]
    np.testing.assert_allclose(deg.size, (2, 1, 0.5), atol=1e-6)
    q = math.sqrt(0.5)
    quat = load_sdf_world(_world(tmp_path, _model(box, f"1 2 3 0 0 {q} {q}", ' rotation_format="quat_xyzw"')))[0]
    np.testing.assert_allclose(quat.objects[0].size, (2, 1, 0.5), atol=1e-6)
    np.testing.assert_allclose(quat.objects[0].center, (1, 2, 3), atol=1e-6)
    # Roll 90 degrees: the box's y extent becomes vertical.
    roll = load_sdf_world(_world(tmp_path, _model(box, f"0 0 0 {math.pi / 2} 0 0")))[0].objects[0]
    np.testing.assert_allclose(roll.size, (1, 0.5, 2), atol=1e-6)


def test_colour_is_the_largest_surface(tmp_path):
    body = ('<model name="door"><link name="l">'
            '<visual name="knob"><pose>0 0.1 1 0 0 0</pose><geometry><sphere><radius>0.05</radius></sphere></geometry>'
            '<material><diffuse>0.9 0.1 0.1 1</diffuse></material></visual>'
            '<visual name="panel"><pose>0 0 1 0 0 0</pose><geometry><box><size>0.9 0.05 2</size></box></geometry>'
            '<material><diffuse>0.95 0.95 0.95 1</diffuse></material></visual></link></model>')
    assert load_sdf_world(_world(tmp_path, body))[0].objects[0].color == "white"


def test_nested_models_compose_poses(tmp_path):
    # Outer model at x = 1 turned 90 degrees; inner model 2 m along the outer's x axis
    # (= world +y); a link 0.5 up; a visual 0.1 along the link's x (= world +y).
    body = ('<model name="outer_set"><pose>1 0 0 0 0 1.5707963267948966</pose>'
            '<model name="inner"><pose>2 0 0 0 0 0</pose><link name="l"><pose>0 0 0.5 0 0 0</pose>'
            '<visual name="v"><pose>0.1 0 0 0 0 0</pose><geometry><box><size>0.2 0.4 0.2</size></box>'
            '</geometry></visual></link></model></model>')
    scene, _ = load_sdf_world(_world(tmp_path, body))
    (o,) = scene.objects
    assert o.label == "outer set"  # one object per top-level model
    np.testing.assert_allclose(o.center, (1.0, 2.1, 0.5), atol=1e-6)
    np.testing.assert_allclose(o.size, (0.4, 0.2, 0.2), atol=1e-6)


def test_capsule_and_ellipsoid(tmp_path):
    cap = load_sdf_world(_world(tmp_path, _model("<capsule><radius>0.1</radius><length>0.5</length></capsule>")))
    assert cap[0].objects[0].size[2] == pytest.approx(0.7, abs=1e-6)
    ell = load_sdf_world(_world(tmp_path, _model("<ellipsoid><radii>0.1 0.2 0.3</radii></ellipsoid>")))
    np.testing.assert_allclose(ell[0].objects[0].size, (0.2, 0.4, 0.6), atol=1e-6)


@pytest.mark.parametrize("body, match", [
    (_model("<box><size>1 1</size></box>"), "expected 3 numbers"),
    (_model("<box><size>1 x 1</size></box>"), "not a number"),
    (_model("<box><size>1 -1 1</size></box>"), "must be > 0"),
    (_model("<sphere><radius>nan</radius></sphere>"), "finite"),
    (_model("<box><size>1e300 1 1</size></box>"), "within"),
    (_model("<box><size>1 1 1</size></box>", "0 0 0"), "pose: expected 6"),
    (_model("<mesh><uri>missing.obj</uri></mesh>"), "missing.obj not found"),
    (_model("<mesh></mesh>"), "without <uri>"),
    (_model("<mesh><uri>https://fuel.gazebosim.org/x/model.obj</uri></mesh>"), "no network"),
    ("<include><uri>model://no_such_model</uri></include>", "model 'no_such_model'"),
    ("<include></include>", "without <uri>"),
    (_model("<mesh><uri>s3://bucket/x.obj</uri></mesh>"), "unsupported URI"),
    ("<include><uri>package://no_pkg/models/x</uri></include>", "package 'no_pkg'"),
])
def test_specific_errors(tmp_path, body, match):
    with pytest.raises(SdfError, match=match):
        load_sdf_world(_world(tmp_path, body))


def test_file_level_errors(tmp_path):
    with pytest.raises(SdfError, match="cannot read"):
        load_sdf_world(tmp_path / "nope.sdf")
    bad = tmp_path / "bad.sdf"
    bad.write_text("<sdf><world><model name='a'></world></sdf>")
    with pytest.raises(SdfError, match="malformed XML"):
        load_sdf_world(bad)
    bad.write_text("<robot name='urdf'/>")
    with pytest.raises(SdfError, match="expected <sdf>"):
        load_sdf_world(bad)
    bad.write_bytes(b"<sdf>\xff\xfe</sdf>")
    with pytest.raises(SdfError):
        load_sdf_world(bad)
    bad.write_text("<sdf version='1.6'><light name='x'/></sdf>")
    with pytest.raises(SdfError, match="no <world> or <model>"):
        load_sdf_world(bad)
    empty_mesh = tmp_path / "empty.obj"
    empty_mesh.write_text("# nothing\n")
    with pytest.raises(SdfError, match="no triangles"):
        load_sdf_world(_world(tmp_path, _model(f"<mesh><uri>{empty_mesh}</uri></mesh>")))


def test_include_cycle_is_caught(tmp_path):
    d = tmp_path / "loop"
    d.mkdir()
    (d / "model.sdf").write_text("<sdf version='1.7'><model name='loop'><include><uri>model://loop</uri>"
                                 "</include></model></sdf>")
    with pytest.raises(SdfError, match="nested deeper"):
        load_sdf_world(_world(tmp_path, "<include><uri>model://loop</uri></include>"))


def test_package_uri(tmp_path, monkeypatch):
    share = tmp_path / "prefix" / "share" / "my_pkg" / "models"
    share.mkdir(parents=True)
    (share / "cube.obj").write_text((WORLDS / "meshes" / "cube.obj").read_text())
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path / "prefix"))
    scene, _ = load_sdf_world(_world(tmp_path, _model("<mesh><uri>package://my_pkg/models/cube.obj</uri></mesh>")))
    np.testing.assert_allclose(scene.objects[0].size, (1, 1, 1), atol=1e-6)


def test_model_file_loads_as_a_world():
    scene, _ = load_sdf_world(WORLDS / "models" / "simple_chair" / "model.sdf")
    assert [o.label for o in scene.objects] == ["simple chair"]


@pytest.mark.parametrize("name, label", [("kitchen_table_1", "kitchen table"), ("OfficeChair", "office chair"),
                                         ("lamp-2b", "lamp b"), ("1234", "object"), ("", "object")])
def test_label_from_name(name, label):
    assert label_from_name(name) == label


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: f"<sdf><world>{t}</world></sdf>".encode()))
def test_fuzz_only_sdf_errors(tmp_path, data):
    p = tmp_path / "fuzz.sdf"
    p.write_bytes(data)
    try:
        scene, meshes = load_sdf_world(p)
    except SdfError:
        return
    assert len(scene) == len(meshes)
