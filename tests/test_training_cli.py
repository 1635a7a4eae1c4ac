"""`apeiria train` argument handling: one clear line, no traceback."""

from __future__ import annotations

import pytest

from apeiria_model.cli.main import main


def _err(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err


def test_stage_needs_config(capsys):
    assert "--stage needs --config" in _err(capsys, ["train", "--stage", "2"])


def test_stage_mismatch(capsys, tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("stage: 3\n")
    assert "says stage: 3" in _err(capsys, ["train", "--stage", "2", "--config", str(p)])


def test_bad_set_and_bad_keys(capsys, tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("stage: 2\n")
    assert "KEY=VALUE" in _err(capsys, ["train", "--stage", "2", "--config", str(p), "--set", "novalue"])
    assert "unknown key" in _err(capsys, ["train", "--stage", "2", "--config", str(p), "--set", "sede=1"])
    assert "cannot read" in _err(capsys, ["train", "--stage", "2", "--config", str(tmp_path / "missing.yaml")])


def test_missing_dataset_is_reported(capsys, tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(f"stage: 2\nrun_dir: {tmp_path / 'run'}\n"
                 f"data: {{data_dir: {tmp_path / 'nodata'}, generate_if_missing: false}}\n")
    assert "manifest.json missing" in _err(capsys, ["train", "--stage", "2", "--config", str(p)])
    assert not (tmp_path / "run").exists()  # nothing written for a run that cannot start


def _stage_configs():
    from apeiria_model.training.config import repo_root

    return sorted(p for p in (repo_root() / "config").glob("train_*.yaml")
                  if p.stem not in ("train_perception",) and not p.stem.startswith("train_curriculum"))


@pytest.mark.parametrize("path", _stage_configs(), ids=lambda p: p.stem)
def test_committed_stage_configs_load(path):
    """Every committed training config (the commands in docs/results.md) validates: a
    typo in a key or a stage mismatch is found here, not an hour into a run."""
    from apeiria_model.training.config import load_train_config

    cfg = load_train_config(path)
    assert cfg.stage in (1, 2, 3)
    assert f"stage{cfg.stage}" in path.stem or "ablation" in path.stem, (path.stem, cfg.stage)
