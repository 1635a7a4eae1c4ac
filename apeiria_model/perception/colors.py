"""Named colour of an object from its mean RGB (the words people use: "the red mug").

Rule-based in HSV rather than nearest-RGB so that shading (a dark red side of a red
box) keeps its hue name: value and saturation only decide black / white / gray /
brown, hue decides the rest.
"""

from __future__ import annotations

import colorsys

import numpy as np

COLOR_NAMES = ("black", "white", "gray", "red", "orange", "yellow", "green", "blue",
               "purple", "pink", "brown")

# Hue bins (degrees, upper bound exclusive) for saturated colours.
_HUE_BINS = ((15, "red"), (40, "orange"), (70, "yellow"), (170, "green"), (255, "blue"),
             (290, "purple"), (335, "pink"), (361, "red"))


def color_name(rgb) -> str:
    """Name of a colour given as 3 numbers in 0..255."""
    r, g, b = (float(np.clip(c, 0, 255)) / 255.0 for c in np.asarray(rgb, float).reshape(3))
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    hue = h * 360.0
    if v < 0.2:
        return "black"
    if s < 0.2:
        if v > 0.8:
            return "white"
        return "gray" if v > 0.3 else "black"
    # Dark, moderately saturated oranges/reds read as brown (wood).
    if 10 <= hue < 45 and v < 0.65:
        return "brown"
    for upper, name in _HUE_BINS:
        if hue < upper:
            return name
    return "red"
