"""Object-centric scene: the data every other part of apeiria reads.

A scene is a list of objects, each an axis-aligned 3D box (centre + size, metres,
z up) with a free-text label and optional colour, attributes, facing direction,
confidence and feature vector. Scenes are immutable once built; perception builds
new ones as the map changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import numpy as np

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Viewpoint:
    """An observer for view-dependent words (left/right/front/behind)."""

    position: Vec3
    look_at: Vec3

    def forward(self) -> np.ndarray:
        """Unit viewing direction projected on the ground plane (z ignored)."""
        d = np.asarray(self.look_at, float) - np.asarray(self.position, float)
        d[2] = 0.0
        n = float(np.linalg.norm(d))
        return d / n if n > 1e-9 else np.array([0.0, 1.0, 0.0])

    def right(self) -> np.ndarray:
        f = self.forward()
        return np.array([f[1], -f[0], 0.0])  # forward x up (z)


@dataclass(frozen=True)
class SceneObject:
    id: int
    label: str
    center: Vec3
    size: Vec3
    color: str | None = None
    attributes: tuple[str, ...] = ()
    front: Vec3 | None = None
    score: float | None = None
    # Optional appearance/geometry feature (perception output); not part of JSON v1
    # core fields but carried through as "features" when present.
    features: tuple[float, ...] | None = field(default=None, compare=False, repr=False)

    # --- geometry helpers (cheap, used everywhere) -------------------------------
    @property
    def c(self) -> np.ndarray:
        return np.asarray(self.center, dtype=float)

    @property
    def s(self) -> np.ndarray:
        return np.asarray(self.size, dtype=float)

    @property
    def min_corner(self) -> np.ndarray:
        return self.c - self.s / 2.0

    @property
    def max_corner(self) -> np.ndarray:
        return self.c + self.s / 2.0

    @property
    def bottom(self) -> float:
        return float(self.center[2] - self.size[2] / 2.0)

    @property
    def top(self) -> float:
        return float(self.center[2] + self.size[2] / 2.0)

    @property
    def volume(self) -> float:
        return float(self.size[0] * self.size[1] * self.size[2])

    def describe(self) -> str:
        """'chair' or 'red chair': the words a person would use."""
        return f"{self.color} {self.label}" if self.color else self.label


@dataclass(frozen=True)
class Scene:
    scene_id: str
    objects: tuple[SceneObject, ...]
    frame_id: str = "map"
    viewpoint: Viewpoint | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {o.id: o for o in self.objects})

    def __len__(self) -> int:
        return len(self.objects)

    def __iter__(self) -> Iterator[SceneObject]:
        return iter(self.objects)

    def get(self, object_id: int) -> SceneObject:
        return self._by_id[object_id]  # type: ignore[attr-defined]

    def has(self, object_id: int) -> bool:
        return object_id in self._by_id  # type: ignore[attr-defined]

    @property
    def ids(self) -> list[int]:
        return [o.id for o in self.objects]

    def subset(self, ids: Iterable[int]) -> list[SceneObject]:
        return [self.get(i) for i in ids]

    def labels(self) -> list[str]:
        return sorted({o.label for o in self.objects})

    def centers(self, ids: Sequence[int] | None = None) -> np.ndarray:
        objs = self.objects if ids is None else self.subset(ids)
        return np.array([o.center for o in objs], dtype=float).reshape(-1, 3)

    def sizes(self, ids: Sequence[int] | None = None) -> np.ndarray:
        objs = self.objects if ids is None else self.subset(ids)
        return np.array([o.size for o in objs], dtype=float).reshape(-1, 3)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(min corner, max corner) over all objects; zeros for an empty scene."""
        if not self.objects:
            return np.zeros(3), np.zeros(3)
        lo = np.min([o.min_corner for o in self.objects], axis=0)
        hi = np.max([o.max_corner for o in self.objects], axis=0)
        return lo, hi

    def default_viewpoint(self) -> Viewpoint:
        """The observer used when the scene names none.

        Standing outside the scene on its -y side at eye height (1.6 m), looking at
        the scene centre: so 'left' is -x and 'front' is towards -y, the convention
        most room-scan datasets use when no camera is given.
        """
        if self.viewpoint is not None:
            return self.viewpoint
        lo, hi = self.bounds()
        cx, cy = float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2)
        return Viewpoint(position=(cx, float(lo[1]) - 2.0, 1.6), look_at=(cx, cy, 1.0))

    def with_objects(self, objects: Iterable[SceneObject]) -> "Scene":
        return Scene(self.scene_id, tuple(objects), self.frame_id, self.viewpoint)
