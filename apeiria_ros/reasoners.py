"""Loading reasoners by name for the nodes, with a clear status when one is unavailable."""

from __future__ import annotations

KNOWN_REASONERS = ("symbolic", "neural", "hybrid")


class ReasonerUnavailable(RuntimeError):
    """The requested reasoner cannot be loaded (module missing, no trained model...)."""


def load(name: str):
    name = (name or "").strip().lower()
    if name not in KNOWN_REASONERS:
        raise ReasonerUnavailable(f"unknown reasoner '{name}' (expected one of: {', '.join(KNOWN_REASONERS)})")
    try:
        from apeiria_model.reasoning import load_reasoner  # type: ignore[attr-defined]
    except ImportError:
        load_reasoner = None
    try:
        if load_reasoner is not None:
            return load_reasoner(name)
        if name == "symbolic":
            from apeiria_model.reasoning.symbolic import SymbolicReasoner

            return SymbolicReasoner()
    except Exception as e:  # any load failure becomes one status line, never a crash
        raise ReasonerUnavailable(f"reasoner '{name}' could not be loaded: {type(e).__name__}: {e}") from e
    raise ReasonerUnavailable(f"reasoner '{name}' is not available in this installation "
                              "(apeiria_model.reasoning.load_reasoner is missing)")
