"""The hybrid reasoner: neural plan, symbolic verification, symbolic fallback.

1. The neural model writes its trace. It is returned when it is verified: every step
   re-executes to what it states AND its program answers the question asked (answer
   kind, target concept: ``reasoning.answer_check``) -> "neural trace verified".
2. Otherwise the symbolic reasoner answers from its own parse of the instruction; that
   answer is returned when it is found and verified -> "fell back to symbolic execution".
3. Only when the symbolic reasoner has no verified answer either, and the neural plan
   answers the question asked (its steps' claims were wrong, say, but its decomposition
   is right), is that *plan* executed by the symbolic executor -> "executed the neural
   plan symbolically"; if that does not verify either, the symbolic answer stands.

So the hybrid is never worse than the better of its two parts on a question either can
verify, and ``verified: true`` always means both checks held. ``message`` starts with
which path answered and why; ``failed_check`` on a fallback says which check the neural
trace failed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from apeiria_model.programs import parse_program
from apeiria_model.reasoning import answer_check
from apeiria_model.reasoning.base import ground_safely
from apeiria_model.reasoning.neural import NeuralReasoner
from apeiria_model.reasoning.result import STATUS_ERROR, STATUS_OK, GroundingResult
from apeiria_model.scene.model import Scene

log = logging.getLogger(__name__)


class HybridReasoner:
    name = "hybrid"

    def __init__(self, checkpoint: str | Path | None = None, neural: NeuralReasoner | None = None, symbolic=None,
                 matcher=None):
        if matcher is None:  # one matcher for both parts: a step verifies the same on either path
            from apeiria_model.language.open_vocab import default_matcher
            matcher = default_matcher()
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
            return self._as_hybrid(s)
        if n.verified:
            n.message = _join("neural trace verified (steps re-executed, answers the question)", n.message)
            return self._as_hybrid(n)
        failed = n.failed_check or answer_check.CHECK_STEPS
        why = f"neural trace failed the {failed} check ({n.message or 'trace not verifiable'})"
        s = self.symbolic.ground(instruction, scene)
        if s.status != STATUS_OK or not s.verified:
            plan = self._plan_result(instruction, scene, n.program)
            if plan is not None:
                plan.message = _join(f"{why}; the symbolic parse has no verified answer ({s.status}); executed "
                                     "the neural plan symbolically", plan.message)
                return self._as_hybrid(plan, failed)
        s.message = _join(f"{why}; fell back to symbolic execution", s.message)
        return self._as_hybrid(s, failed)

    def _plan_result(self, instruction: str, scene: Scene, program_text: str | None) -> GroundingResult | None:
        """The neural plan executed by the symbolic reasoner; None unless the plan answers
        the question asked and its execution verifies."""
        if not program_text:
            return None
        try:
            program = parse_program(program_text)
        except ValueError:
            return None
        expected = answer_check.expectation(instruction, scene)
        if not answer_check.check_answer(program, expected, scene, self.symbolic.executor).ok:
            return None
        res = self.symbolic.answer_program(instruction, program, scene)
        return res if res.status == STATUS_OK and res.verified else None

    def _as_hybrid(self, res: GroundingResult, failed: str = "") -> GroundingResult:
        res.reasoner = self.name
        if failed and not res.failed_check and not res.verified:
            res.failed_check = failed
        return res


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
