"""Issue 15, part 2: shipped weights prove their integrity (SHA-256 manifest, finite
tensors) and config values are checked before anything is allocated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from apeiria_model.model.config import ApeiriaConfig, ConfigError
from apeiria_model.model.modeling import CheckpointError, ApeiriaForGrounding
from apeiria_model.weights_integrity import MANIFEST, WeightsIntegrityError, verify_manifest, write_manifest

ASSETS = Path(__file__).resolve().parents[1] / "apeiria_model" / "assets"
MODEL = ASSETS / "model"
PERCEPTION = ASSETS / "perception"


@pytest.mark.parametrize("folder", [MODEL, PERCEPTION])
def test_shipped_folders_have_a_matching_manifest(folder):
    assert (folder / MANIFEST).is_file()
    assert verify_manifest(folder) is True
    listed = {line.split("  ", 1)[1] for line in (folder / MANIFEST).read_text().splitlines() if line}
    assert {p.name for p in folder.glob("*.safetensors")} <= listed


@pytest.fixture
def model_copy(tmp_path):
    d = tmp_path / "model"
    shutil.copytree(MODEL, d)
    return d


def test_flipped_bit_is_refused_naming_the_file(model_copy):
    w = model_copy / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-100] ^= 0x01
    w.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not match its SHA-256"):
        ApeiriaForGrounding.from_pretrained(model_copy)


def test_all_nan_weights_refused_even_with_a_fresh_manifest(model_copy):
    from safetensors.torch import load_file, save_file

    w = model_copy / "model.safetensors"
    state = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in load_file(str(w)).items()}
    save_file(state, str(w), metadata={"format": "pt"})
    write_manifest(model_copy)  # an attacker who rewrites the manifest too still meets the finiteness check
    with pytest.raises(CheckpointError, match=r"tensor .* has \d+ non-finite value"):
        ApeiriaForGrounding.from_pretrained(model_copy)


def test_neural_reasoner_with_nan_weights_is_one_line_cli_error(model_copy, tmp_path, capsys, office_scene):
    from safetensors.torch import load_file, save_file

    from apeiria_model.cli.main import main
    from apeiria_model.scene.io import save_scene

    w = model_copy / "model.safetensors"
    save_file({k: torch.full_like(v, float("nan")) for k, v in load_file(str(w)).items()}, str(w))
    (model_copy / MANIFEST).unlink()
    import apeiria_model.reasoning.neural as neural

    scene = tmp_path / "s.json"
    save_scene(office_scene, scene)
    old = neural.DEFAULT_CHECKPOINT
    neural.DEFAULT_CHECKPOINT = model_copy
    try:
        with pytest.raises(SystemExit) as e:
            main(["ground", "--scene", str(scene), "--reasoner", "hybrid", "the red chair"])
    finally:
        neural.DEFAULT_CHECKPOINT = old
    err = capsys.readouterr().err
    assert e.value.code == 2 and len(err.strip().splitlines()) == 1 and "non-finite" in err


def test_manifest_missing_file_and_unlisted_file(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"abc")
    write_manifest(tmp_path)
    (tmp_path / "a.bin").unlink()
    with pytest.raises(WeightsIntegrityError, match="a.bin is missing"):
        verify_manifest(tmp_path)
    with pytest.raises(WeightsIntegrityError, match="not listed"):
        verify_manifest(tmp_path, only=["b.bin"])
    assert verify_manifest(tmp_path / "nope") is False


def _config(**top):
    d = json.loads((MODEL / "config.json").read_text())
    for k, v in top.items():
        if "." in k:
            a, b = k.split(".")
            d[a][b] = v
        else:
            d[k] = v
    return d


@pytest.mark.parametrize("edit, message", [
    ({"backbone.hidden_size": 200000}, "backbone.hidden_size must be at most 16384, got 200000"),
    ({"backbone.hidden_size": "256"}, "backbone.hidden_size must be an integer, got str"),
    ({"backbone.num_layers": 4.0}, "backbone.num_layers must be an integer, got float"),
    ({"max_objects": [1]}, "max_objects must be an integer, got list"),
    ({"box_scale": float("nan")}, "box_scale must be a number, got float"),
    ({"pointer_head": "yes"}, "pointer_head must be true or false, got str"),
    ({"vocab_size": 10**12}, "vocab_size must be at most"),
    ({"lora.target_modules": "q_proj"}, "lora.target_modules must be a list, got str"),
])
def test_config_values_checked_before_allocation(edit, message):
    with pytest.raises(ConfigError) as e:
        ApeiriaConfig.from_dict(_config(**edit))
    assert str(e.value).startswith(message), str(e.value)


def test_shipped_config_still_loads():
    assert ApeiriaConfig.from_dict(_config()).backbone.hidden_size == 256
