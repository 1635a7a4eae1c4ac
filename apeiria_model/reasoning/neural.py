"""The neural reasoner: the trained APEIRIA model writes the trace, the scene checks it.

``NeuralReasoner().ground(instruction, scene)`` encodes the scene's objects as object
tokens, decodes the compact trace greedily, rewrites the answer IDs into scene boxes
(``model/trace_format.py``), parses the trace with ``programs.trace.parse_trace`` and
re-executes every step it states with ``verify_trace``: ``verified`` and each
``StepReport.verified`` say whether the model's own claims hold in this scene, and
``verified`` also that the plan answers the question asked (``reasoning.answer_check``,
the same rule and the same concept matcher as the symbolic reasoner).

Targets are the objects the answer names (boxes from the scene). Never raises: a bad
input or an unreadable generation comes back as "error" / "no_match" with a message.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Callable

import apeiria_model
from apeiria_model.model.trace_format import ModelOutput, read_output
from apeiria_model.programs import parse_program
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.trace import ParsedTrace, verify_trace
from apeiria_model.reasoning import answer_check
from apeiria_model.reasoning.base import ground_safely, reject_bad_request
from apeiria_model.reasoning.result import (STATUS_ERROR, STATUS_NO_MATCH, STATUS_OK, GroundingResult, StepReport,
                                            Target)
from apeiria_model.sanitize import clean_text
from apeiria_model.scene.io import validate_scene
from apeiria_model.scene.model import Scene

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = Path(apeiria_model.__file__).resolve().parent / "assets" / "model"


def plan_program(parsed: ParsedTrace) -> str | None:
    """The DSL program a compact plan spells out, by substituting step references
    (``relate(#1, #2, left)`` -> ``relate(filter(scene(), chair), ..., left)``).
    None when the plan is missing or does not form one valid program."""
    if not parsed.steps or any(s.op is None for s in parsed.steps):
        return None
    texts: dict[int, str] = {}
    for s in parsed.steps:
        body = s.plan_text.strip()
        body = re.sub(r"(?<=[(,\s])scene(?=\s*[,)])", "scene()", body)

        def ref(m: re.Match) -> str:
            return texts.get(int(m.group(1)), m.group(0))

        texts[s.index] = re.sub(r"#(\d+)", ref, body)
    program = texts[parsed.steps[-1].index]
    try:
        return str(parse_program(program))
    except Exception:  # grammar errors: the plan is not one program
        return None


def _inputs_of(parsed: ParsedTrace, step, scene: Scene) -> list[list[int]]:
    out = []
    by = {s.index: s for s in parsed.steps}
    for ref in step.input_refs:
        if ref is None:
            out.append(sorted(scene.ids))
        else:
            src = by.get(ref)
            out.append(list(src.output) if src is not None and isinstance(src.output, list) else [])
    return out


def _exec_text(step) -> str:
    if not step.output_stated:
        return f"Step {step.index}: (no execution line)"
    v = step.output
    if isinstance(v, list):
        return f"Step {step.index}: {', '.join(map(str, v)) if v else 'none'}"
    return f"Step {step.index}: {v}"


class TraceLineStream:
    """Turns token ids, as the model chooses them, into completed trace lines.

    A line is reported once its newline has been generated, so a watcher (the ROS
    action's feedback) sees the plan and each execution step while decoding goes on.
    """

    def __init__(self, tokenizer, on_line: Callable[[str], None]):
        self.tokenizer = tokenizer
        self.on_line = on_line
        self.ids: list[int] = []
        self.lines_done = 0

    def __call__(self, token_id: int) -> None:
        self.ids.append(token_id)
        if "\n" in self.tokenizer.decode([token_id]):
            self._emit(self.tokenizer.decode(self.ids).split("\n")[:-1])

    def flush(self) -> None:
        """Report the last line when decoding stopped without a newline after it."""
        self._emit(self.tokenizer.decode(self.ids).split("\n"))

    def _emit(self, lines: list[str]) -> None:
        new, self.lines_done = lines[self.lines_done:], max(self.lines_done, len(lines))
        for line in new:
            if line.strip():
                self.on_line(line.strip())


class NeuralReasoner:
    """Reasoner protocol over an :class:`ApeiriaForGrounding` checkpoint."""

    name = "neural"
    streams_trace = True  # ground(..., on_line=f) reports trace lines while decoding

    def __init__(self, checkpoint: str | Path | None = None, model=None, verify: bool = True,
                 max_new_tokens: int | None = None, matcher=None, constrained: str | None = None):
        if model is None:
            from apeiria_model.model.modeling import ApeiriaForGrounding
            model = ApeiriaForGrounding.from_pretrained(checkpoint or DEFAULT_CHECKPOINT)
        self.model = model.eval()
        self.verify = verify
        self.max_new_tokens = max_new_tokens
        # "off" | "format" | "sets" (model/trace_constraint.py); None: the checkpoint config decides
        if constrained not in (None, "off", "format", "sets"):
            raise ValueError(f"constrained must be None, 'off', 'format' or 'sets', got {constrained!r}")
        self.constrained = constrained
        if matcher is None:  # the symbolic reasoner's matcher: a step verifies the same on every path
            from apeiria_model.language.open_vocab import default_matcher
            matcher = default_matcher()
        self.executor = Executor(matcher)
        self.last_generation_tokens = 0

    def warm_up(self) -> None:
        """Load the sentence encoder and run one tiny decode so the first query is not slow."""
        from apeiria_model.scene.model import SceneObject
        s = Scene("warmup", (SceneObject(0, "chair", (0.0, 0.0, 0.45), (0.5, 0.5, 0.9)),))
        self.model.generate(self.model.processor.encode_prompt("the chair", s), max_new_tokens=2)

    def ground(self, instruction: str, scene: Scene, on_line: Callable[[str], None] | None = None) -> GroundingResult:
        """``on_line`` (optional) receives each trace line as soon as the model has written it."""
        return ground_safely(self.name, lambda i, s: self._ground(i, s, on_line), instruction, scene, log)

    # --- steps -------------------------------------------------------------------------
    def generate(self, instruction: str, scene: Scene, on_line: Callable[[str], None] | None = None) -> ModelOutput:
        """Decode and read one trace (raises ProcessorError for unusable input)."""
        prompt = self.model.processor.encode_prompt(instruction, scene)
        stream = TraceLineStream(self.model.tokenizer, on_line) if on_line is not None else None
        g = self.model.generate(prompt, max_new_tokens=self.max_new_tokens, on_token=stream,
                                constraints=self._constraints(scene))
        if stream is not None:
            stream.flush()
        self.last_generation_tokens = len(g.token_ids[0])
        return read_output(g.texts[0], scene, len(g.token_ids[0]), g.finished[0])

    def _constraints(self, scene: Scene) -> list | None:
        from apeiria_model.model.trace_constraint import TraceConstraint

        cfg = self.model.config
        mode = cfg.constrained_decoding if self.constrained is None else self.constrained
        if mode == "off" or cfg.trace_style != "compact":
            return None
        return [TraceConstraint(scene.ids, thinking=cfg.thinking, level=mode)]

    def _ground(self, instruction: Any, scene: Any, on_line: Callable[[str], None] | None = None) -> GroundingResult:
        from apeiria_model.model.processor import ProcessorError

        def fail(status: str, message: str, text: str = "") -> GroundingResult:
            return GroundingResult(text, status, self.name, message=message)

        bad = reject_bad_request(self.name, instruction, scene)
        if bad is not None:
            return bad
        # what reaches a trace or a terminal: no control characters (both checked above; cached)
        instruction, scene = clean_text(instruction), validate_scene(scene)
        try:
            out = self.generate(instruction, scene, on_line)
        except (ProcessorError, ValueError) as e:
            return fail(STATUS_ERROR, str(e), instruction)
        return self.result_from_output(instruction, scene, out)

    def result_from_output(self, instruction: str, scene: Scene, out: ModelOutput) -> GroundingResult:
        parsed = out.parsed
        notes: list[str] = []
        if not out.structure.finished:
            notes.append("generation hit the token limit")
        if out.invalid_ids:
            notes.append("the model named object(s) not in the scene: " + ", ".join(map(str, out.invalid_ids)))
        check = None
        if self.verify and self.model.config.thinking:
            check = verify_trace(parsed, scene, executor=self.executor)
        checks = {c.index: c for c in check.steps} if check is not None else {}
        steps = []
        for s in parsed.steps:
            out_val = list(s.output) if isinstance(s.output, list) else s.output
            c = checks.get(s.index)
            steps.append(StepReport(index=s.index, op=s.op or "unknown", plan=s.plan_text, execution=_exec_text(s),
                                    inputs=_inputs_of(parsed, s, scene) if s.op else [], output=out_val,
                                    verified=(bool(c.ok) if c is not None else (False if check is not None else None))))
        program_text = plan_program(parsed)
        verified, failed_check = None, ""
        if check is not None:
            program = parse_program(program_text) if program_text is not None else None
            verified, failed_check, why = answer_check.verify(instruction, program, scene, self.executor,
                                                              bool(check.all_ok))
            if failed_check == answer_check.CHECK_STEPS and check.reasons:
                notes.append("trace verification failed: " + "; ".join(check.reasons[:3]))
            elif failed_check:
                notes.append(f"{answer_check.describe(failed_check)}: {why}")
        res = GroundingResult(instruction, STATUS_OK, self.name, program=program_text, trace=out.expanded,
                              steps=steps, verified=verified, failed_check=failed_check)
        if out.answer_value is not None and out.answer_ids is None:
            res.answer = out.answer_value
            last = parsed.steps[-1] if parsed.steps else None
            src = _inputs_of(parsed, last, scene)[0] if last is not None and last.input_refs else []
            res.targets = [Target.from_object(scene.get(i)) for i in src if scene.has(i)]
        elif out.answer_ids is None:
            res.status = STATUS_ERROR
            notes.insert(0, "the model's output has no readable answer"
                         + (f" ({parsed.errors[0]})" if parsed.errors else ""))
        else:
            res.targets = [Target.from_object(scene.get(i)) for i in out.answer_ids if scene.has(i)]
            if not res.targets:
                res.status = STATUS_NO_MATCH
                notes.insert(0, "the model found no matching object")
        res.message = "; ".join(notes)
        return res
