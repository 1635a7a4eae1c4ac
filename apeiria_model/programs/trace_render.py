"""Render an execution as a trace (full or compact style); see ``programs/trace.py``."""

from __future__ import annotations

from apeiria_model.programs import ast
from apeiria_model.programs import relations as rel
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.executor import QUERY_ATTRIBUTES, ExecStep, ExecutionResult, superlative_kind_and_rank
from apeiria_model.programs.trace_text import (INDENT, NO_ANSWER, NO_MATCH, STYLES, _compact_concept, _label,
                                               _num, _one_line, _ordinal, _quote, box_line)
from apeiria_model.reasoning.result import StepReport
from apeiria_model.scene.model import Scene

# --- rendering ---------------------------------------------------------------------------
def _ref(step_index: int | None, nouns: dict[int, str]) -> str:
    if step_index is None:
        return "all objects"
    return f"the {_quote(nouns.get(step_index, 'object'))} (step {step_index})"


def _cref(step_index: int | None) -> str:
    return "scene" if step_index is None else f"#{step_index}"


def _canon_rel(name: str) -> str:
    try:
        return rel.canonical_relation(name)
    except ProgramExecutionError:
        return name


def _kind_rank(args: dict) -> tuple[str, int]:
    rank = int(args.get("rank", 1))
    try:
        return superlative_kind_and_rank(args["kind"], rank)
    except ProgramExecutionError:
        return _one_line(args["kind"]), rank


_FRAME_PHRASE = {ast.FRAME_ANCHOR: ", in the anchor's own frame", ast.FRAME_FACING: ", as seen facing the anchor"}


def pick_phrase(name: str) -> str:
    """How a relate_anchor relation reads: 'closest to', 'best left of', 'best between'."""
    if name in rel.ANCHOR_RELATIONS:
        return rel.RELATION_PHRASE[name]
    return "best " + rel.RELATION_PHRASE.get(name, name)


def plan_line(step: ExecStep, nouns: dict[int, str]) -> str:
    """The full-style plan sentence of one step (without its number)."""
    op, a, refs = step.op, step.args, step.input_steps
    if op == "scene":
        return "Examine all objects"
    if op == "filter":
        if refs[0] is None:
            return f"Find all objects of category {_quote(a['concept'])}"
        return f"Keep {_ref(refs[0], nouns)} that match {_quote(a['concept'])}"
    if op == "relate":
        name = _canon_rel(a["relation"])
        frame = _FRAME_PHRASE.get(a.get("frame"), "")
        return (f"Check which of {_ref(refs[0], nouns)} are {rel.RELATION_PHRASE.get(name, name)} "
                f"{_ref(refs[1], nouns)}{frame}")
    if op == "relate_multi":
        return f"Check which of {_ref(refs[0], nouns)} are between {_ref(refs[1], nouns)} and {_ref(refs[2], nouns)}"
    if op == "relate_anchor":
        name = _canon_rel(a["relation"])
        frame = _FRAME_PHRASE.get(a.get("frame"), "")
        return f"Find which of {_ref(refs[0], nouns)} is {pick_phrase(name)} {_ref(refs[1], nouns)}{frame}"
    if op == "union":
        return f"Combine {_ref(refs[0], nouns)} and {_ref(refs[1], nouns)}"
    if op == "intersection":
        return f"Keep the objects in both {_ref(refs[0], nouns)} and {_ref(refs[1], nouns)}"
    if op == "exclude":
        return f"Remove {_ref(refs[1], nouns)} from {_ref(refs[0], nouns)}"
    if op == "superlative":
        kind, rank = _kind_rank(a)
        nth = f"{_ordinal(rank)} " if rank != 1 else ""
        return f"Select the {nth}{kind} of {_ref(refs[0], nouns)}"
    if op == "count":
        return f"Count {_ref(refs[0], nouns)}"
    if op == "query":
        return f"Report the {_attr(a['attribute'])} of {_ref(refs[0], nouns)}"
    raise ValueError(f"unknown op {op!r}")


