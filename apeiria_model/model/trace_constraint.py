"""Constrained decoding: the model may only write traces that are well formed for its scene.

The compact trace (``model/trace_format.py``) has a fixed shape: a numbered plan of DSL
calls over step references, one ``Step k:`` line per plan step, then an answer. A small
model sometimes breaks that shape (a plan step that refers to a later step, an ID list
that repeats ``9, 9, 9`` until the token budget runs out, an ID the scene lacks).
:class:`TraceConstraint` tells the decoder, for each candidate token, whether the text
would still be the prefix of a well-formed trace, the way grammar-constrained decoding
works in general. It never runs the program. Two levels:

``format`` (the default)
    plan lines follow the DSL's call grammar with the scene's relation, superlative and
    query vocabularies and refer only to earlier set-valued steps; each ``Step k:`` line
    states what its op returns (IDs for set ops, written ascending, unique and from the
    scene; a number for a count, no larger than its input; a value for a query); the
    answer is an ID line of scene objects, "No object matches ...", a number or a value;
    the end-of-sequence token is allowed only after ``</answer>``.
``sets``
    also the set types: a step's IDs lie inside what its op can return (a ``filter``
    keeps a subset of its input, ``relate*`` a subset of its first input, ``superlative``
    / ``relate_anchor`` at most one of them, ``union`` / ``intersection`` / ``exclude``
    the matching set combination) and the answer restates the last step.

``sets`` makes every trace self-consistent, and measured *worse* on the shipped model
(docs/results.md): the small model's intermediate ID lists are less reliable than its
answer, so forcing the answer to follow them propagates their errors. *Which* IDs a
filter keeps, which relation holds: that stays the model's decision at both levels, so the
verifier (``verify_trace``) still has something to check. Partial-match regular
expressions (the ``regex`` package) judge line prefixes; ID lists are checked by hand
because "ascending subset of a set" is not a regular language worth compiling.
"""

from __future__ import annotations

import regex

from apeiria_model.programs import relations as rel
from apeiria_model.programs.ast import OP_INPUTS
from apeiria_model.programs.executor import QUERY_ATTRIBUTES
from apeiria_model.programs.trace_text import NO_ANSWER, NO_MATCH
from apeiria_model.model.trace_format import IDS_PREFIX

MAX_PLAN_STEPS = 24   # generated programs reach depth ~10; more is a runaway plan
MAX_COUNT_DIGITS = 4

SET_OPS = ("filter", "relate", "relate_multi", "relate_anchor", "union", "intersection", "exclude", "superlative")
VALUE_OPS = ("count", "query")
AT_MOST_ONE = ("superlative", "relate_anchor")
LEVEL_FORMAT, LEVEL_SETS = "format", "sets"
LEVELS = (LEVEL_FORMAT, LEVEL_SETS)

_CONCEPT = r'(?:[A-Za-z_][A-Za-z0-9_\-]*|"[^"\\\n]*")'
_NUM2 = r"-?\d{1,3}\.\d{2}"
# what a query step may state: "no answer", a word (colour, material, label), a size or a position
_QUERY_VALUE = regex.compile(rf"no answer|[A-Za-z][A-Za-z0-9 '_\-]{{0,39}}|{_NUM2} x {_NUM2} x {_NUM2}"
                             rf"|\({_NUM2}, {_NUM2}, {_NUM2}\)")
_PLAN_LINE = regex.compile(r"^(\d+)\. ([a-z_]+)\((.*)\)$")
_REF = regex.compile(r"#(\d+)|scene")


def _alt(words) -> str:
    return "(?:" + "|".join(regex.escape(w) for w in sorted(set(words), key=len, reverse=True)) + ")"


