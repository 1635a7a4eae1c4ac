"""Top-down pictures: a PNG with the targets in the highlight colour; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from apeiria_model.perception.sim import orbit
from apeiria_model.perception.sim.topdown import HIGHLIGHT, draw_topdown
from apeiria_model.scene import SceneObject


def _has_colour(img: np.ndarray, hex_colour: str, tol: int = 30) -> int:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(img[..., :3].astype(int) - rgb).max(axis=-1) <= tol).sum())


def test_draws_png_with_highlight(office_scene, tmp_path):
    plain = draw_topdown(office_scene, tmp_path / "a.png")
    marked = draw_topdown(office_scene, tmp_path / "sub" / "b.png", highlight_ids=[1], title="the red mug")
    a = np.asarray(Image.open(plain).convert("RGB"))
    b = np.asarray(Image.open(marked).convert("RGB"))
    assert a.shape[0] > 200 and a.shape[1] > 200
    assert _has_colour(b, HIGHLIGHT) > _has_colour(a, HIGHLIGHT) + 20


def test_overlay_and_cameras(office_scene, tmp_path):
    moved = office_scene.with_objects(
        [SceneObject(o.id, o.label, (o.center[0] + 0.1, o.center[1], o.center[2]), o.size) for o in office_scene])
    p = draw_topdown(office_scene, tmp_path / "o.png", other_scene=moved, cameras=orbit(office_scene, 6),
                     labels=("ground truth", "perceived"))
    img = np.asarray(Image.open(p).convert("RGB"))
    assert _has_colour(img, "#1f5fd6") > 50  # the dashed overlay
    assert _has_colour(img, "#f0a030") > 50  # camera cones


def test_errors(office_scene, tmp_path):
    with pytest.raises(ValueError, match="highlight ids not in the scene: \\[42\\]"):
        draw_topdown(office_scene, tmp_path / "x.png", highlight_ids=[42])
    with pytest.raises(TypeError, match="Scene"):
        draw_topdown([], tmp_path / "x.png")
    with pytest.raises(TypeError, match="other_scene"):
        draw_topdown(office_scene, tmp_path / "x.png", other_scene="gt")
