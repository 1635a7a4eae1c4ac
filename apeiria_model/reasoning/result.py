"""GroundingResult: what every reasoner returns, and the `apeiria ground --json` contract.

JSON shape (a public contract; the ROS GroundingResult message mirrors it)::

    {"instruction": str,
     "status": "ok" | "no_match" | "unparsed" | "error",
     "targets": [{"id", "label", "center", "size", "score"}],
     "answer": str | int | null,        # QA programs (count / query); null for grounding
     "program": str | null,
     "trace": str,                      # human-readable plan + execution + answer
     "steps": [{"index", "op", "plan", "execution", "inputs", "output", "verified"}],
     "verified": bool | null,           # every step re-checked against the scene AND the
                                        # program answers the question asked (answer kind,
                                        # target concept: reasoning/answer_check.py)
     "failed_check": "" | "steps" | "answer_kind" | "target_concept",  # why not verified
     "reasoner": "symbolic" | "neural" | "hybrid",
     "latency_ms": float,
     "message": str,                    # why, for unparsed / error / fallbacks
     "ignored": [str]}                  # cue words nothing in the scene could check
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from apeiria_model.scene.model import SceneObject

STATUS_OK = "ok"
STATUS_NO_MATCH = "no_match"
STATUS_UNPARSED = "unparsed"
STATUS_ERROR = "error"
STATUSES = (STATUS_OK, STATUS_NO_MATCH, STATUS_UNPARSED, STATUS_ERROR)


@dataclass
class Target:
    id: int
    label: str
    center: list[float]
    size: list[float]
    score: float = 1.0

    @classmethod
    def from_object(cls, obj: SceneObject, score: float = 1.0) -> "Target":
        return cls(obj.id, obj.label, [round(v, 4) for v in obj.center], [round(v, 4) for v in obj.size], round(float(score), 4))


@dataclass
class StepReport:
    """One reasoning step as reported to users (JSON / ROS message)."""

    index: int
    op: str
    plan: str
    execution: str
    inputs: list[list[int]] = field(default_factory=list)
    output: list[int] | int | str | None = None
    verified: bool | None = None


@dataclass
class GroundingResult:
    instruction: str
    status: str
    reasoner: str
    targets: list[Target] = field(default_factory=list)
    answer: Any = None
    program: str | None = None
    trace: str = ""
    steps: list[StepReport] = field(default_factory=list)
    verified: bool | None = None
    failed_check: str = ""  # "" | steps | answer_kind | target_concept: which check made verified false
    latency_ms: float = 0.0
    message: str = ""
    ignored: list[str] = field(default_factory=list)  # words of the instruction nothing checked

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["latency_ms"] = round(self.latency_ms, 3)
        order = ["instruction", "status", "targets", "answer", "program", "trace", "steps",
                 "verified", "failed_check", "reasoner", "latency_ms", "message", "ignored"]
        return {k: d[k] for k in order}

    @property
    def target_ids(self) -> list[int]:
        return [t.id for t in self.targets]