class _PlanGrammar:
    """Regexes for plan line N: references may name only earlier set-valued steps."""

    def __init__(self):
        self.binary = _alt(rel.BINARY_RELATIONS)
        self.multi = _alt(rel.MULTI_RELATIONS)
        self.anchor = _alt(rel.ANCHOR_RELATIONS)
        self.kinds = _alt(rel.SUPERLATIVE_KINDS)
        self.attrs = _alt(QUERY_ATTRIBUTES)
        self._cache: dict[tuple[int, tuple[int, ...]], regex.Pattern] = {}

    def line(self, n: int, set_steps: tuple[int, ...]) -> regex.Pattern:
        key = (n, set_steps)
        pat = self._cache.get(key)
        if pat is None:
            refs = ["scene"] + [f"#{i}" for i in set_steps]
            r = _alt(refs)
            calls = [
                rf"filter\({r}, {_CONCEPT}\)",
                rf"relate\({r}, {r}, {self.binary}(?:, (?:viewer|anchor))?\)",
                rf"relate_multi\({r}, {r}, {r}(?:, {self.multi})?\)",
                rf"relate_anchor\({r}, {r}, {self.anchor}\)",
                rf"(?:union|intersection|exclude)\({r}, {r}\)",
                rf"superlative\({r}, {self.kinds}(?:, [1-9][0-9]?)?\)",
                rf"count\({r}\)",
                rf"query\({r}, {self.attrs}\)",
            ]
            pat = regex.compile(rf"{n}\. (?:" + "|".join(calls) + ")")
            self._cache[key] = pat
        return pat


_GRAMMAR: _PlanGrammar | None = None


def _grammar() -> _PlanGrammar:
    global _GRAMMAR
    if _GRAMMAR is None:
        _GRAMMAR = _PlanGrammar()
    return _GRAMMAR


class _Step:
    __slots__ = ("op", "refs", "output")

    def __init__(self, op: str, refs: list[int | None]):
        self.op, self.refs, self.output = op, refs, None


