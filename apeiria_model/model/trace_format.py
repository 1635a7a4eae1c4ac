"""The text the neural model writes, and its conversion to/from H1's trace format.

The model writes the *compact* trace (``programs/trace.py``) with one change: the
answer block lists object IDs (``IDs: 4, 5``) instead of box lines. Box numbers are
not something to generate token by token -- they are looked up in the scene -- so
:func:`expand_answer` rewrites the ID line into the standard
``Object 4: chair at (...), size ...`` lines before ``parse_trace`` / ``verify_trace``.
Count / query answers (a number, a colour) are written verbatim, as in the trace.

Direct-answer mode (ablation "no thinking") keeps only the answer block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from apeiria_model.programs.trace import NO_MATCH, ParsedTrace, box_line, parse_trace
from apeiria_model.scene.model import Scene

IDS_PREFIX = "IDs:"
_ANSWER_RE = re.compile(r"<answer>\n?(.*?)\n?</answer>", re.S)
_IDS_LINE = re.compile(r"^IDs:\s*([0-9][0-9,\s]*)$")


@dataclass
class OutputStructure:
    """What the format reward looks at, filled from a generated text by read_output."""

    has_thinking: bool = False
    has_plan: bool = False
    has_execution: bool = False
    has_answer: bool = False
    in_order: bool = False        # thinking (plan before execution) before answer
    answer_ids: list[int] | None = None   # None: answer missing or unparseable
    answer_says_none: bool = False
    n_tokens: int = 0
    finished: bool = True         # ended with <eos> rather than at the token limit


def to_model_target(trace: str, thinking: bool = True) -> str:
    """Compact trace (H1 format) -> the model's training target."""
    m = _ANSWER_RE.search(trace)
    if m is None:
        raise ValueError("trace has no <answer> block")
    lines = [ln.strip() for ln in m.group(1).split("\n") if ln.strip()]
    parsed = parse_trace(trace)
    if parsed.answer_ids and len(parsed.answer_ids) == len(lines):
        body = f"{IDS_PREFIX} " + ", ".join(str(i) for i in parsed.answer_ids)
    else:
        body = "\n".join(lines)  # "No object matches..." / a count / a colour
    answer = f"<answer>\n{body}\n</answer>"
    if not thinking:
        return answer
    return trace[:m.start()] + answer + trace[m.end():]


def answer_target(ids: list[int] | None, value=None) -> str:
    """The answer block alone for gold IDs / a QA value (direct-answer training)."""
    if value is not None:
        body = str(value)
    elif ids:
        body = f"{IDS_PREFIX} " + ", ".join(str(i) for i in ids)
    else:
        body = NO_MATCH
    return f"<answer>\n{body}\n</answer>"


@dataclass
class ModelOutput:
    text: str                      # what the model wrote
    expanded: str                  # with scene boxes in the answer block (H1 format)
    parsed: ParsedTrace
    answer_ids: list[int] | None   # None: no readable answer
    invalid_ids: list[int]         # IDs the model named that the scene lacks
    answer_value: object = None    # count / query value
    structure: OutputStructure | None = None


def _answer_ids_line(body: str) -> list[int] | None:
    lines = [ln.strip() for ln in body.split("\n") if ln.strip()]
    if len(lines) != 1:
        return None
    m = _IDS_LINE.match(lines[0])
    if not m:
        return None
    ids = []
    for part in m.group(1).split(","):
        part = part.strip()
        if not part.isdigit() or len(part) > 9:
            return None
        ids.append(int(part))
    return ids


def expand_answer(text: str, scene: Scene) -> tuple[str, list[int] | None, list[int]]:
    """Replace an ``IDs: ...`` answer line by scene box lines.

    Returns (expanded text, ids named (None if no ID line), ids not in the scene).
    Unknown IDs are left out of the box lines: the verifier then reports the answer
    as inconsistent with the last step instead of quoting an invented box."""
    m = _ANSWER_RE.search(text)
    if m is None:
        return text, None, []
    ids = _answer_ids_line(m.group(1))
    if ids is None:
        return text, None, []
    ids = list(dict.fromkeys(ids))
    known = [i for i in ids if scene.has(i)]
    invalid = [i for i in ids if not scene.has(i)]
    body = "\n".join(box_line(scene.get(i)) for i in known) if known else NO_MATCH
    return text[:m.start()] + f"<answer>\n{body}\n</answer>" + text[m.end():], ids, invalid


def read_output(text: str, scene: Scene, n_tokens: int = 0, finished: bool = True) -> ModelOutput:
    """Everything the reasoner and the rewards need from one generation. Never raises."""
    expanded, ids, invalid = expand_answer(text, scene)
    parsed = parse_trace(expanded)
    if ids is None:
        if parsed.answer_none:
            ids = []
        elif parsed.answer_ids:
            ids = list(parsed.answer_ids)
    think_pos, ans_pos = text.find("<think>"), text.find("<answer>")
    plan_pos, exec_pos = text.find("Plan:"), text.find("Execution:")
    in_order = (0 <= think_pos < plan_pos < exec_pos < ans_pos and text.find("</think>") < ans_pos)
    structure = OutputStructure(
        has_thinking=parsed.has_think, has_plan=parsed.has_plan and bool(parsed.steps),
        has_execution=parsed.has_execution, has_answer=parsed.has_answer, in_order=in_order,
        answer_ids=ids if ids is not None else ([] if parsed.answer_value is not None else None),
        answer_says_none=parsed.answer_none, n_tokens=n_tokens, finished=finished)
    if parsed.answer_value is not None and ids is None:
        # a QA answer: consistent by itself (no IDs expected)
        structure.answer_ids, structure.answer_says_none = [], True
    return ModelOutput(text, expanded, parsed, ids, invalid, parsed.answer_value, structure)
