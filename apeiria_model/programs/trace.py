"""Reasoning traces: render an execution as text, parse such text back, verify it.

Two styles share one structure (a ``<think>`` block with ``Plan:`` and ``Execution:``,
then an ``<answer>`` block):

``full`` (for people; the reference shape)::

    <think>
    I need to find the object described as: the chair left of the desk
    Plan:
    1. Find all objects of category 'chair'
    2. Find all objects of category 'desk'
    3. Check which of the 'chair' (step 1) are left of the 'desk' (step 2)
    Execution:
    Step 1: Found 2 object(s): ID(s): 4 (chair), 5 (chair)
    Step 2: Found 1 object(s): ID(s): 0 (desk)
    Step 3: Found 1 object(s): ID(s): 4 (chair)
      Object 4 (chair) is left of Object 0 (desk) (offset 0.80 m, distance 0.10 m)
    Conclusion:
    Object 4: chair at (-0.30, 0.80, 0.45), size 0.50 x 0.50 x 0.90
    </think>
    <answer>
    Object 4: chair at (-0.30, 0.80, 0.45), size 0.50 x 0.50 x 0.90
    </answer>

``compact`` (what the neural model learns to write: every token costs decode time, so
plan lines are flat DSL calls over step references, execution lines only ids, no
evidence, and boxes only in the answer)::

    <think>
    Plan:
    1. filter(scene, chair)
    2. filter(scene, desk)
    3. relate(#1, #2, left)
    Execution:
    Step 1: 4, 5
    Step 2: 0
    Step 3: 4
    </think>
    <answer>
    Object 4: chair at (-0.30, 0.80, 0.45), size 0.50 x 0.50 x 0.90
    </answer>

:func:`parse_trace` reads either style and never raises; :func:`verify_trace`
re-executes every step from the inputs the trace itself states (so one wrong step is
blamed once, not on everything after it) with the same :class:`Executor` semantics,
checks every evidence claim of a full trace ("Object 1 (mug) is near Object 4
(chair)") against the geometry, that the answer restates the last step, and that
every answer box is the scene's box of that id (to the 2 printed decimals).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apeiria_model.programs import ast
from apeiria_model.programs import relations as rel
from apeiria_model.programs.concepts import ConceptMatcher
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.executor import (QUERY_ATTRIBUTES, ExecStep, ExecutionResult, Executor,
                                             superlative_kind_and_rank)
from apeiria_model.reasoning.result import StepReport
from apeiria_model.scene.model import Scene

STYLES = ("full", "compact")
NO_MATCH = "No object matches the description."
NO_ANSWER = "No answer."
MAX_TRACE_CHARS = 200_000       # parse_trace reads at most this much
MAX_ERRORS = 50                 # parse_trace keeps this many problem messages
BOX_TOLERANCE = 0.006           # stated boxes are rounded to 2 decimals
_INDENT = "  "


# --- small text helpers ------------------------------------------------------------------
def _num(v: float) -> str:
    x = round(float(v), 2)
    return f"{0.0 if x == 0 else x:.2f}"


def _quote(text: str) -> str:
    """Single-quoted with \\ escapes, one line."""
    body = (str(text).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))
    return f"'{body}'"


_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t"}
_QUOTED = r"'((?:[^'\\]|\\.)*)'"


def _unquote(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), body)


_BARE_CONCEPT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def _compact_concept(concept: str) -> str:
    """Bare word when possible, else double-quoted with escapes (always one line)."""
    if _BARE_CONCEPT.match(concept):
        return concept
    body = (concept.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{body}"'


def _label(text: str) -> str:
    """Labels are decoration in a trace: keep them on one line and free of brackets."""
    return re.sub(r"\s+", " ", str(text)).replace("(", "[").replace(")", "]").strip() or "object"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def box_line(obj) -> str:
    """'Object 4: chair at (-0.30, 0.80, 0.45), size 0.50 x 0.50 x 0.90'."""
    c = ", ".join(_num(v) for v in obj.center)
    s = " x ".join(_num(v) for v in obj.size)
    return f"Object {obj.id}: {_label(obj.label)} at ({c}), size {s}"


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
        frame = ", in the anchor's own frame" if a.get("frame") == ast.FRAME_ANCHOR else ""
        return (f"Check which of {_ref(refs[0], nouns)} are {rel.RELATION_PHRASE.get(name, name)} "
                f"{_ref(refs[1], nouns)}{frame}")
    if op == "relate_multi":
        return f"Check which of {_ref(refs[0], nouns)} are between {_ref(refs[1], nouns)} and {_ref(refs[2], nouns)}"
    if op == "relate_anchor":
        name = _canon_rel(a["relation"])
        return f"Find which of {_ref(refs[0], nouns)} is {rel.RELATION_PHRASE.get(name, name)} {_ref(refs[1], nouns)}"
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
        frame = ", anchor" if a.get("frame") == ast.FRAME_ANCHOR else ""
        return f"relate({r[0]}, {r[1]}, {_canon_rel(a['relation'])}{frame})"
    if op == "relate_multi":
        return f"relate_multi({r[0]}, {r[1]}, {r[2]}, {_canon_rel(a['relation'])})"
    if op == "relate_anchor":
        return f"relate_anchor({r[0]}, {r[1]}, {_canon_rel(a['relation'])})"
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
        phrase = rel.RELATION_PHRASE.get(_canon_rel(step.args["relation"]), step.args["relation"])
        for ev in step.evidence:
            lines.append(f"{_obj(ev.object_id, scene)} is {phrase} {_obj(ev.anchor_ids[0], scene)} "
                         f"(distance {_num(ev.value)} m)")
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
            lines.extend(_INDENT + e for e in _evidence_lines(s, scene))
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


# --- parsing -------------------------------------------------------------------------------
@dataclass
class ParsedStep:
    index: int
    op: str | None = None                      # None: plan line missing / not understood
    args: dict[str, Any] = field(default_factory=dict)
    input_refs: list[int | None] = field(default_factory=list)   # step numbers; None = scene
    plan_text: str = ""
    output: list[int] | int | str | None = None
    output_stated: bool = False
    evidence: list[str] = field(default_factory=list)
    execution_text: str = ""                   # the 'Step N: ...' line as written


@dataclass
class AnswerBox:
    id: int
    label: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]


@dataclass
class ParsedTrace:
    style: str | None = None                   # "full" | "compact" | None (unknown)
    description: str | None = None
    steps: list[ParsedStep] = field(default_factory=list)
    answer_text: str | None = None             # raw answer block; None when absent
    answer_ids: list[int] = field(default_factory=list)
    answer_boxes: list[AnswerBox] = field(default_factory=list)
    answer_value: int | str | None = None      # count / query answers
    answer_none: bool = False                  # "No object matches the description."
    conclusion_ids: list[int] | None = None
    has_think: bool = False
    has_plan: bool = False
    has_execution: bool = False
    has_answer: bool = False
    errors: list[str] = field(default_factory=list)

    def step(self, index: int) -> ParsedStep | None:
        for s in self.steps:
            if s.index == index:
                return s
        return None


_NUM = r"(-?\d+(?:\.\d+)?)"
_BOX_RE = re.compile(rf"^Object (\d+): (.*) at \({_NUM}, {_NUM}, {_NUM}\), size {_NUM} x {_NUM} x {_NUM}$")
_REF = rf"(?:the {_QUOTED} \(step (\d+)\)|all objects)"
_PLAN_NUM = re.compile(r"^(\d+)\.\s*(.*)$")
_STEP_NUM = re.compile(r"^Step (\d+):\s*(.*)$")
_FULL_PLANS: list[tuple[str, re.Pattern]] = [
    ("scene", re.compile(r"^Examine all objects$")),
    ("filter_scene", re.compile(rf"^Find all objects of category {_QUOTED}$")),
    ("filter", re.compile(rf"^Keep {_REF} that match {_QUOTED}$")),
    ("relate", re.compile(rf"^Check which of {_REF} are (?!between )(.+?) {_REF}(, in the anchor's own frame)?$")),
    ("relate_multi", re.compile(rf"^Check which of {_REF} are between {_REF} and {_REF}$")),
    ("relate_anchor", re.compile(rf"^Find which of {_REF} is (closest to|farthest from) {_REF}$")),
    ("union", re.compile(rf"^Combine {_REF} and {_REF}$")),
    ("intersection", re.compile(rf"^Keep the objects in both {_REF} and {_REF}$")),
    ("exclude", re.compile(rf"^Remove {_REF} from {_REF}$")),
    ("superlative", re.compile(rf"^Select the (?:(\d+)(?:st|nd|rd|th) )?([a-z_]+) of {_REF}$")),
    ("count", re.compile(rf"^Count {_REF}$")),
    ("query", re.compile(rf"^Report the ([a-z_]+) of {_REF}$")),
]
_COMPACT_CALL = re.compile(r"^([a-z_]+)\((.*)\)$")
_COMPACT_REF = re.compile(r"^#(\d+)$")


def _ref_value(step_group: str | None) -> int | None:
    return int(step_group) if step_group is not None else None


def _parse_full_plan(body: str) -> tuple[str, dict, list] | None:
    for name, pattern in _FULL_PLANS:
        m = pattern.match(body)
        if not m:
            continue
        g = m.groups()
        if name == "scene":
            return "scene", {}, []
        if name == "filter_scene":
            return "filter", {"concept": _unquote(g[0])}, [None]
        if name == "filter":
            return "filter", {"concept": _unquote(g[2])}, [_ref_value(g[1])]
        if name == "relate":
            try:
                relation = rel.canonical_relation(g[2])
            except ProgramExecutionError:
                return None
            frame = ast.FRAME_ANCHOR if g[5] else ast.FRAME_VIEWER
            return "relate", {"relation": relation, "frame": frame}, [_ref_value(g[1]), _ref_value(g[4])]
        if name == "relate_multi":
            return "relate_multi", {"relation": "between"}, [_ref_value(g[1]), _ref_value(g[3]), _ref_value(g[5])]
        if name == "relate_anchor":
            relation = "closest" if g[2].startswith("closest") else "farthest"
            return "relate_anchor", {"relation": relation}, [_ref_value(g[1]), _ref_value(g[4])]
        if name in ("union", "intersection"):
            return name, {}, [_ref_value(g[1]), _ref_value(g[3])]
        if name == "exclude":  # "Remove B from A" = exclude(A, B)
            return "exclude", {}, [_ref_value(g[3]), _ref_value(g[1])]
        if name == "superlative":
            rank = int(g[0]) if g[0] else 1
            return "superlative", {"kind": g[1], "rank": rank}, [_ref_value(g[3])]
        if name == "count":
            return "count", {}, [_ref_value(g[1])]
        if name == "query":
            return "query", {"attribute": g[0]}, [_ref_value(g[2])]
    return None


def _split_args(text: str) -> list[str] | None:
    """Top-level comma split that respects double-quoted strings; None if unbalanced."""
    out, cur, in_str, esc = [], [], False, False
    for ch in text:
        if in_str:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
            cur.append(ch)
        elif ch == ",":
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if in_str:
        return None
    out.append("".join(cur).strip())
    return out


def _compact_ref(tok: str) -> tuple[bool, int | None]:
    if tok == "scene":
        return True, None
    m = _COMPACT_REF.match(tok)
    return (True, int(m.group(1))) if m else (False, None)


def _parse_compact_plan(body: str) -> tuple[str, dict, list] | None:
    m = _COMPACT_CALL.match(body.strip())
    if not m:
        return None
    op, args = m.group(1), _split_args(m.group(2))
    if args is None:
        return None
    if op == "scene":
        return ("scene", {}, []) if args == [""] else None
    arity = {"scene": 0, "filter": 1, "relate": 2, "relate_multi": 3, "relate_anchor": 2, "union": 2, "intersection": 2,
             "exclude": 2, "superlative": 1, "count": 1, "query": 1}
    if op not in arity or len(args) < arity[op]:
        return None
    refs = []
    for tok in args[:arity[op]]:
        ok, ref = _compact_ref(tok)
        if not ok:
            return None
        refs.append(ref)
    rest = args[arity[op]:]
    if op == "filter" and len(rest) == 1 and rest[0]:
        c = rest[0]
        if c.startswith('"'):
            if len(c) < 2 or not c.endswith('"'):
                return None
            c = _unquote(c[1:-1])
        return op, {"concept": c}, refs
    if op == "relate" and len(rest) in (1, 2):
        frame = rest[1] if len(rest) == 2 else ast.FRAME_VIEWER
        if frame not in ast.FRAMES:
            return None
        return op, {"relation": rest[0], "frame": frame}, refs
    if op == "relate_multi" and len(rest) <= 1:
        return op, {"relation": rest[0] if rest else "between"}, refs
    if op == "relate_anchor" and len(rest) == 1:
        return op, {"relation": rest[0]}, refs
    if op in ("union", "intersection", "exclude", "count") and not rest:
        return op, {}, refs
    if op == "superlative" and len(rest) in (1, 2):
        if len(rest) == 2 and not rest[1].isdigit():
            return None
        return op, {"kind": rest[0], "rank": int(rest[1]) if len(rest) == 2 else 1}, refs
    if op == "query" and len(rest) == 1:
        return op, {"attribute": rest[0]}, refs
    return None


def _parse_id_list(text: str) -> list[int] | None:
    """'4 (chair), 5 (chair)' or '4, 5' -> [4, 5]; None when malformed."""
    text = text.strip()
    ids, pos = [], 0
    while pos < len(text):
        m = re.compile(r"\s*(\d{1,12})").match(text, pos)
        if not m:
            return None
        ids.append(int(m.group(1)))
        pos = m.end()
        m = re.compile(r" \([^()]*\)").match(text, pos)
        if m:
            pos = m.end()
        if pos >= len(text):
            break
        m = re.compile(r",\s*").match(text, pos)
        if not m:
            return None
        pos = m.end()
    return ids


def _parse_execution(body: str, style: str | None) -> tuple[bool, Any]:
    """(understood, output) of one 'Step N:' line's body."""
    m = re.match(r"^Found (\d+) object\(s\)(?:\.|: ID\(s\): (.*))$", body)
    if m:
        if m.group(2) is None:
            return int(m.group(1)) == 0, []
        ids = _parse_id_list(m.group(2))
        return (ids is not None and len(ids) == int(m.group(1))), ids
    m = re.match(r"^Counted (\d+) object\(s\)\.$", body)
    if m:
        return True, int(m.group(1))
    m = re.match(r"^The [a-z_]+ is (.*)\.$", body)
    if m:
        return True, m.group(1)
    if body.startswith("No answer:") or body == "no answer":
        return True, None
    # compact forms: "4, 5" | "none" | "3" (count) | "black" (query)
    if body == "none":
        return True, []
    ids = _parse_id_list(body)
    if ids is not None and body:
        return True, ids
    if body:
        return True, body
    return False, None


