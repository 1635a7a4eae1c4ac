"""Dataset records shared by the generator, the external-format loaders, evaluation
and training. Stored as JSON Lines, one record a line (``to_dict`` / ``from_dict``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

PHRASING_TRAIN = "train"      # templates/synonyms used in any training stage
PHRASING_HELDOUT = "heldout"  # never seen in training: generalisation test only
PHRASING_HUMAN = "human"      # hand-written or external (ScanRefer, Nr3D...)

TARGETS_ZERO, TARGETS_SINGLE, TARGETS_MULTI = "zero", "single", "multi"


def target_kind(n: int) -> str:
    return TARGETS_ZERO if n == 0 else TARGETS_SINGLE if n == 1 else TARGETS_MULTI


@dataclass
class GroundingSample:
    """One instruction over one scene with its gold answer.

    ``program`` is the gold DSL text when known (generated data), else None (ScanRefer...).
    ``unique``: the target's class occurs once in the scene (ScanRefer split).
    ``hard``: more than 2 same-class distractors (ReferIt3D).
    ``view_dependent``: the wording depends on the observer (ReferIt3D word list).
    ``answer``: for QA programs (count / query), the gold value; None for grounding.
    """

    sample_id: str
    scene_id: str
    instruction: str
    target_ids: list[int]
    program: str | None = None
    depth: int | None = None
    phrasing: str = PHRASING_TRAIN
    split: str = "test"
    unique: bool | None = None
    hard: bool | None = None
    view_dependent: bool | None = None
    distractor_ids: list[int] = field(default_factory=list)
    anchor_ids: list[int] = field(default_factory=list)
    answer: Any = None
    source: str = "apeiria-synthetic"

    @property
    def target_kind(self) -> str:
        return target_kind(len(self.target_ids))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_kind"] = self.target_kind
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GroundingSample":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