class TraceConstraint:
    """Accept-or-reject oracle for one generation over one scene.

    ``allows(piece)`` asks whether the text written so far plus ``piece`` is still the
    prefix of a well-formed trace; ``allows_end()`` whether the trace may stop here;
    ``accept(piece)`` appends a piece the decoder chose. Once a piece is forced in that
    the constraint rejects (the decoder found no allowed token), the constraint steps
    aside (``broken``) instead of blocking every later token.
    """

    def __init__(self, scene_ids, thinking: bool = True, level: str = LEVEL_FORMAT,
                 max_plan_steps: int = MAX_PLAN_STEPS):
        if level not in LEVELS:
            raise ValueError(f"constraint level must be one of {LEVELS}, got {level!r}")
        self.level = level
        self.scene_ids = frozenset(int(i) for i in scene_ids)
        self.thinking = thinking
        self.max_plan_steps = max_plan_steps
        self.done_text = ""           # complete lines, each with its newline
        self.line = ""                # the line being written
        self.phase = "think" if thinking else "answer_open"
        self.steps: list[_Step] = []
        self.n_exec = 0
        self.broken = False
        self.finished = False          # "</answer>" written: only the end may follow
        self._memo = None              # (question, answer) of the last allows()

    # --- queries -------------------------------------------------------------------------
    def allows(self, piece: str) -> bool:
        if self.broken:
            return True
        if not piece:
            return False  # special tokens other than the end, and empty pieces, write nothing
        if self.finished:
            return False
        key = (piece, self.line, len(self.steps), self.n_exec, self.phase)
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1]  # the decoder asks again when it accepts the piece it chose
        text = self.line + piece
        parts = text.split("\n")
        state = self._snapshot()
        try:
            ok = all(self._complete_line(full) for full in parts[:-1]) and self._partial_ok(parts[-1])
        finally:
            self._restore(state)
        self._memo = (key, ok)
        return ok

    def allows_end(self) -> bool:
        return self.broken or self.finished

    def accept(self, piece: str) -> None:
        if self.broken:
            return
        if not self.allows(piece):
            self.broken = True
            return
        parts = (self.line + piece).split("\n")
        for full in parts[:-1]:
            self._complete_line(full)
            self.done_text += full + "\n"
        self.line = parts[-1]
        if self.phase == "after_answer" and self.line == "</answer>":
            self.finished = True

    # --- state save/restore for trial checks ------------------------------------------
    def _snapshot(self):
        return (self.phase, len(self.steps), self.n_exec, [s.output for s in self.steps])

    def _restore(self, state) -> None:
        phase, n_steps, n_exec, outputs = state
        self.phase, self.n_exec = phase, n_exec
        del self.steps[n_steps:]
        for s, o in zip(self.steps, outputs):
            s.output = o

    # --- line rules ------------------------------------------------------------------------
    def _set_steps(self) -> tuple[int, ...]:
        return tuple(i + 1 for i, s in enumerate(self.steps) if s.op in SET_OPS)

    def _complete_line(self, line: str) -> bool:
        """Check a finished line and advance the phase (callers restore it for trials)."""
        p = self.phase
        if p == "think":
            if line != "<think>":
                return False
            self.phase = "plan_header"
        elif p == "plan_header":
            if line != "Plan:":
                return False
            self.phase = "plan"
        elif p == "plan":
            if line == "Execution:":
                if not self.steps:
                    return False
                self.phase = "exec"
                return True
            step = self._plan_step(line)
            if step is None:
                return False
            self.steps.append(step)
        elif p == "exec":
            if line == "</think>":
                if self.n_exec != len(self.steps):
                    return False
                self.phase = "answer_open"
                return True
            out = self._exec_output(line, partial=False)
            if out is None:
                return False
            self.steps[self.n_exec].output = out[0]
            self.n_exec += 1
        elif p == "answer_open":
            if line != "<answer>":
                return False
            self.phase = "answer_body"
        elif p == "answer_body":
            if not self._answer_ok(line, partial=False):
                return False
            self.phase = "after_answer"
        else:  # after_answer: only "</answer>" and the end
            return False
        return True

    def _partial_ok(self, line: str) -> bool:
        p = self.phase
        fixed = {"think": ("<think>",), "plan_header": ("Plan:",), "answer_open": ("<answer>",),
                 "after_answer": ("</answer>",)}
        if p in fixed:
            return any(w.startswith(line) for w in fixed[p])
        if p == "plan":
            if self.steps and "Execution:".startswith(line):
                return True
            if len(self.steps) >= self.max_plan_steps:
                return False
            pat = _grammar().line(len(self.steps) + 1, self._set_steps())
            return pat.fullmatch(line, partial=True) is not None
        if p == "exec":
            if self.n_exec == len(self.steps):
                return "</think>".startswith(line)
            return self._exec_output(line, partial=True) is not None
        if p == "answer_body":
            return self._answer_ok(line, partial=True)
        return False

    def _plan_step(self, line: str) -> _Step | None:
        n = len(self.steps) + 1
        if n > self.max_plan_steps:
            return None
        if _grammar().line(n, self._set_steps()).fullmatch(line) is None:
            return None
        m = _PLAN_LINE.match(line)
        op = m.group(2)
        refs = [None if r.group(0) == "scene" else int(r.group(1))
                for r in _REF.finditer(_strip_quoted(m.group(3)))]
        arity = OP_INPUTS[op]
        return _Step(op, refs[:arity])

    def _input(self, ref: int | None) -> frozenset[int]:
        if ref is None:
            return self.scene_ids
        out = self.steps[ref - 1].output
        return frozenset(out) if isinstance(out, list) else frozenset()

    def _allowed_ids(self, step: _Step) -> tuple[frozenset[int], int]:
        """(IDs the step may list, the most it may list)."""
        if self.level == LEVEL_FORMAT:
            return self.scene_ids, len(self.scene_ids)
        ins = [self._input(r) for r in step.refs]
        if step.op == "union":
            allowed = ins[0] | ins[1]
        elif step.op == "intersection":
            allowed = ins[0] & ins[1]
        elif step.op == "exclude":
            allowed = ins[0] - ins[1]
        else:
            allowed = ins[0]
        return allowed, (1 if step.op in AT_MOST_ONE else len(allowed))

    def _exec_output(self, line: str, partial: bool):
        """(output,) when ``line`` is (a prefix of, with ``partial``) step n_exec+1's line."""
        k = self.n_exec + 1
        head = f"Step {k}: "
        if len(line) <= len(head):
            return (None,) if partial and head.startswith(line) else None
        if not line.startswith(head):
            return None
        body = line[len(head):]
        step = self.steps[k - 1]
        if step.op == "count":
            allowed_max = len(self._input(step.refs[0]) if self.level == LEVEL_SETS else self.scene_ids)
            if not body.isdigit() or len(body) > MAX_COUNT_DIGITS or (len(body) > 1 and body[0] == "0"):
                return None
            if int(body) > allowed_max:  # digits only grow a number: a prefix over the max is dead
                return None
            return (int(body),)
        if step.op == "query":
            return (body,) if _QUERY_VALUE.fullmatch(body, partial=partial) else None
        allowed, most = self._allowed_ids(step)
        if "none".startswith(body):
            if body == "none" or partial:
                return ([],)
        ids = _read_ids(body, allowed, most, partial)
        return None if ids is None else (ids,)

    def _last(self) -> _Step | None:
        return self.steps[-1] if self.steps else None

    def _answer_ok(self, line: str, partial: bool) -> bool:
        def says(word: str) -> bool:
            return word.startswith(line) if partial else line == word

        if not self.thinking or self.level == LEVEL_FORMAT:
            # any well-formed answer: scene IDs, "no match", a count or a value
            if partial and (NO_MATCH.startswith(line) or NO_ANSWER.startswith(line)
                            or f"{IDS_PREFIX} ".startswith(line)):
                return True
            if line in (NO_MATCH, NO_ANSWER):
                return True
            if line.startswith(f"{IDS_PREFIX} "):
                ids = self.scene_ids
                return _read_ids(line[len(IDS_PREFIX) + 1:], ids, len(ids), partial) is not None
            if line.isdigit():
                return len(line) <= MAX_COUNT_DIGITS
            if line.startswith(("no answer", "ID")):  # a misspelt ID line or exec-line wording is no value
                return False
            return _QUERY_VALUE.fullmatch(line, partial=partial) is not None
        last = self._last()
        if last is None:
            return False
        if last.op == "count":
            return says(str(last.output))
        if last.op == "query":
            return says(str(last.output)) or says(NO_ANSWER)
        ids = last.output if isinstance(last.output, list) else []
        if not ids:
            return says(NO_MATCH)
        return says(f"{IDS_PREFIX} " + ", ".join(map(str, ids)))


