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

from apeiria_model.programs.trace_parse import AnswerBox, ParsedStep, ParsedTrace, parse_trace
from apeiria_model.programs.trace_render import (compact_plan_line, execution_line, plan_line, render_trace,
                                                 step_reports)
from apeiria_model.programs.trace_text import (BOX_TOLERANCE, MAX_TRACE_CHARS, NO_ANSWER, NO_MATCH, STYLES,
                                               box_line)
from apeiria_model.programs.trace_verify import (StepCheck, TraceVerification, check_trace, parsed_step_reports,
                                                 verify_trace)

__all__ = [
    "render_trace", "step_reports", "plan_line", "compact_plan_line", "execution_line", "parse_trace",
    "ParsedTrace", "ParsedStep", "AnswerBox", "verify_trace", "check_trace", "parsed_step_reports",
    "TraceVerification", "StepCheck", "box_line", "NO_MATCH", "NO_ANSWER", "STYLES", "BOX_TOLERANCE",
    "MAX_TRACE_CHARS",
]