def _parse_box(line: str) -> AnswerBox | None:
    m = _BOX_RE.match(line.strip())
    if not m:
        return None
    v = [float(x) for x in m.groups()[2:]]
    return AnswerBox(int(m.group(1)), m.group(2), (v[0], v[1], v[2]), (v[3], v[4], v[5]))


def _block(text: str, tag: str) -> tuple[str | None, bool]:
    """Content of <tag>...</tag> (first one), and whether it was closed."""
    start = text.find(f"<{tag}>")
    if start < 0:
        return None, False
    start += len(tag) + 2
    end = text.find(f"</{tag}>", start)
    if end < 0:
        return text[start:], False
    return text[start:end], True


def parse_trace(text) -> ParsedTrace:
    """Read a trace of either style. Never raises: problems go to ``errors``."""
    out = ParsedTrace()
    try:
        _parse_into(text, out)
    except Exception as exc:  # a parser must not take its caller down; record and go on
        out.errors.append(f"internal parse failure: {type(exc).__name__}: {exc}")
    if len(out.errors) > MAX_ERRORS:
        extra = len(out.errors) - MAX_ERRORS
        out.errors = out.errors[:MAX_ERRORS] + [f"... and {extra} more problem(s)"]
    return out


def _parse_into(text, out: ParsedTrace) -> None:
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
        out.errors.append("trace was bytes; decoded as UTF-8 with replacement")
    if not isinstance(text, str):
        out.errors.append(f"trace must be a string, got {type(text).__name__}")
        return
    if len(text) > MAX_TRACE_CHARS:
        out.errors.append(f"trace is {len(text)} characters; only the first {MAX_TRACE_CHARS} were read")
        text = text[:MAX_TRACE_CHARS]
    text = text.replace("\r\n", "\n")
    think, closed = _block(text, "think")
    out.has_think = think is not None
    if think is None:
        out.errors.append("no <think> block")
        think = text.split("<answer>")[0]
    elif not closed:
        out.errors.append("<think> block is not closed")
    answer, a_closed = _block(text, "answer")
    out.has_answer = answer is not None
    if answer is None:
        out.errors.append("no <answer> block")
    elif not a_closed:
        out.errors.append("<answer> block is not closed")
    if out.has_think and out.has_answer and text.find("<answer>") < text.find("<think>"):
        out.errors.append("<answer> comes before <think>")

    section = None
    steps: dict[int, ParsedStep] = {}
    current: ParsedStep | None = None
    conclusion: list[int] | None = None
    for raw in think.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("I need to "):
            m = re.match(r"^I need to (?:find the object described as|count the objects described as|"
                         r"answer the question): (.*)$", line)
            out.description = m.group(1) if m else line
            continue
        if line == "Plan:":
            section, out.has_plan = "plan", True
            continue
        if line == "Execution:":
            section, out.has_execution = "exec", True
            continue
        if line.startswith("Conclusion:"):
            section = "conclusion"
            conclusion = []
            rest = line[len("Conclusion:"):].strip()
            if rest and rest != NO_MATCH:
                conclusion = None
            continue
        if section == "plan":
            m = _PLAN_NUM.match(line)
            if not m:
                out.errors.append(f"plan line not understood: {line[:80]!r}")
                continue
            idx, body = int(m.group(1)), m.group(2)
            parsed = _parse_compact_plan(body)
            style = "compact"
            if parsed is None:
                parsed, style = _parse_full_plan(body), "full"
            if out.style is None and parsed is not None:
                out.style = style
            if idx in steps and steps[idx].op is not None:
                out.errors.append(f"plan step {idx} appears twice")
                continue
            step = steps.setdefault(idx, ParsedStep(idx))
            step.plan_text = body
            if parsed is None:
                out.errors.append(f"plan step {idx} not understood: {body[:80]!r}")
            else:
                step.op, step.args, step.input_refs = parsed
        elif section == "exec":
            m = _STEP_NUM.match(line)
            if m:
                idx = int(m.group(1))
                ok, value = _parse_execution(m.group(2).strip(), out.style)
                if idx in steps and steps[idx].output_stated:
                    out.errors.append(f"execution step {idx} appears twice")
                    current = None
                    continue
                current = steps.setdefault(idx, ParsedStep(idx))
                current.execution_text = line
                if not ok:
                    out.errors.append(f"execution of step {idx} not understood: {m.group(2)[:80]!r}")
                else:
                    current.output, current.output_stated = value, True
            elif current is not None and (raw.startswith(_INDENT) or line.startswith(("Object ", "Note:"))):
                current.evidence.append(line)
            else:
                out.errors.append(f"execution line not understood: {line[:80]!r}")
        elif section == "conclusion":
            box = _parse_box(line)
            if box is None:
                out.errors.append(f"conclusion line not understood: {line[:80]!r}")
            elif conclusion is not None:
                conclusion.append(box.id)
    out.conclusion_ids = conclusion
    if not out.has_plan:
        out.errors.append("no Plan: section")
    if not out.has_execution:
        out.errors.append("no Execution: section")
    # Interpret step outputs by op: compact "3" is a count, "black" a query value.
    for s in steps.values():
        if not s.output_stated or s.op is None:
            continue
        if s.op == "count":
            if isinstance(s.output, list) and len(s.output) == 1:
                s.output = s.output[0]
            elif not isinstance(s.output, int) or isinstance(s.output, bool):
                out.errors.append(f"step {s.index}: a count must state a number")
                s.output_stated = False
        elif s.op == "query":
            if isinstance(s.output, list):
                s.output = ", ".join(map(str, s.output)) if s.output else None
        elif not isinstance(s.output, list):
            out.errors.append(f"step {s.index}: a {s.op} step must list object ids")
            s.output_stated = False
    out.steps = [steps[k] for k in sorted(steps)]
    if answer is not None:
        _parse_answer(answer, out)


