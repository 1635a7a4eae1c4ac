"""What a segmenter returns for one frame, and the interface every segmenter has."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from apeiria_model.perception.frame import RGBDFrame


@dataclass
class Segment:
    """One object hypothesis in one frame.

    pixels: [N, 2] (row, col) full-resolution pixel indices of the sampled points;
    points: [N, 3] world points; colors: [N, 3] uint8 RGB of those points.
    label/confidence: the classifier's answer (None when the segmenter has none);
    features: the classifier's per-object feature vector (None for geometric).
    segment_id: unique within its frame; support_id: the segment_id of the segment this
    one stands on (a mug on a desk), so the map keeps the two apart.
    """

    pixels: np.ndarray
    points: np.ndarray
    colors: np.ndarray
    label: str | None = None
    confidence: float | None = None
    features: np.ndarray | None = field(default=None, repr=False)
    segment_id: int = -1
    support_id: int | None = None
    parts: np.ndarray | None = field(default=None, repr=False)  # [N] int part index per point, proposed
    # by weak seams (GeometricConfig.part_brightness_break); the learned segmenter may split there

    def subset(self, mask: np.ndarray, segment_id: int) -> "Segment":
        """The points selected by ``mask`` as a new unlabelled segment (same support)."""
        return Segment(pixels=self.pixels[mask], points=self.points[mask], colors=self.colors[mask],
                       segment_id=segment_id, support_id=self.support_id)

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def mean_rgb(self) -> np.ndarray:
        return self.colors.reshape(-1, 3).mean(axis=0) if len(self) else np.zeros(3)

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """(centre, size) of the axis-aligned box around the points."""
        lo, hi = self.points.min(axis=0), self.points.max(axis=0)
        return (lo + hi) / 2.0, hi - lo


@runtime_checkable
class Segmenter(Protocol):
    """Splits one validated frame into object segments (background removed)."""

    name: str

    def segment(self, frame: RGBDFrame) -> list[Segment]: ...
