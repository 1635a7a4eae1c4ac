"""Verify a parsed trace against the scene, step by step, from the inputs it states."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from apeiria_model.programs import relations as rel
from apeiria_model.programs.concepts import ConceptMatcher
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.trace_parse import ParsedStep, ParsedTrace, parse_trace
from apeiria_model.programs.trace_render import _canon_rel
from apeiria_model.programs.trace_text import BOX_TOLERANCE, _label, _one_line
from apeiria_model.reasoning.result import StepReport
from apeiria_model.scene.model import Scene

# --- verification ----------------------------------------------------------------------------
@dataclass
class StepCheck:
    index: int
    ok: bool
    reason: str = ""
    expected: list[int] | int | str | None = None   # what the step should have produced


@dataclass
class TraceVerification:
    steps: list[StepCheck] = field(default_factory=list)
    all_ok: bool = False            # every step correct, answer consistent, boxes right, no errors
    answer_consistent: bool = False  # the answer restates the last step's output
    boxes_ok: bool = True            # every answer box is the scene's box of that id
    errors: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.steps if not c.ok] + self.errors


def _describe_filter(concept: str) -> str:
    return f"a {_one_line(concept)}" if concept else "a match"


def _set_reason(s: ParsedStep, stated: list[int], expected: list[int], inputs: list[list[int]],
                scene: Scene) -> str:
    extra = [i for i in stated if i not in set(expected)]
    missing = [i for i in expected if i not in set(stated)]
    parts = []
    for i in extra[:3]:
        lab = _label(scene.get(i).label)
        if s.op in ("filter", "relate", "relate_multi", "relate_anchor", "superlative") and i not in inputs[0]:
            parts.append(f"step {s.index} lists object {i} ({lab}), which is not among its input objects")
        elif s.op == "filter":
            parts.append(f"step {s.index} lists object {i}, which is not {_describe_filter(s.args.get('concept', ''))}")
        elif s.op == "relate":
            phrase = rel.RELATION_PHRASE.get(_canon_rel(s.args.get("relation", "")), s.args.get("relation", ""))
            parts.append(f"step {s.index} lists object {i} ({lab}), which is not {phrase} any anchor object")
        else:
            parts.append(f"step {s.index} lists object {i} ({lab}), which {s.op} does not give")
    for i in missing[:3]:
        lab = _label(scene.get(i).label)
        if s.op == "filter":
            parts.append(f"step {s.index} misses object {i}, which is {_describe_filter(s.args.get('concept', ''))}")
        else:
            parts.append(f"step {s.index} misses object {i} ({lab}), which {s.op} gives")
    more = len(extra) + len(missing) - min(len(extra), 3) - min(len(missing), 3)
    if more > 0:
        parts.append(f"and {more} more difference(s)")
    return "; ".join(parts)


def verify_trace(parsed: ParsedTrace, scene: Scene, matcher: ConceptMatcher | None = None,
                 executor: Executor | None = None) -> TraceVerification:
    """Re-check every step of ``parsed`` against ``scene`` from the step's stated inputs."""
    ver = TraceVerification(errors=list(parsed.errors))
    ex = executor if executor is not None else Executor(matcher)
    if not isinstance(scene, Scene):
        ver.errors.append(f"scene must be a Scene, got {type(scene).__name__}")
        return ver
    scene_ids = sorted(scene.ids)
    by_index = {s.index: s for s in parsed.steps}
    expected_numbers = list(range(1, len(parsed.steps) + 1))
    if [s.index for s in parsed.steps] != expected_numbers:
        ver.errors.append("steps are not numbered 1.." + str(len(parsed.steps)) + " without gaps")
    if not parsed.steps:
        ver.errors.append("the trace has no steps")
    for s in parsed.steps:
        ver.steps.append(_check_step(s, by_index, scene, scene_ids, ex))
    last = parsed.steps[-1] if parsed.steps else None
    ver.answer_consistent = _answer_consistent(parsed, last)
    if not ver.answer_consistent:
        ver.errors.append("the answer does not restate the last step's result")
    for box in parsed.answer_boxes:
        if not scene.has(box.id):
            ver.boxes_ok = False
            ver.errors.append(f"answer names object {box.id}, which does not exist in the scene")
            continue
        obj = scene.get(box.id)
        if (any(abs(a - b) > BOX_TOLERANCE for a, b in zip(box.center, obj.center)) or
                any(abs(a - b) > BOX_TOLERANCE for a, b in zip(box.size, obj.size))):
            ver.boxes_ok = False
            ver.errors.append(f"answer box of object {box.id} does not match the scene")
    ver.all_ok = (bool(ver.steps) and all(c.ok for c in ver.steps) and ver.answer_consistent and ver.boxes_ok
                  and not ver.errors)
    return ver


def _answer_consistent(parsed: ParsedTrace, last: ParsedStep | None) -> bool:
    if last is None or not last.output_stated or not parsed.has_answer:
        return False
    if isinstance(last.output, list):
        if parsed.answer_none:
            return not last.output
        return bool(parsed.answer_ids) and sorted(parsed.answer_ids) == sorted(last.output)
    if parsed.answer_none or parsed.answer_ids:
        return False
    return parsed.answer_value == last.output


_OBJ = r"Object (\d+)(?: \([^()]*\))?"
_EVIDENCE_RE = re.compile(rf"^{_OBJ} is (.+?) {_OBJ}(?: and {_OBJ})? \(")


