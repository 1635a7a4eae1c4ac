"""The symbolic reasoner: parse the instruction, execute the program, explain the steps.

``SymbolicReasoner().ground("the mug on the desk closest to the window", scene)``
returns a :class:`GroundingResult` whose ``trace`` is the plan + execution + answer
text of ``programs/trace.py`` (full style) and whose ``steps`` are the executor's
steps. Verification is the same check any trace gets: the rendered text is parsed
back and every step re-executed from the inputs it states (``verify_trace``), so
``verified`` means the text shown to the user is supported by the scene.

Never raises: bad instructions and scenes come back as status "error" / "unparsed"
with a message; a program that runs and finds nothing is "no_match".
"""

from __future__ import annotations

import logging
import math
from typing import Any

from apeiria_model.language.instruction_parser import ParseOutcome, parse_instruction
from apeiria_model.programs import ast
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.executor import ExecStep, Executor
from apeiria_model.programs.trace import parse_trace, render_trace, step_reports, verify_trace
from apeiria_model.reasoning.base import ground_safely, reject_bad_request
from apeiria_model.reasoning.result import (STATUS_ERROR, STATUS_NO_MATCH, STATUS_OK, STATUS_UNPARSED,
                                            GroundingResult, Target)
from apeiria_model.scene.model import Scene

log = logging.getLogger(__name__)


def _target_scores(steps: list[ExecStep], ids: list[int]) -> dict[int, float]:
    """Matcher confidence per target: the lowest filter score it passed (1.0 if none)."""
    best: dict[int, float] = {}
    for s in steps:
        if s.op != "filter":
            continue
        for ev in s.evidence:
            v = float(ev.value)
            if math.isfinite(v):
                best[ev.object_id] = min(best.get(ev.object_id, 1.0), max(0.0, min(1.0, v)))
    return {i: best.get(i, 1.0) for i in ids}


class SymbolicReasoner:
    """Reasoner protocol: instruction -> parse_instruction -> Executor -> verified trace."""

    name = "symbolic"

    def __init__(self, matcher=None, verify: bool = True, open_relations: bool = True):
        if matcher is None:
            from apeiria_model.language.open_vocab import default_matcher
            matcher = default_matcher()
        self.matcher = matcher
        self.executor = Executor(matcher)
        self.verify = verify
        self.resolver = None
        if open_relations and hasattr(matcher, "embed"):
            # unknown relation words ("adjoining") are resolved with the matcher's embeddings
            from apeiria_model.language.open_relations import RelationResolver
            self.resolver = RelationResolver(matcher)

    def warm_up(self) -> None:
        """Load the matcher's model now (seconds), so the first ground() is not the slow one."""
        if hasattr(self.matcher, "model_available"):
            self.matcher.model_available  # noqa: B018 - property loads the model once per process

    def parse(self, instruction: str, scene: Scene | None = None) -> ParseOutcome:
        vocab = scene.labels() if isinstance(scene, Scene) else None
        return parse_instruction(instruction, vocabulary=vocab, relation_resolver=self.resolver)

    def ground(self, instruction: str, scene: Scene) -> GroundingResult:
        return ground_safely(self.name, self._ground, instruction, scene, log)

    def _ground(self, instruction: Any, scene: Any) -> GroundingResult:
        def fail(status: str, message: str, text: str = "") -> GroundingResult:
            return GroundingResult(text, status, self.name, message=message)

        bad = reject_bad_request(self.name, instruction, scene)
        if bad is not None:
            return bad

        parsed = self.parse(instruction, scene)
        notes = []
        if parsed.corrections:
            notes.append("corrected " + ", ".join(f"'{a}' -> '{b}'" for a, b in parsed.corrections))
        if parsed.ignored:
            notes.append("ignored words: " + " ".join(parsed.ignored))
        if not parsed.ok:
            res = fail(STATUS_UNPARSED, "; ".join([f"could not parse the instruction: {parsed.reason}"] + notes),
                       instruction)
            return res
        try:
            result = self.executor.execute(parsed.program, scene)
        except ProgramExecutionError as e:
            res = fail(STATUS_ERROR, f"could not execute {parsed.program_text}: {e}", instruction)
            res.program = parsed.program_text
            return res

        trace = render_trace(instruction, parsed.program, result, scene, "full")
        steps = step_reports(result, scene)
        verified = None
        if self.verify:
            check = verify_trace(parse_trace(trace), scene, executor=self.executor)
            by_index = {c.index: c for c in check.steps}
            for st in steps:
                c = by_index.get(st.index)
                st.verified = bool(c.ok) if c is not None else False
            verified = bool(check.all_ok)
            if not verified:
                notes.append("trace verification failed: " + "; ".join(check.reasons[:3]))
        res = GroundingResult(instruction, STATUS_OK, self.name, program=parsed.program_text,
                              trace=trace, steps=steps, verified=verified)
        if isinstance(result.program, ast.Count):
            res.answer = result.value
            counted = result.steps[-1].inputs[0] if result.steps else []
            scores = _target_scores(result.steps, counted)
            res.targets = [Target.from_object(scene.get(i), scores[i]) for i in counted]
        elif isinstance(result.program, ast.Query):
            res.answer = result.value
            asked = result.steps[-1].inputs[0] if result.steps else []
            scores = _target_scores(result.steps, asked)
            res.targets = [Target.from_object(scene.get(i), scores[i]) for i in asked]
            if result.value is None:
                res.status = STATUS_NO_MATCH
                notes.insert(0, result.message or "no answer")
        else:
            ids = result.ids
            scores = _target_scores(result.steps, ids)
            res.targets = [Target.from_object(scene.get(i), scores[i]) for i in ids]
            if not ids:
                res.status = STATUS_NO_MATCH
                concept = parsed.target_concept or "object"
                notes.insert(0, f"no {concept} in the scene matches the description")
            elif len(ids) > 1 and not parsed.multi:
                notes.append(f"{len(ids)} objects match; the description does not single one out")
        res.message = "; ".join(notes)
        return res
