"""The hybrid reasoner: neural plan, symbolic verification, symbolic fallback.

1. The neural model writes its trace; ``verify_trace`` re-checks every step.
   All steps hold -> the neural result is returned ("neural trace verified").
2. A step fails but the plan is one valid program -> that *plan* is executed by the
   symbolic executor (the model's decomposition, the executor's geometry).
3. No usable plan -> the symbolic reasoner (instruction parser + executor) answers.

``message`` starts with which of the three happened, and why.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from apeiria_model.programs import ast, parse_program
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.trace import parse_trace, render_trace, step_reports, verify_trace
from apeiria_model.reasoning.base import ground_safely
from apeiria_model.reasoning.neural import NeuralReasoner
from apeiria_model.reasoning.result import (STATUS_ERROR, STATUS_NO_MATCH, STATUS_OK, GroundingResult, Target)
from apeiria_model.scene.model import Scene

log = logging.getLogger(__name__)


class HybridReasoner:
    name = "hybrid"

    def __init__(self, checkpoint: str | Path | None = None, neural: NeuralReasoner | None = None, symbolic=None,
                 matcher=None):
        self.neural = neural if neural is not None else NeuralReasoner(checkpoint, matcher=matcher)
        if symbolic is None:
            from apeiria_model.reasoning.symbolic import SymbolicReasoner
            symbolic = SymbolicReasoner(matcher=matcher)
        self.symbolic = symbolic

    streams_trace = True  # the neural pass reports its trace lines while decoding

    def ground(self, instruction: str, scene: Scene, on_line: Callable[[str], None] | None = None) -> GroundingResult:
        return ground_safely(self.name, lambda i, s: self._ground(i, s, on_line), instruction, scene, log)

    def _ground(self, instruction, scene, on_line=None) -> GroundingResult:
        n = self.neural.ground(instruction, scene, on_line=on_line)
        if n.status == STATUS_ERROR and not n.trace:
            # bad input (not a model failure): the symbolic reasoner reports it in its own words
            s = self.symbolic.ground(instruction, scene)
            s.message = _join("input rejected by the neural reasoner", s.message)
            return s
        if n.verified:
            n.message = _join("neural trace verified by symbolic re-execution", n.message)
            return n
        why = n.message or "trace not verifiable"
        if n.program:
            plan_res = self._execute_plan(instruction, scene, n.program)
            if plan_res is not None:
                plan_res.message = _join(f"neural trace failed verification ({why}); executed the neural plan "
                                         "symbolically", plan_res.message)
                return plan_res
        s = self.symbolic.ground(instruction, scene)
        s.message = _join(f"neural trace failed verification ({why}); fell back to symbolic execution", s.message)
        return s

    def _execute_plan(self, instruction: str, scene: Scene, program_text: str) -> GroundingResult | None:
        executor = self.neural.executor
        try:
            program = parse_program(program_text)
            result = executor.execute(program, scene)
        except (ProgramExecutionError, ValueError):
            return None
        trace = render_trace(instruction, program, result, scene, "full")
        check = verify_trace(parse_trace(trace), scene, executor=executor)
        steps = step_reports(result, scene)
        by = {c.index: c for c in check.steps}
        for st in steps:
            c = by.get(st.index)
            st.verified = bool(c.ok) if c is not None else False
        res = GroundingResult(instruction, STATUS_OK, self.name, program=program_text, trace=trace, steps=steps,
                              verified=bool(check.all_ok))
        if isinstance(program, (ast.Count, ast.Query)):
            res.answer = result.value
            src = result.steps[-1].inputs[0] if result.steps else []
            res.targets = [Target.from_object(scene.get(i)) for i in src]
            if result.value is None:
                res.status = STATUS_NO_MATCH
        else:
            res.targets = [Target.from_object(scene.get(i)) for i in result.ids]
            if not result.ids:
                res.status = STATUS_NO_MATCH
        return res


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