def _check_evidence(s: ParsedStep, inputs: list[list[int]], scene: Scene, ex: Executor) -> str:
    """'' when every 'Object A is <relation> Object B' line of a relation step is true."""
    if s.op not in ("relate", "relate_multi", "relate_anchor") or not s.evidence:
        return ""
    geom = ex._cache.get(scene)
    for line in s.evidence:
        m = _EVIDENCE_RE.match(line)
        if not m:
            continue  # notes and free text are not claims
        subject, phrase, anchor = int(m.group(1)), m.group(2), int(m.group(3))
        other = int(m.group(4)) if m.group(4) else None
        claim = f"step {s.index} claims '{m.group(0)[:-2]}'"
        if subject not in (s.output or []):
            return f"{claim}, but object {subject} is not in its result"
        other_set = inputs[1] if s.op == "relate_anchor" else (inputs[2] if len(inputs) >= 3 else [])
        if anchor not in inputs[1] or (other is not None and other not in other_set):
            return f"{claim}, but that anchor is not among its anchor objects"
        if not scene.has(subject) or not scene.has(anchor) or (other is not None and not scene.has(other)):
            return f"{claim}, but an object does not exist in the scene"
        rows = geom.rows([subject]), geom.rows([anchor])
        if s.op == "relate":
            try:
                name = rel.canonical_relation(phrase)
            except ProgramExecutionError:
                return f"{claim}, but {phrase!r} is no relation"
            if name != _canon_rel(s.args.get("relation", "")):
                return f"{claim}, but the step is about {s.args.get('relation')!r}"
            if not rel.binary_relation(name, geom, rows[0], rows[1], s.args.get("frame", "viewer")).holds[0, 0]:
                return f"{claim}, which is not true"
        elif s.op == "relate_multi":
            if other is None or not rel.between_relation(geom, rows[0], rows[1], geom.rows([other])).holds[0, 0, 0]:
                return f"{claim}, which is not true"
    return ""


def _check_step(s: ParsedStep, by_index: dict[int, ParsedStep], scene: Scene, scene_ids: list[int],
                ex: Executor) -> StepCheck:
    if s.op is None:
        return StepCheck(s.index, False, f"step {s.index} has no plan line that says what it does")
    if not s.output_stated:
        return StepCheck(s.index, False, f"step {s.index} has no (readable) execution line")
    inputs: list[list[int]] = []
    for ref in s.input_refs:
        if ref is None:
            inputs.append(scene_ids)
            continue
        src = by_index.get(ref)
        if ref >= s.index or src is None:
            return StepCheck(s.index, False, f"step {s.index} uses step {ref}, which does not come before it")
        if not src.output_stated or not isinstance(src.output, list):
            return StepCheck(s.index, False, f"step {s.index} uses step {ref}, which states no object set")
        inputs.append([i for i in src.output if scene.has(i)])
    if isinstance(s.output, list):
        ghosts = [i for i in s.output if not scene.has(i)]
        if ghosts:
            return StepCheck(s.index, False, f"step {s.index} lists object {ghosts[0]}, which does not exist in the scene")
        if len(set(s.output)) != len(s.output):
            return StepCheck(s.index, False, f"step {s.index} lists an object twice")
    try:
        expected, _, _ = ex.run_op(s.op, s.args, inputs, scene)
    except ProgramExecutionError as exc:
        return StepCheck(s.index, False, f"step {s.index} cannot be executed: {exc}")
    if isinstance(expected, list):
        if not isinstance(s.output, list):
            return StepCheck(s.index, False, f"step {s.index} should list objects", expected)
        if sorted(s.output) == sorted(expected):
            claim = _check_evidence(s, inputs, scene, ex)
            if claim:
                return StepCheck(s.index, False, claim, expected)
            return StepCheck(s.index, True, "", expected)
        return StepCheck(s.index, False, _set_reason(s, s.output, expected, inputs, scene), expected)
    if s.output == expected or (isinstance(expected, str) and isinstance(s.output, str)
                                and _one_line(expected) == _one_line(s.output)):
        return StepCheck(s.index, True, "", expected)
    return StepCheck(s.index, False, f"step {s.index} states {s.output!r}, but the scene gives {expected!r}", expected)


def check_trace(text, scene: Scene, matcher: ConceptMatcher | None = None,
                executor: Executor | None = None) -> TraceVerification:
    """``verify_trace(parse_trace(text), scene)``: one call for a model's raw output."""
    return verify_trace(parse_trace(text), scene, matcher, executor)


def parsed_step_reports(parsed: ParsedTrace, verification: TraceVerification | None, scene: Scene) -> list[StepReport]:
    """StepReports for a trace someone else wrote (the neural model), marked by verification."""
    checks = {c.index: c for c in verification.steps} if verification is not None else {}
    by_index = {s.index: s for s in parsed.steps}
    reports = []
    for s in parsed.steps:
        inputs = []
        for ref in s.input_refs:
            if ref is None:
                inputs.append(sorted(scene.ids) if isinstance(scene, Scene) else [])
            else:
                src = by_index.get(ref)
                inputs.append(list(src.output) if src is not None and isinstance(src.output, list) else [])
        check = checks.get(s.index)
        execution = "\n".join([s.execution_text] + s.evidence) if s.execution_text else ""
        if check is not None and not check.ok:
            execution = (execution + "\n" if execution else "") + f"Check failed: {check.reason}"
        reports.append(StepReport(index=s.index, op=s.op or "unknown", plan=s.plan_text, execution=execution,
                                  inputs=inputs, output=list(s.output) if isinstance(s.output, list) else s.output,
                                  verified=check.ok if check is not None else None))
    return reports

