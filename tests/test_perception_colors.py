"""Colour names under an exposure gain, beige, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.perception.colors import COLOR_NAMES, color_name
from apeiria_model.perception.pipeline import ConfigError, PerceptionConfig


def test_gain_turns_a_dimly_lit_white_into_white_but_keeps_gray_gray():
    dim_white, gray = (150, 152, 155), (100, 101, 104)   # values 0.61 and 0.41
    assert color_name(dim_white) == "gray"              # gain 1: as a camera would show it
    assert color_name(dim_white, 1.55) == "white"
    assert color_name(gray, 1.55) == "gray"
    assert color_name((20, 20, 22), 1.55) == "black"


def test_beige_is_light_and_weakly_saturated_brown_is_dark_and_saturated():
    assert color_name((222, 205, 170)) == "beige"       # hue 40, s 0.23, v 0.87
    assert color_name((139, 90, 43)) == "brown"
    assert color_name((230, 200, 60)) == "yellow"       # saturated: not beige


@pytest.mark.parametrize("gain", [0, -1.0, float("nan"), float("inf"), "1.5", None])
def test_bad_gain_is_refused(gain):
    with pytest.raises(ValueError, match="gain"):
        color_name((100, 100, 100), gain)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
       st.floats(min_value=0.1, max_value=5.0))
def test_any_three_numbers_get_a_known_name(rgb, gain):
    assert color_name(np.array(rgb), gain) in COLOR_NAMES


@pytest.mark.parametrize("value", [0, -0.5, ".nan"])
def test_config_refuses_a_non_positive_color_gain(tmp_path, value):
    f = tmp_path / "p.yaml"
    f.write_text(f"map:\n  color_gain: {value}\n")
    with pytest.raises(ConfigError, match="color_gain"):
        PerceptionConfig.from_yaml(f)


def test_shipped_config_sets_the_fitted_gain():
    from apeiria_model.perception.oracle_gap import DEFAULT_CONFIG
    assert PerceptionConfig.from_yaml(DEFAULT_CONFIG).map.color_gain == pytest.approx(1.55)
