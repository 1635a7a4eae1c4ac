"""`apeiria perceive` end to end on a small scene (few small frames), and its errors."""

from __future__ import annotations

import json

import pytest

from apeiria_model.cli.main import main
from apeiria_model.scene.io import load_scene, save_scene


def test_perceive_writes_scene_and_json_summary(office_scene, tmp_path, capsys):
    scene_path = tmp_path / "office.json"
    save_scene(office_scene, scene_path)
    out = tmp_path / "perceived.json"
    rc = main(["perceive", "--scene", str(scene_path), "--frames", "4", "--size", "320x240", "--json",
               "--out", str(out), "--save-map", str(tmp_path / "map.json")])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 4 and summary["frames_ok"] == 4 and summary["segmenter"] == "geometric"
    assert len(summary["per_frame"]) == 4 and summary["timing_ms"]["total"]["n"] == 4
    m = summary["metrics"]
    for key in ("recall@0.25", "precision@0.25", "recall@0.5", "precision@0.5", "id_stability"):
        assert key in m
    assert m["label_accuracy"] is None  # geometric segments carry no category
    perceived = load_scene(out)
    assert len(perceived) == summary["objects"] and all(o.label == "object" for o in perceived)
    assert (tmp_path / "map.json").is_file()


@pytest.mark.parametrize("argv, message", [
    (["perceive", "--scene", "/nonexistent.json"], "no such file"),
    (["perceive", "--room", "1", "--config", "/nonexistent.yaml"], "cannot read config"),
    (["perceive", "--room", "-1"], "--room must be >= 0"),
])
def test_perceive_bad_input_one_line_error(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_perceive_invalid_scene_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"scene_id": "x", "objects": [{"id": 0, "label": "a", "center": [0, 0], "size": [1, 1, 1]}]}')
    with pytest.raises(SystemExit):
        main(["perceive", "--scene", str(bad)])
    assert "objects[0].center" in capsys.readouterr().err


def test_perceive_rejects_bad_size():
    with pytest.raises(SystemExit):
        main(["perceive", "--room", "1", "--size", "huge"])


def test_perceive_sdf_world(capsys):
    rc = main(["perceive", "--world", "tests/fixtures/worlds/inline.sdf", "--frames", "3", "--size", "160x120",
               "--json", "--no-noise"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames_ok"] == 3 and summary["gt_objects"] >= 1 and "metrics" in summary


def test_perceive_tensorrt_runtime_reports_unavailable_cleanly(capsys):
    pytest.importorskip("onnxruntime")
    try:
        import tensorrt  # noqa: F401
        pytest.skip("tensorrt installed here")
    except ImportError:
        pass
    with pytest.raises(SystemExit) as e:
        main(["perceive", "--room", "5", "--frames", "1", "--size", "160x120", "--segmenter", "learned",
              "--runtime", "tensorrt"])
    assert e.value.code == 2
    assert "TensorRT not available" in capsys.readouterr().err
