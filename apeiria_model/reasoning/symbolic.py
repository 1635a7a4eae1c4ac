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

import dataclasses
import logging
import math
from typing import Any

from apeiria_model.language import referring
from apeiria_model.language.instruction_parser import ParseOutcome, parse_instruction
from apeiria_model.programs import ast
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.executor import ExecStep, Executor
from apeiria_model.programs.trace import parse_trace, render_trace, step_reports, verify_trace
from apeiria_model.reasoning import answer_check
from apeiria_model.reasoning.base import ground_safely, reject_bad_request
from apeiria_model.reasoning.result import (STATUS_ERROR, STATUS_NO_MATCH, STATUS_OK, STATUS_UNPARSED,
                                            GroundingResult, Target)
from apeiria_model.sanitize import clean_text
from apeiria_model.scene.io import validate_scene
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


# What a grounded description may come back as.
# sets:   Multi3DRefer-style: a parsed description answers with every object that
#         satisfies it, or none ("the white mug" when no mug is white is no_match);
#         only an instruction the grammar cannot parse is read as a referring
#         expression (best guess, low score). What the robot and the generated /
#         human sets use.
# single: ReferIt3D / ScanRefer-style: a singular description names exactly one object,
#         so several matches or none fall back to the graded reading, and the answer is
#         empty only when no object of the target class exists. `apeiria eval --real`.
ANSWER_SETS, ANSWER_SINGLE = "sets", "single"
ANSWER_MODES = (ANSWER_SETS, ANSWER_SINGLE)


class SymbolicReasoner:
    """Reasoner protocol: instruction -> parse_instruction -> Executor -> verified trace."""

    name = "symbolic"

    def __init__(self, matcher=None, verify: bool = True, open_relations: bool = True,
                 answer_mode: str = ANSWER_SETS):
        if answer_mode not in ANSWER_MODES:
            raise ValueError(f"answer_mode must be one of {', '.join(ANSWER_MODES)}, got {answer_mode!r}")
        self.answer_mode = answer_mode
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
        # what reaches a trace or a terminal: no control characters (both checked above; cached)
        instruction, scene = clean_text(instruction), validate_scene(scene)

        parsed = self.parse(instruction, scene)
        notes = []
        if parsed.corrections:
            notes.append("corrected " + ", ".join(f"'{a}' -> '{b}'" for a, b in parsed.corrections))
        if parsed.ignored:
            notes.append("ignored words: " + " ".join(parsed.ignored))
        primary = None
        if parsed.ok:
            primary = self._answer(instruction, parsed.program, parsed.program_text, scene, notes,
                                   parsed.multi, parsed.target_concept, parsed)
            primary.ignored = list(parsed.ignored)
            if self.answer_mode == ANSWER_SETS or isinstance(parsed.program, (ast.Count, ast.Query)):
                return primary
            if primary.status == STATUS_OK and (len(primary.targets) == 1 or parsed.multi) and not parsed.ignored:
                return primary
        # Not parsed (or, answering single objects: nothing found / several objects for a
        # description that names one): read it as a real referring expression, graded: the
        # best candidate, never empty while an object of the target class exists.
        fallback = self._ground_reading(instruction, scene, parsed)
        if fallback is not None:
            if not parsed.ok:
                fallback.message = "; ".join([f"could not parse the instruction: {parsed.reason}", fallback.message])
            return fallback
        if primary is not None:
            return primary
        return fail(STATUS_UNPARSED, "; ".join([f"could not parse the instruction: {parsed.reason}"] + notes),
                    instruction)

    def answer_program(self, instruction: str, program: ast.Node, scene: Scene) -> GroundingResult:
        """Execute a given ``program`` (another reasoner's plan, say) for ``instruction`` and
        verify it by the same rule as a parsed one; ``scene`` must be valid."""
        return self._answer(clean_text(instruction), program, str(program), validate_scene(scene), [], False, None)

    def _ground_reading(self, instruction: str, scene: Scene, parsed: ParseOutcome) -> GroundingResult | None:
        reading = referring.read(instruction, scene.labels())
        if reading is None:
            return None
        notes = [f"read as a referring expression: {referring.describe(reading)}"]
        program = referring.to_program(reading, use_color=True)
        ignored = list(reading.unchecked)
        res = None
        if reading.color:
            res = self._answer(instruction, program, str(program), scene, list(notes), reading.multi, None, parsed)
            if res.status != STATUS_OK:
                res = None
                ignored.append(reading.color)
                notes.append(f"no {' / '.join(reading.target.labels)} looks {reading.color} in the scan's "
                             "estimated colours: colour not used")
        if res is None:
            program = referring.to_program(reading, use_color=False)
            res = self._answer(instruction, program, str(program), scene, notes, reading.multi, None, parsed)
        if res.status == STATUS_NO_MATCH and not reading.guess:
            # the cue found nothing to pick from (its anchor is the target itself, say):
            # the target class still exists, so answer with the best guess and say why
            guess = dataclasses.replace(reading, relation=None, anchors=(), superlative=None, others=(),
                                        guess=True)
            notes.append(f"the cue ({referring.describe(reading)}) picked nothing: best guess instead")
            program = referring.to_program(guess, use_color=False)
            res = self._answer(instruction, program, str(program), scene, notes, reading.multi, None, parsed)
            reading = guess
        if ignored:
            res.message = "; ".join(filter(None, [res.message, "unchecked: " + " ".join(ignored)]))
        res.ignored = ignored
        if res.status == STATUS_OK and reading.guess:
            for t in res.targets:
                t.score = min(t.score, 1.0 / max(1, sum(o.label in reading.target.labels for o in scene)))
        return res

    def _answer(self, instruction: str, program, program_text: str, scene: Scene, notes: list[str],
                multi: bool, target_concept: str | None, parsed: ParseOutcome | None = None) -> GroundingResult:
        """Execute ``program``, render and verify its trace (every step re-executed, and the
        program answers the question asked: ``reasoning.answer_check``), and fill a
        GroundingResult. ``parsed``: the symbolic parse of ``instruction``, when there is one."""
        notes = list(notes)
        try:
            result = self.executor.execute(program, scene)
        except ProgramExecutionError as e:
            res = GroundingResult(instruction, STATUS_ERROR, self.name,
                                  message=f"could not execute {program_text}: {e}")
            res.program = program_text
            return res

        trace = render_trace(instruction, program, result, scene, "full")
        steps = step_reports(result, scene)
        verified, failed_check = None, ""
        if self.verify:
            check = verify_trace(parse_trace(trace), scene, executor=self.executor)
            by_index = {c.index: c for c in check.steps}
            for st in steps:
                c = by_index.get(st.index)
                st.verified = bool(c.ok) if c is not None else False
            verified, failed_check, why = answer_check.verify(instruction, program, scene, self.executor,
                                                              bool(check.all_ok), parsed)
            if failed_check == answer_check.CHECK_STEPS:
                notes.append("trace verification failed: " + "; ".join(check.reasons[:3]))
            elif failed_check:
                notes.append(f"{answer_check.describe(failed_check)}: {why}")
        res = GroundingResult(instruction, STATUS_OK, self.name, program=program_text,
                              trace=trace, steps=steps, verified=verified, failed_check=failed_check)
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
                concept = target_concept or "object"
                notes.insert(0, f"no {concept} in the scene matches the description")
            elif len(ids) > 1 and not multi:
                notes.append(f"{len(ids)} objects match; the description does not single one out")
        res.message = "; ".join(notes)
        return res
