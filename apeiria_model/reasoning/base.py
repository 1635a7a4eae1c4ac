"""The one interface every reasoner (symbolic, neural, hybrid) implements."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Protocol, runtime_checkable

from apeiria_model.reasoning.result import STATUS_ERROR, STATUS_NO_MATCH, GroundingResult
from apeiria_model.scene.io import SceneValidationError, validate_scene
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


def reject_bad_request(reasoner: str, instruction: Any, scene: Any) -> GroundingResult | None:
    """The checks every reasoner makes before doing any work.

    Returns the error / no-match result for an unusable request (not a string, invalid
    UTF-8, empty, over-long, no Scene, a Scene that breaks the scene rules, no objects),
    or None when the request is usable.
    """
    def fail(status: str, message: str, text: str = "") -> GroundingResult:
        return GroundingResult(text, status, reasoner, message=message)

    if not isinstance(instruction, str):
        return fail(STATUS_ERROR, f"instruction must be a string, got {type(instruction).__name__}")
    try:
        instruction.encode("utf-8")
    except UnicodeEncodeError:
        return fail(STATUS_ERROR, "instruction is not valid UTF-8 (it contains lone surrogate characters)",
                    instruction.encode("utf-8", "replace").decode("utf-8"))
    if not instruction.strip():
        return fail(STATUS_ERROR, "empty instruction", instruction)
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        return fail(STATUS_ERROR, f"instruction too long: {len(instruction)} characters "
                                  f"(at most {MAX_INSTRUCTION_CHARS})", instruction[:200] + "...")
    if not isinstance(scene, Scene):
        return fail(STATUS_ERROR, f"scene must be a Scene, got {type(scene).__name__}", instruction)
    try:  # the rules every way in shares (a Scene built in Python included); cached per scene
        validate_scene(scene)
    except SceneValidationError as e:
        return fail(STATUS_ERROR, f"invalid scene: {e}", instruction)
    if len(scene) == 0:
        return fail(STATUS_NO_MATCH, "the scene has no objects", instruction)
    return None


def ground_safely(reasoner: str, impl: Callable[[Any, Any], GroundingResult], instruction: Any, scene: Any,
                  log: logging.Logger) -> GroundingResult:
    """Run ``impl(instruction, scene)`` under the protocol's promise: never raise, always time.

    An unexpected exception becomes a status "error" result naming it (and is logged
    with its traceback) so one bad request can never take a node down.
    """
    t0 = time.perf_counter()
    try:
        res = impl(instruction, scene)
    except Exception as e:  # noqa: BLE001 - the protocol promises no exceptions
        log.exception("%s reasoner failed", reasoner)
        res = GroundingResult(instruction if isinstance(instruction, str) else repr(instruction),
                              STATUS_ERROR, reasoner, message=f"internal error: {type(e).__name__}: {e}")
    res.reasoner = reasoner
    res.latency_ms = (time.perf_counter() - t0) * 1000.0
    return res