def compact_plan_line(step: ExecStep) -> str:
    """The compact plan call of one step, e.g. 'relate(#1, #2, left)'."""
    op, a, refs = step.op, step.args, step.input_steps
    r = [_cref(x) for x in refs]
    if op == "scene":
        return "scene()"
    if op == "filter":
        return f"filter({r[0]}, {_compact_concept(a['concept'])})"
    if op == "relate":
        frame = f", {a['frame']}" if a.get("frame") in (ast.FRAME_ANCHOR, ast.FRAME_FACING) else ""
        return f"relate({r[0]}, {r[1]}, {_canon_rel(a['relation'])}{frame})"
    if op == "relate_multi":
        return f"relate_multi({r[0]}, {r[1]}, {r[2]}, {_canon_rel(a['relation'])})"
    if op == "relate_anchor":
        frame = f", {a['frame']}" if a.get("frame") in (ast.FRAME_ANCHOR, ast.FRAME_FACING) else ""
        return f"relate_anchor({r[0]}, {r[1]}, {_canon_rel(a['relation'])}{frame})"
    if op in ("union", "intersection", "exclude"):
        return f"{op}({r[0]}, {r[1]})"
    if op == "superlative":
        kind, rank = _kind_rank(a)
        return f"superlative({r[0]}, {kind}{', ' + str(rank) if rank != 1 else ''})"
    if op == "count":
        return f"count({r[0]})"
    if op == "query":
        return f"query({r[0]}, {_attr(a['attribute'])})"
    raise ValueError(f"unknown op {op!r}")


def _attr(name: str) -> str:
    key = _one_line(name).lower()
    return QUERY_ATTRIBUTES.get(key, key.replace(" ", "_"))


def _nouns(steps: list[ExecStep]) -> dict[int, str]:
    nouns: dict[int, str] = {}
    for s in steps:
        if s.op == "filter":
            nouns[s.index] = _one_line(s.args["concept"])
        else:
            first = s.input_steps[0] if s.input_steps else None
            nouns[s.index] = nouns.get(first, "object") if first is not None else "object"
    return nouns


def _ids_with_labels(ids, scene: Scene) -> str:
    return ", ".join(f"{i} ({_label(scene.get(i).label)})" if scene.has(i) else str(i) for i in ids)


def _obj(i: int, scene: Scene) -> str:
    return f"Object {i} ({_label(scene.get(i).label)})" if scene.has(i) else f"Object {i}"


def _evidence_lines(step: ExecStep, scene: Scene) -> list[str]:
    lines = []
    if step.op == "relate":
        phrase = rel.RELATION_PHRASE.get(_canon_rel(step.args["relation"]), step.args["relation"])
        for ev in step.evidence:
            unit = {"footprint overlap": "", "contained fraction": "", "angle": " deg"}.get(ev.measure, " m")
            lines.append(f"{_obj(ev.object_id, scene)} is {phrase} {_obj(ev.anchor_ids[0], scene)} "
                         f"({ev.measure} {_num(ev.value)}{unit}, {ev.note})")
    elif step.op == "relate_multi":
        for ev in step.evidence:
            lines.append(f"{_obj(ev.object_id, scene)} is between {_obj(ev.anchor_ids[0], scene)} and "
                         f"{_obj(ev.anchor_ids[1], scene)} ({_num(ev.value)} m off the line, {ev.note})")
    elif step.op == "relate_anchor":
        name = _canon_rel(step.args["relation"])
        phrase = pick_phrase(name)
        for ev in step.evidence:
            anchors = " and ".join(_obj(a, scene) for a in ev.anchor_ids)
            if ev.measure == "score":
                lines.append(f"{_obj(ev.object_id, scene)} is {phrase} {anchors} "
                             f"(score {_num(ev.value)}, {ev.note})")
            else:
                lines.append(f"{_obj(ev.object_id, scene)} is {phrase} {anchors} (distance {_num(ev.value)} m)")
    elif step.op == "superlative":
        for ev in step.evidence:
            lines.append(f"{_obj(ev.object_id, scene)} is the {_kind_rank(step.args)[0]} ({ev.note})")
    lines.extend(f"Note: {_one_line(n)}" for n in step.notes)
    return lines


