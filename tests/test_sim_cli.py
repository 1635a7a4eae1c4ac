"""`apeiria render`: files, encodings, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apeiria_model.cli.main import main
from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.sim import SceneRenderer
from apeiria_model.scene.io import load_scene, save_scene

WORLDS = Path(__file__).parent / "fixtures" / "worlds"


def test_render_scene(office_scene, tmp_path):
    scene_file = tmp_path / "office.json"
    save_scene(office_scene, scene_file)
    out = tmp_path / "out"
    rc = main(["render", "--scene", str(scene_file), "--frames", "2", "--width", "80", "--height", "60",
               "--trajectory", "walk", "--out", str(out)])
    assert rc == 0
    doc = json.loads((out / "poses.json").read_text())
    assert doc["intrinsics"]["width"] == 80 and len(doc["frames"]) == 2 and doc["depth_scale"] == 0.001
    f0 = doc["frames"][0]
    color = np.asarray(Image.open(out / f0["color"]))
    depth = np.asarray(Image.open(out / f0["depth"]))
    inst = np.asarray(Image.open(out / f0["instances"]))
    assert color.shape == (60, 80, 3) and depth.dtype == np.uint16 and inst.dtype == np.uint16
    # The files hold exactly what the renderer produces for that pose.
    k = CameraIntrinsics(**doc["intrinsics"])
    frame = SceneRenderer(office_scene, k).render(np.array(f0["camera_to_world"]))
    assert np.abs(depth.astype(float) / 1000 - frame.depth).max() <= 0.0006
    assert np.array_equal(inst.astype(int) - 1, frame.instance_ids)
    assert sorted(set(np.unique(inst).tolist()) - {0}) == [i + 1 for i in f0["visible_ids"]]
    assert (out / "topdown.png").stat().st_size > 1000


def test_render_world_writes_scene(tmp_path, capsys):
    out = tmp_path / "w"
    rc = main(["render", "--world", str(WORLDS / "include.sdf"), "--frames", "1", "--width", "64", "--height", "48",
               "--noise", "--out", str(out)])
    assert rc == 0
    assert [o.label for o in load_scene(out / "scene.json").objects] == ["simple chair", "office chair", "storage box"]
    assert json.loads((out / "poses.json").read_text())["noise"]["seed"] == 0
    assert "wrote 1 frames" in capsys.readouterr().out


@pytest.mark.parametrize("args, msg", [
    (["--scene", "/no/such/scene.json"], "cannot read /no/such/scene.json"),
    (["--world", "/no/such/world.sdf"], "cannot read /no/such/world.sdf"),
    (["--world", str(WORLDS / "models")], "cannot read"),
    (["--scene", "{bad}"], "cannot read"),
])
def test_one_line_errors(tmp_path, capsys, args, msg):
    with pytest.raises(SystemExit) as e:
        main(["render", *args, "--out", str(tmp_path / "x")])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert msg in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_invalid_scene_and_sdf(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"scene_id": "x", "objects": [{"id": 0, "label": "chair", "center": [0, 0], "size": [1, 1, 1]}]}')
    with pytest.raises(SystemExit):
        main(["render", "--scene", str(bad), "--out", str(tmp_path / "o")])
    assert "objects[0].center must have 3 elements" in capsys.readouterr().err
    sdf = tmp_path / "bad.sdf"
    sdf.write_text("<sdf><world>")
    with pytest.raises(SystemExit):
        main(["render", "--world", str(sdf), "--out", str(tmp_path / "o")])
    assert "malformed XML" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [["--frames", "0"], ["--width", "-3"], ["--hfov", "500"], ["--room", "3"],
                                   ["--max-range", "100"],
                                   ["--trajectory", "fly"]])
def test_bad_options_exit_2(office_scene, tmp_path, extra):
    scene_file = tmp_path / "s.json"
    save_scene(office_scene, scene_file)
    with pytest.raises(SystemExit) as e:
        main(["render", "--scene", str(scene_file), "--out", str(tmp_path / "o"), *extra])
    assert e.value.code == 2