def _strip_quoted(args: str) -> str:
    """Drop quoted concepts so a '#' or 'scene' inside one is not read as a reference."""
    return regex.sub(r'"[^"\\\n]*"', '""', args)


def _read_ids(body: str, allowed: frozenset[int], most: int, partial: bool) -> list[int] | None:
    """Ascending, unique IDs from ``allowed`` written as '3, 7, 12' (at most ``most``).

    With ``partial`` the text may stop anywhere: after a separator, or inside a number
    that some larger allowed ID starts with."""
    ids: list[int] = []
    pending_sep = partial and body.endswith(",")  # "3," before its space
    if pending_sep and not body[-2:-1].isdigit():
        return None
    parts = (body[:-1] if pending_sep else body).split(", ")
    for j, part in enumerate(parts):
        last = j == len(parts) - 1
        if last and partial and part == "" and ids:
            # "3, " waits for the next ID: there must be room and a larger allowed ID
            return ids if len(ids) < most and any(a > ids[-1] for a in allowed) else None
        if not part.isdigit() or (len(part) > 1 and part[0] == "0"):
            return None
        v = int(part)
        prev = ids[-1] if ids else -1
        if last and partial and not pending_sep:
            # an ID still being written: some allowed ID above prev must start with it
            if len(ids) >= most or not any(a > prev and str(a).startswith(part) for a in allowed):
                return None
            return ids + [v]
        if v <= prev or v not in allowed:
            return None
        ids.append(v)
        if len(ids) > most:
            return None
    if pending_sep and (len(ids) >= most or not any(a > ids[-1] for a in allowed)):
        return None
    return ids if ids else None
