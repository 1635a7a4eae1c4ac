"""The docs pictures regenerate from code (so docs/images/sim_*.png never go stale by hand)."""

from __future__ import annotations

import pytest
from PIL import Image

from apeiria_model.perception.sim import docs_images


@pytest.mark.slow
def test_docs_images_regenerate(tmp_path):
    assert docs_images.main(["--out", str(tmp_path)]) == 0
    for name, min_w in (("sim_frame.png", 1400), ("sim_topdown.png", 500), ("sim_shapes.png", 1500)):
        p = tmp_path / name
        assert p.stat().st_size < 500_000
        assert Image.open(p).size[0] >= min_w
