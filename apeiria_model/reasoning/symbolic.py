"""The symbolic reasoner: parse the instruction, execute the program, explain the steps.

``SymbolicReasoner().ground("the mug on the desk closest to the window", scene)``
returns a :class:`GroundingResult` whose ``steps`` are the executor's steps, each
re-checked against the scene (``Executor.run_op`` on the step's stated inputs: the
same code that executed it, so a step verifies iff the scene supports it), and whose
``trace`` is the plan + execution + answer text of the APEIRIA trace format.

Never raises: bad instructions and scenes come back as status "error" / "unparsed"
with a message; a program that runs and finds nothing is "no_match".
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from apeiria_model.language.instruction_parser import ParseOutcome, parse_instruction
from apeiria_model.programs import ast
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.executor import ExecStep, ExecutionResult, Executor
from apeiria_model.reasoning.base import MAX_INSTRUCTION_CHARS
from apeiria_model.reasoning.result import (STATUS_ERROR, STATUS_NO_MATCH, STATUS_OK, STATUS_UNPARSED,
                                            GroundingResult, StepReport, Target)
from apeiria_model.scene.model import Scene

log = logging.getLogger(__name__)


def _phrase(relation: str) -> str:
    try:
        from apeiria_model.programs.relations import RELATION_PHRASE, canonical_relation
        return RELATION_PHRASE.get(canonical_relation(relation), relation)
    except Exception:
        return relation.replace("_", " ")


def _obj(scene: Scene, oid: int) -> str:
    return f"Object {oid} ({scene.get(oid).label})" if scene.has(oid) else f"Object {oid}"


def _ids(ids) -> str:
    return ", ".join(str(i) for i in ids) if ids else "none"


def _set_name(step_by_index: dict[int, ExecStep], idx: int | None) -> str:
    """Words for a step's input: 'all objects' for scene(), else what produced it."""
    if idx is None:
        return "all objects"
    s = step_by_index[idx]
    if s.op == "filter":
        return f"the {s.args['concept']} objects"
    return f"the objects from step {idx + 1}"  # plan step 1 is "examine all objects"


def plan_line(step: ExecStep, step_by_index: dict[int, ExecStep]) -> str:
    """One plan sentence for a step (what it will check), in the reference trace's words."""
    names = [_set_name(step_by_index, i) for i in step.input_steps]
    a = step.args
    if step.op == "filter":
        src = "" if step.input_steps[0] is None else f" among {names[0]}"
        return f"find all objects of category {a['concept']}{src}"
    if step.op == "relate":
        frame = " (from the anchor's own point of view)" if a.get("frame") == ast.FRAME_ANCHOR else ""
        return f"check which of {names[0]} are {_phrase(a['relation'])} {names[1]}{frame}"
    if step.op == "relate_multi":
        return f"check which of {names[0]} are between {names[1]} and {names[2]}"
    if step.op == "relate_anchor":
        return f"pick the one of {names[0]} {_phrase(a['relation'])} {names[1]}"
    if step.op in ("union", "intersection"):
        return f"take the {step.op} of {names[0]} and {names[1]}"
    if step.op == "exclude":
        return f"remove {names[1]} from {names[0]}"
    if step.op == "superlative":
        rank = a.get("rank", 1)
        nth = "" if rank == 1 else f"number {rank} by "
        return f"pick the {nth}{a['kind']} of {names[0]}"
    if step.op == "count":
        return f"count {names[0]}"
    if step.op == "query":
        return f"read the {a['attribute']} of {names[0]}"
    return step.op


def execution_line(step: ExecStep, scene: Scene) -> str:
    """What the step found, naming objects by ID and label."""
    out = step.output
    if step.op == "count":
        return f"Counted {out} object(s): ID(s): {_ids(step.inputs[0])}"
    if step.op == "query":
        return f"The {step.args['attribute']} is {out}" if out is not None else \
            ("; ".join(step.notes) or "No answer")
    ids = out if isinstance(out, list) else []
    head = f"Found {len(ids)} object(s): ID(s): {_ids(ids)}"
    details = []
    if step.op in ("relate", "relate_multi", "relate_anchor"):
        phrase = _phrase(step.args.get("relation", ""))
        for ev in step.evidence:
            if step.op == "relate_multi" and len(ev.anchor_ids) == 2:
                details.append(f"{_obj(scene, ev.object_id)} is between {_obj(scene, ev.anchor_ids[0])} "
                               f"and {_obj(scene, ev.anchor_ids[1])}")
            elif ev.anchor_ids:
                details.append(f"{_obj(scene, ev.object_id)} is {phrase} {_obj(scene, ev.anchor_ids[0])}")
    elif step.op == "superlative":
        for ev in step.evidence:
            details.append(f"{_obj(scene, ev.object_id)} is the {step.args['kind']} ({ev.note})")
    if step.notes:
        details.extend(step.notes)
    return head + ("; " + "; ".join(details) if details else "")