def _parse_answer(answer: str, out: ParsedTrace) -> None:
    lines = [ln.strip() for ln in answer.split("\n") if ln.strip()]
    out.answer_text = "\n".join(lines)
    last_op = out.steps[-1].op if out.steps else None
    if not lines:
        out.errors.append("empty <answer> block")
        return
    if lines == [NO_MATCH]:
        out.answer_none = True
        return
    boxes = [_parse_box(ln) for ln in lines]
    if all(b is not None for b in boxes):
        out.answer_boxes = [b for b in boxes if b is not None]
        out.answer_ids = [b.id for b in out.answer_boxes]
        return
    if len(lines) == 1:
        value = lines[0]
        if value == NO_ANSWER:
            out.answer_value = None
        elif last_op == "count" or (last_op is None and re.fullmatch(r"\d{1,12}", value)):
            if re.fullmatch(r"\d{1,12}", value):
                out.answer_value = int(value)
            else:
                out.errors.append(f"answer should be a count, got {value[:40]!r}")
        else:
            out.answer_value = value
        return
    bad = next(ln for ln, b in zip(lines, boxes) if b is None)
    out.errors.append(f"answer line not understood: {bad[:80]!r}")
    out.answer_boxes = [b for b in boxes if b is not None]
    out.answer_ids = [b.id for b in out.answer_boxes]


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
        if anchor not in inputs[1] or (other is not None and (len(inputs) < 3 or other not in inputs[2])):
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
