"""Named colour of an object from its mean RGB (the words people use: "the red mug").

Rule-based in HSV rather than nearest-RGB so that shading (a dark red side of a red
box) keeps its hue name: value and saturation only decide black / white / gray /
brown / beige, hue decides the rest.

``gain`` is the camera's exposure relative to the albedo: a surface is named by the
brightness it would show under gain * value. A camera with auto exposure shows white
near full value (gain 1); the simulator's lighting shows a white surface at value
0.5-0.75, so the pipeline's config sets the gain fitted on its renders (see
``config/perception.yaml``, ``map.color_gain``). Words follow the generator's colour
vocabulary except silver (no sheen in a Lambertian render: it reads gray).
"""

from __future__ import annotations

import colorsys

import numpy as np

COLOR_NAMES = ("black", "white", "gray", "red", "orange", "yellow", "green", "blue",
               "purple", "pink", "brown", "beige")

# Hue bins (degrees, upper bound exclusive) for saturated colours.
_HUE_BINS = ((15, "red"), (40, "orange"), (70, "yellow"), (170, "green"), (255, "blue"),
             (290, "purple"), (335, "pink"), (361, "red"))


def color_name(rgb, gain: float = 1.0) -> str:
    """Name of a colour given as 3 numbers in 0..255, seen at exposure ``gain`` (> 0)."""
    if not (isinstance(gain, (int, float)) and np.isfinite(gain) and gain > 0):
        raise ValueError(f"gain must be a finite number > 0, got {gain!r}")
    r, g, b = (float(np.clip(c, 0, 255)) / 255.0 for c in np.nan_to_num(np.asarray(rgb, float).reshape(3)))
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    v = min(1.0, v * gain)
    hue = h * 360.0
    if v < 0.2:
        return "black"
    if s < 0.2:
        if v > 0.8:
            return "white"
        return "gray" if v > 0.3 else "black"
    # Light, weakly saturated yellows/oranges are beige (sand, cream); darker, more
    # saturated oranges/reds read as brown (wood).
    if 25 <= hue < 65 and s < 0.3 and v >= 0.6:
        return "beige"
    if 10 <= hue < 45 and v < 0.65:
        return "brown"
    for upper, name in _HUE_BINS:
        if hue < upper:
            return name
    return "red"