def execution_line(step: ExecStep, scene: Scene, style: str = "full") -> str:
    out = step.output
    if style == "compact":
        if step.op == "count":
            return f"Step {step.index}: {out}"
        if step.op == "query":
            return f"Step {step.index}: {_one_line(out) if out is not None else 'no answer'}"
        return f"Step {step.index}: {', '.join(map(str, out)) if out else 'none'}"
    if step.op == "count":
        return f"Step {step.index}: Counted {out} object(s)."
    if step.op == "query":
        attr = _attr(step.args["attribute"])
        if out is None:
            why = _one_line("; ".join(step.notes)) or "unknown"
            return f"Step {step.index}: No answer: {why}"
        return f"Step {step.index}: The {attr} is {_one_line(out)}."
    if not out:
        return f"Step {step.index}: Found 0 object(s)."
    return f"Step {step.index}: Found {len(out)} object(s): ID(s): {_ids_with_labels(out, scene)}"


def _answer_lines(result: ExecutionResult, scene: Scene) -> list[str]:
    v = result.value
    if isinstance(v, list):
        return [box_line(scene.get(i)) for i in v] if v else [NO_MATCH]
    if v is None:
        return [NO_ANSWER]
    return [_one_line(str(v))]


def _description_line(program, instruction: str) -> str:
    text = _one_line(instruction) if instruction else str(program)
    text = text.replace("<", "\u2039").replace(">", "\u203a")  # keep the block tags unambiguous
    if isinstance(program, ast.Count):
        return f"I need to count the objects described as: {text}"
    if isinstance(program, ast.Query):
        return f"I need to answer the question: {text}"
    return f"I need to find the object described as: {text}"


def _trace_steps(result: ExecutionResult) -> list[ExecStep]:
    """The executor's steps; a bare ``scene()`` program gets one 'examine all' step so
    that every trace has at least one checkable step."""
    if result.steps or not isinstance(result.value, list):
        return result.steps
    return [ExecStep(1, "scene", "scene()", {}, [], [], list(result.value))]


def render_trace(instruction: str, program, result: ExecutionResult, scene: Scene, style: str = "full") -> str:
    """The trace text of an execution. ``style`` is "full" (people) or "compact" (model)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    steps = _trace_steps(result)
    ghosts = sorted({i for s in steps if isinstance(s.output, list) for i in s.output if not scene.has(i)})
    if ghosts:
        raise ValueError(f"result names object(s) {', '.join(map(str, ghosts[:5]))} that are not in this scene: "
                         "render with the scene it was executed on")
    lines = ["<think>"]
    if style == "full":
        lines.append(_description_line(program, instruction))
    lines.append("Plan:")
    nouns = _nouns(steps)
    for s in steps:
        body = plan_line(s, nouns) if style == "full" else compact_plan_line(s)
        lines.append(f"{s.index}. {body}")
    lines.append("Execution:")
    for s in steps:
        lines.append(execution_line(s, scene, style))
        if style == "full":
            lines.extend(INDENT + e for e in _evidence_lines(s, scene))
    answer = _answer_lines(result, scene)
    if style == "full":
        if isinstance(result.value, list) and result.value:
            lines.append("Conclusion:")
            lines.extend(answer)
        else:
            lines.append("Conclusion: " + answer[0])
    lines.append("</think>")
    lines.append("<answer>")
    lines.extend(answer)
    lines.append("</answer>")
    return "\n".join(lines)


def step_reports(result: ExecutionResult, scene: Scene, verified: bool | None = None) -> list[StepReport]:
    """The user-facing step list of ``reasoning/result.py`` for an execution."""
    steps = _trace_steps(result)
    nouns = _nouns(steps)
    reports = []
    for s in steps:
        execution = "\n".join([execution_line(s, scene, "full")] + _evidence_lines(s, scene))
        reports.append(StepReport(index=s.index, op=s.op, plan=plan_line(s, nouns), execution=execution,
                                  inputs=[list(x) for x in s.inputs],
                                  output=list(s.output) if isinstance(s.output, list) else s.output,
                                  verified=verified))
    return reports

