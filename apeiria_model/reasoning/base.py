"""The one interface every reasoner (symbolic, neural, hybrid) implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from apeiria_model.reasoning.result import GroundingResult
from apeiria_model.scene.model import Scene

# Instructions longer than this are refused with status "error" before any work:
# no operator types 4000 characters, and unbounded text costs unbounded time.
MAX_INSTRUCTION_CHARS = 2000


@runtime_checkable
class Reasoner(Protocol):
    name: str

    def ground(self, instruction: str, scene: Scene) -> GroundingResult:
        """Find what ``instruction`` refers to in ``scene``. Never raises for bad input:
        problems come back as ``status`` "unparsed" / "error" with a ``message``."""
        ...
