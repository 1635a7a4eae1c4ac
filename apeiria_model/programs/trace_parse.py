"""Parse trace text of either style back into steps and an answer; never raises."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apeiria_model.programs import ast
from apeiria_model.programs import relations as rel
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.programs.trace_text import (INDENT, MAX_ERRORS, MAX_TRACE_CHARS, NO_ANSWER, NO_MATCH, _QUOTED,
                                               _unquote)

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
    ("relate", re.compile(rf"^Check which of {_REF} are (?!between )(.+?) {_REF}(, in the anchor's own frame|, as seen facing the anchor)?$")),
    ("relate_multi", re.compile(rf"^Check which of {_REF} are between {_REF} and {_REF}$")),
    ("relate_anchor", re.compile(rf"^Find which of {_REF} is (closest to|farthest from|best .+?) {_REF}"
                                 r"(, in the anchor's own frame|, as seen facing the anchor)?$")),
    ("union", re.compile(rf"^Combine {_REF} and {_REF}$")),
    ("intersection", re.compile(rf"^Keep the objects in both {_REF} and {_REF}$")),
    ("exclude", re.compile(rf"^Remove {_REF} from {_REF}$")),
    ("superlative", re.compile(rf"^Select the (?:(\d+)(?:st|nd|rd|th) )?([a-z_]+) of {_REF}$")),
    ("count", re.compile(rf"^Count {_REF}$")),
    ("query", re.compile(rf"^Report the ([a-z_]+) of {_REF}$")),
]
_FRAME_OF_PHRASE = {", in the anchor's own frame": ast.FRAME_ANCHOR, ", as seen facing the anchor": ast.FRAME_FACING}
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
            frame = _FRAME_OF_PHRASE.get(g[5], ast.FRAME_VIEWER) if g[5] else ast.FRAME_VIEWER
            return "relate", {"relation": relation, "frame": frame}, [_ref_value(g[1]), _ref_value(g[4])]
        if name == "relate_multi":
            return "relate_multi", {"relation": "between"}, [_ref_value(g[1]), _ref_value(g[3]), _ref_value(g[5])]
        if name == "relate_anchor":
            phrase = g[2]
            try:
                relation = rel.canonical_relation(phrase[len("best "):] if phrase.startswith("best ") else phrase)
            except ProgramExecutionError:
                return None
            frame = _FRAME_OF_PHRASE.get(g[5], ast.FRAME_VIEWER) if g[5] else ast.FRAME_VIEWER
            return "relate_anchor", {"relation": relation, "frame": frame}, [_ref_value(g[1]), _ref_value(g[4])]
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
    arity = ast.OP_INPUTS
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
    if op == "relate_anchor" and len(rest) in (1, 2):
        frame = rest[1] if len(rest) == 2 else ast.FRAME_VIEWER
        if frame not in ast.FRAMES:
            return None
        return op, {"relation": rest[0], "frame": frame}, refs
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
            elif current is not None and (raw.startswith(INDENT) or line.startswith(("Object ", "Note:"))):
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

