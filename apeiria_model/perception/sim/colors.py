"""Colour names <-> RGB for the simulator.

Scenes name colours in words ("red", "dark brown", "light grey"); the renderer needs
RGB albedo in [0, 1], and the SDF loader needs the reverse (an RGB material -> the
nearest word, so a loaded world can be queried by colour).
"""

from __future__ import annotations

import numpy as np

# Albedo (linear-ish, 0..1): values picked to look like the named colour once shaded.
COLOR_TABLE: dict[str, tuple[float, float, float]] = {
    "white": (0.92, 0.92, 0.90),
    "black": (0.10, 0.10, 0.11),
    "grey": (0.52, 0.53, 0.55),
    "gray": (0.52, 0.53, 0.55),
    "silver": (0.74, 0.75, 0.78),
    "brown": (0.50, 0.32, 0.18),
    "beige": (0.86, 0.79, 0.64),
    "tan": (0.80, 0.68, 0.50),
    "cream": (0.95, 0.92, 0.80),
    "red": (0.80, 0.14, 0.12),
    "maroon": (0.50, 0.08, 0.10),
    "orange": (0.95, 0.50, 0.10),
    "yellow": (0.95, 0.82, 0.15),
    "gold": (0.85, 0.68, 0.22),
    "green": (0.20, 0.58, 0.24),
    "olive": (0.45, 0.48, 0.18),
    "teal": (0.10, 0.50, 0.50),
    "cyan": (0.20, 0.75, 0.85),
    "blue": (0.16, 0.32, 0.78),
    "navy": (0.08, 0.12, 0.40),
    "purple": (0.48, 0.22, 0.62),
    "violet": (0.56, 0.35, 0.80),
    "magenta": (0.82, 0.20, 0.62),
    "pink": (0.94, 0.58, 0.70),
    "wooden": (0.62, 0.44, 0.26),
    "wood": (0.62, 0.44, 0.26),
}


def color_rgb(name: str | None, default: tuple[float, float, float] | None = None) -> np.ndarray | None:
    """RGB albedo for a colour phrase ("red", "dark blue", "light-grey"), else ``default``.

    The last known colour word in the phrase sets the hue; "dark" / "light" scale it.
    Returns ``None`` only when nothing matches and no default is given.
    """
    if isinstance(name, str):
        words = name.lower().replace("-", " ").replace("_", " ").split()
        hue = next((w for w in reversed(words) if w in COLOR_TABLE), None)
        if hue is not None:
            rgb = np.asarray(COLOR_TABLE[hue], dtype=float)
            if "dark" in words:
                rgb = rgb * 0.55
            elif "light" in words or "pale" in words:
                rgb = rgb + (1.0 - rgb) * 0.45
            return np.clip(rgb, 0.0, 1.0)
    return None if default is None else np.asarray(default, dtype=float)


def nearest_color_name(rgb) -> str:
    """The table word closest to an RGB triple in [0, 1] (used for SDF materials)."""
    v = np.asarray(rgb, dtype=float).reshape(-1)[:3]
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise ValueError(f"rgb must be 3 finite numbers, got {rgb!r}")
    names = [n for n in COLOR_TABLE if n not in ("gray", "wood", "wooden", "tan", "cream", "violet")]
    table = np.array([COLOR_TABLE[n] for n in names])
    return names[int(np.argmin(np.linalg.norm(table - np.clip(v, 0, 1), axis=1)))]


def shade(rgb, factor: float) -> np.ndarray:
    """A darker (factor < 1) or lighter (> 1) variant, for parts of one object."""
    rgb = np.asarray(rgb, dtype=float)
    if factor <= 1.0:
        return np.clip(rgb * factor, 0.0, 1.0)
    return np.clip(rgb + (1.0 - rgb) * (factor - 1.0), 0.0, 1.0)
