"""Reasoners: symbolic (parser + executor), neural (trained model), hybrid.

    from apeiria_model.reasoning import load_reasoner
    reasoner = load_reasoner("symbolic")
    reasoner.ground("the mug on the desk closest to the window", scene)
"""

from __future__ import annotations

import importlib

from apeiria_model.reasoning.base import MAX_INSTRUCTION_CHARS, Reasoner
from apeiria_model.reasoning.result import GroundingResult, StepReport, Target

REASONER_NAMES = ("symbolic", "neural", "hybrid")


class ReasonerUnavailableError(RuntimeError):
    """The requested reasoner cannot be built here (module missing, no trained model...)."""


def __getattr__(name: str):
    # Lazy: programs/trace.py imports reasoning.result, and the symbolic reasoner imports
    # programs; importing it here eagerly would make that a circular import.
    if name == "SymbolicReasoner":
        from apeiria_model.reasoning.symbolic import SymbolicReasoner
        return SymbolicReasoner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_reasoner(name: str = "symbolic", **kwargs) -> Reasoner:
    """Build a reasoner by name. ``neural`` / ``hybrid`` live in
    ``apeiria_model.reasoning.neural`` / ``.hybrid``: each must expose ``NeuralReasoner`` /
    ``HybridReasoner`` (or a ``load_reasoner(**kwargs)`` function)."""
    if name == "symbolic":
        from apeiria_model.reasoning.symbolic import SymbolicReasoner
        return SymbolicReasoner(**kwargs)
    if name not in REASONER_NAMES:
        raise ReasonerUnavailableError(f"unknown reasoner {name!r}: expected one of {', '.join(REASONER_NAMES)}")
    module_name = f"apeiria_model.reasoning.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (e.name == module_name or module_name.startswith(e.name)):
            raise ReasonerUnavailableError(
                f"the {name} reasoner is not available: module {module_name} is missing") from None
        raise ReasonerUnavailableError(f"the {name} reasoner cannot load: missing dependency {e.name!r}") from None
    factory = getattr(module, "load_reasoner", None) or getattr(module, f"{name.capitalize()}Reasoner", None)
    if factory is None:
        raise ReasonerUnavailableError(f"{module_name} has neither load_reasoner() nor {name.capitalize()}Reasoner")
    return factory(**kwargs)


__all__ = ["Reasoner", "GroundingResult", "StepReport", "Target", "SymbolicReasoner", "load_reasoner",
           "ReasonerUnavailableError", "REASONER_NAMES", "MAX_INSTRUCTION_CHARS"]
