"""Depth-camera noise: range-dependent depth error, missing depth, blurred colour.

Modelled on structured-light / stereo RGB-D sensors: the depth error grows with range,
pixels drop out at random and (much more often) along depth discontinuities, and the
colour image is slightly soft. Everything is drawn from a seeded generator so the same
seed and frame index give the same image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class SensorNoise:
    """Noise options (all >= 0; zero disables that effect).

    depth_sigma_per_m: depth standard deviation per metre of range (sigma = k * z).
    missing_depth_fraction: share of valid pixels randomly set to 0 (no return).
    edge_missing_prob: probability that a pixel on a depth edge loses its depth.
    edge_threshold_m: depth jump between neighbours that counts as an edge.
    blur_sigma: Gaussian blur of the colour image, pixels.
    color_sigma: additive colour noise, in 0-255 units.
    exposure_sigma: per-frame colour gain exp(N(0, sigma)) (auto-exposure drift; 0 = off).
    seed: base seed; frame ``i`` uses the generator seeded with (seed, i).
    """

    depth_sigma_per_m: float = 0.004
    missing_depth_fraction: float = 0.01
    edge_missing_prob: float = 0.5
    edge_threshold_m: float = 0.1
    blur_sigma: float = 0.6
    color_sigma: float = 2.0
    exposure_sigma: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("depth_sigma_per_m", "missing_depth_fraction", "edge_missing_prob",
                     "edge_threshold_m", "blur_sigma", "color_sigma", "exposure_sigma"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise ValueError(f"SensorNoise.{name} must be a finite number >= 0, got {v!r}")
        for name in ("missing_depth_fraction", "edge_missing_prob"):
            if getattr(self, name) > 1:
                raise ValueError(f"SensorNoise.{name} must be <= 1, got {getattr(self, name)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"SensorNoise.seed must be an integer >= 0, got {self.seed!r}")

    def rng(self, frame_index: int) -> np.random.Generator:
        return np.random.default_rng([int(self.seed), int(frame_index)])

    def apply(self, color: np.ndarray, depth: np.ndarray, frame_index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Noisy copies of (uint8 [H, W, 3] colour, float32 [H, W] depth, 0 = missing)."""
        rng = self.rng(frame_index)
        depth = np.asarray(depth, dtype=np.float32)
        valid = depth > 0
        out_d = depth.copy()
        if self.depth_sigma_per_m > 0:
            noise = rng.standard_normal(depth.shape, dtype=np.float32)
            out_d = np.where(valid, depth + noise * (self.depth_sigma_per_m * depth), 0.0).astype(np.float32)
            out_d[out_d < 0] = 0.0
        drop = np.zeros(depth.shape, dtype=bool)
        if self.missing_depth_fraction > 0:
            drop |= rng.random(depth.shape, dtype=np.float32) < self.missing_depth_fraction
        if self.edge_missing_prob > 0:
            edges = depth_edges(depth, self.edge_threshold_m)
            drop |= edges & (rng.random(depth.shape, dtype=np.float32) < self.edge_missing_prob)
        out_d[drop] = 0.0
        c = np.array(color, dtype=np.float32)  # a copy: the caller's image is never modified
        if self.blur_sigma > 0:
            c = ndimage.gaussian_filter(c, sigma=(self.blur_sigma, self.blur_sigma, 0))
        if self.exposure_sigma > 0:
            c *= np.float32(np.exp(rng.normal(0.0, self.exposure_sigma)))
        if self.color_sigma > 0:
            c += rng.standard_normal(c.shape, dtype=np.float32) * np.float32(self.color_sigma)
        out_c = np.clip(np.rint(c), 0, 255).astype(np.uint8)
        return out_c, out_d


def depth_edges(depth: np.ndarray, threshold_m: float) -> np.ndarray:
    """Pixels next to a depth jump larger than ``threshold_m`` (or to missing depth)."""
    d = np.asarray(depth, dtype=np.float32)
    valid = d > 0
    edges = np.zeros(d.shape, dtype=bool)
    for axis in (0, 1):
        diff = np.abs(np.diff(d, axis=axis)) > threshold_m
        vdiff = np.diff(valid.astype(np.int8), axis=axis) != 0
        jump = diff | vdiff
        if axis == 0:
            edges[:-1] |= jump
            edges[1:] |= jump
        else:
            edges[:, :-1] |= jump
            edges[:, 1:] |= jump
    return edges & valid
