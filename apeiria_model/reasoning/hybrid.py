"""The hybrid reasoner: the better of its two parts, by the one verification rule.

``verified`` (``reasoning/answer_check.py``) means every step re-executes AND the
program answers the question asked. The hybrid answers with the first of:

1. the symbolic reasoner's answer from its own parse, when it is found and verified
   (milliseconds; on every measured set the symbolic parse, where it verifies, is right
   more often than the neural trace: benchmarks/bench_verified.py) -> "symbolic parse
   verified";
2. the neural model's trace, when it is verified -> "neural trace verified";
3. the neural *plan* executed by the symbolic executor, when the plan answers the
   question asked and its execution verifies (the model's decomposition, the
   executor's geometry) -> "executed the neural plan symbolically";
4. otherwise the symbolic answer, unverified, saying which check each path failed.

So it is never worse than the better of its parts on a question either can verify, and
``verified: true`` always means both checks held.
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
        s = self.symbolic.ground(instruction, scene)
        if s.status == STATUS_ERROR and not s.trace and not s.program:
            return self._as_hybrid(s)  # bad input: rejected the same way by both parts
        if s.status == STATUS_OK and s.verified:
            s.message = _join("symbolic parse verified (steps re-executed, answers the question)", s.message)
            return self._as_hybrid(s)
        sym_why = f"the symbolic parse has no verified answer ({s.failed_check or s.status})"
        n = self.neural.ground(instruction, scene, on_line=on_line)
        if n.verified:
            n.message = _join(f"{sym_why}; neural trace verified (steps re-executed, answers the question)",
                              n.message)
            return self._as_hybrid(n)
        failed = n.failed_check or answer_check.CHECK_STEPS
        why = f"{sym_why}; the neural trace failed the {failed} check ({n.message or 'trace not verifiable'})"
        plan = self._plan_result(instruction, scene, n.program)
        if plan is not None:
            plan.message = _join(f"{why}; executed the neural plan symbolically", plan.message)
            return self._as_hybrid(plan)
        s.message = _join(f"{why}; answered by the symbolic parse, unverified", s.message)
        return self._as_hybrid(s, failed if not s.failed_check else "")

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
