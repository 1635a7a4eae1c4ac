"""Sensor noise: grows with range, drops pixels (more at edges), seeded."""

from __future__ import annotations

import numpy as np
import pytest

from apeiria_model.perception.sim.noise import SensorNoise, depth_edges


def _flat(z: float) -> tuple[np.ndarray, np.ndarray]:
    return np.full((200, 200, 3), 128, np.uint8), np.full((200, 200), z, np.float32)


def test_depth_noise_grows_with_range():
    n = SensorNoise(depth_sigma_per_m=0.01, missing_depth_fraction=0, edge_missing_prob=0, blur_sigma=0, color_sigma=0)
    sig = []
    for z in (1.0, 4.0):
        _, d = n.apply(*_flat(z))
        sig.append(float(np.std(d - z)))
    assert sig[0] == pytest.approx(0.01, rel=0.1)
    assert sig[1] == pytest.approx(0.04, rel=0.1)


def test_missing_fraction_and_edges():
    n = SensorNoise(depth_sigma_per_m=0, missing_depth_fraction=0.2, edge_missing_prob=0, blur_sigma=0, color_sigma=0)
    _, d = n.apply(*_flat(2.0))
    assert (d == 0).mean() == pytest.approx(0.2, abs=0.02)
    # A depth step: every pixel along it drops with probability 1.
    depth = np.full((50, 50), 2.0, np.float32)
    depth[:, 25:] = 3.0
    e = SensorNoise(depth_sigma_per_m=0, missing_depth_fraction=0, edge_missing_prob=1.0, blur_sigma=0, color_sigma=0)
    _, d = e.apply(np.zeros((50, 50, 3), np.uint8), depth)
    assert np.all(d[:, 24:26] == 0) and np.all(d[:, :24] == 2.0) and np.all(d[:, 26:] == 3.0)
    assert depth_edges(depth, 0.1)[:, 24:26].all()


def test_blur_softens_colour_and_missing_stays_missing():
    c = np.zeros((40, 40, 3), np.uint8)
    c[:, 20:] = 255
    d = np.zeros((40, 40), np.float32)
    out_c, out_d = SensorNoise(blur_sigma=2.0, color_sigma=0).apply(c, d)
    assert 0 < out_c[5, 19, 0] < 255 and np.all(out_d == 0)


def test_exposure_changes_brightness_per_frame():
    n = SensorNoise(depth_sigma_per_m=0, missing_depth_fraction=0, edge_missing_prob=0, blur_sigma=0,
                    color_sigma=0, exposure_sigma=0.3, seed=1)
    means = [float(n.apply(*_flat(2.0), frame_index=i)[0].mean()) for i in range(6)]
    assert max(means) - min(means) > 10
    assert SensorNoise(exposure_sigma=0, color_sigma=0, blur_sigma=0).apply(*_flat(2.0))[0].mean() == 128


def test_seeded_per_frame():
    n = SensorNoise(seed=7)
    a = n.apply(*_flat(2.0), frame_index=0)
    b = n.apply(*_flat(2.0), frame_index=0)
    c = n.apply(*_flat(2.0), frame_index=1)
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("kw", [dict(depth_sigma_per_m=-1), dict(missing_depth_fraction=1.5),
                                dict(blur_sigma=float("nan")), dict(seed=-1), dict(seed=1.5),
                                dict(edge_missing_prob="x"), dict(exposure_sigma=-0.1)])
def test_bad_options(kw):
    with pytest.raises(ValueError, match="SensorNoise"):
        SensorNoise(**kw)