def render_trace(instruction: str, steps: list[ExecStep], scene: Scene, result: ExecutionResult) -> str:
    """Plan + execution + conclusion + answer, the shape of the reference traces."""
    by_index = {s.index: s for s in steps}
    lines = ["<think>", f"I need to find the object described as: {instruction.strip()}"]
    plan = ["examine all objects"] + [plan_line(s, by_index) for s in steps]
    lines.append("Plan: " + "; ".join(f"({k}) {p}" for k, p in enumerate(plan, 1)))
    lines.append("Execution:")
    lines.append(f"Step 1: Examined {len(scene)} object(s)")
    for s in steps:
        lines.append(f"Step {s.index + 1}: {execution_line(s, scene)}")
    if isinstance(result.value, list):
        found = [scene.get(i) for i in result.value]
        if found:
            lines.append("Conclusion: " + "; ".join(
                f"Object {o.id}: {o.label} at ({o.center[0]:.2f}, {o.center[1]:.2f}, {o.center[2]:.2f}), "
                f"size {o.size[0]:.2f} x {o.size[1]:.2f} x {o.size[2]:.2f}" for o in found))
            answer = "; ".join(f"Object {o.id} ({o.label})" for o in found)
        else:
            lines.append("Conclusion: no object matches the description")
            answer = "No object matches the description."
    else:
        lines.append(f"Conclusion: the answer is {result.value}")
        answer = str(result.value)
    lines.append("</think>")
    lines.append(f"<answer>{answer}</answer>")
    return "\n".join(lines)


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

    def __init__(self, matcher=None, verify: bool = True):
        if matcher is None:
            from apeiria_model.language.open_vocab import default_matcher
            matcher = default_matcher()
        self.matcher = matcher
        self.executor = Executor(matcher)
        self.verify = verify

    def parse(self, instruction: str, scene: Scene | None = None) -> ParseOutcome:
        vocab = scene.labels() if isinstance(scene, Scene) else None
        return parse_instruction(instruction, vocabulary=vocab)

    def ground(self, instruction: str, scene: Scene) -> GroundingResult:
        t0 = time.perf_counter()
        try:
            res = self._ground(instruction, scene)
        except Exception as e:  # the protocol promises no exceptions; report, do not crash
            log.exception("symbolic reasoner failed")
            res = GroundingResult(instruction if isinstance(instruction, str) else repr(instruction),
                                  STATUS_ERROR, self.name, message=f"internal error: {type(e).__name__}: {e}")
        res.latency_ms = (time.perf_counter() - t0) * 1000.0
        return res

    def _ground(self, instruction: Any, scene: Any) -> GroundingResult:
        def fail(status: str, message: str, text: str = "") -> GroundingResult:
            return GroundingResult(text, status, self.name, message=message)

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
        if len(scene) == 0:
            return fail(STATUS_NO_MATCH, "the scene has no objects", instruction)

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

        steps = self._step_reports(result, scene)
        verified = all(s.verified for s in steps) if self.verify else None
        res = GroundingResult(instruction, STATUS_OK, self.name, program=parsed.program_text,
                              trace=render_trace(instruction, result.steps, scene, result),
                              steps=steps, verified=verified)
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
        if verified is False:
            notes.append("some steps failed re-verification against the scene")
        res.message = "; ".join(notes)
        return res

    def _step_reports(self, result: ExecutionResult, scene: Scene) -> list[StepReport]:
        by_index = {s.index: s for s in result.steps}
        reports = []
        for s in result.steps:
            ok = None
            if self.verify:
                try:
                    again, _, _ = self.executor.run_op(s.op, s.args, s.inputs, scene)
                    ok = again == s.output
                except ProgramExecutionError:
                    ok = False
            reports.append(StepReport(s.index, s.op, plan_line(s, by_index), execution_line(s, scene),
                                      [list(i) for i in s.inputs], s.output, ok))
        return reports
