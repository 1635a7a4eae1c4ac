"""Parse DSL text into program AST nodes: ``parse_program(str(node)) == node``.

The grammar lives in ``grammar.lark`` (shipped as package data) and is compiled once
into an LALR(1) parser: linear time, no backtracking, so hostile input costs at most
``MAX_PROGRAM_CHARS`` work. Every failure is a :class:`ProgramSyntaxError` naming the
column and what was expected there; nothing else escapes ``parse_program``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import lark

from apeiria_model.programs import ast
from apeiria_model.programs.errors import ProgramSyntaxError

MAX_PROGRAM_CHARS = 10_000
MAX_PROGRAM_DEPTH = 64  # nesting of calls; real instructions need < 15

_ESCAPE = re.compile(r"\\(.)", re.S)

# Human names for the grammar's terminals, for error messages.
_TERMINAL_NAMES = {
    "LPAR": "'('", "RPAR": "')'", "COMMA": "','", "WORD": "a name", "STRING": "a quoted string",
    "RANK": "a rank (positive integer)", "$END": "end of program",
}


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    text = resources.files("apeiria_model.programs").joinpath("grammar.lark").read_text(encoding="utf-8")
    return lark.Lark(text, parser="lalr", lexer="contextual", propagate_positions=False,
                     maybe_placeholders=False)


def _unquote(token: str) -> str:
    return _ESCAPE.sub(r"\1", token[1:-1])


class _ToAst(lark.Transformer):
    """Tree -> ast nodes. Semantic checks that the grammar cannot express live here."""

    def scene(self, _):
        return ast.Scene()

    def words(self, items):
        return " ".join(str(t) for t in items)

    def concept(self, items):
        tok = items[0]
        text = _unquote(str(tok)) if tok.type == "STRING" else str(tok)
        if not text.strip():
            raise ProgramSyntaxError("empty concept", column=getattr(tok, "column", None),
                                     line=getattr(tok, "line", None))
        return text

    def filter(self, items):
        return ast.Filter(items[0], items[1])

    def relate(self, items):
        frame = items[3] if len(items) > 3 else ast.FRAME_VIEWER
        if frame not in ast.FRAMES:
            raise ProgramSyntaxError(f"unknown frame {frame!r}: expected one of {', '.join(ast.FRAMES)}")
        return ast.Relate(items[0], items[1], items[2], frame)

    def relate_multi(self, items):
        rel = items[3] if len(items) > 3 else "between"
        return ast.RelateMulti(items[0], items[1], items[2], rel)

    def relate_anchor(self, items):
        frame = items[3] if len(items) > 3 else ast.FRAME_VIEWER
        if frame not in ast.FRAMES:
            raise ProgramSyntaxError(f"unknown frame {frame!r}: expected one of {', '.join(ast.FRAMES)}")
        return ast.RelateAnchor(items[0], items[1], items[2], frame)

    def union(self, items):
        return ast.Union(items[0], items[1])

    def intersection(self, items):
        return ast.Intersection(items[0], items[1])

    def exclude(self, items):
        return ast.Exclude(items[0], items[1])

    def superlative(self, items):
        rank = 1
        if len(items) > 2:
            tok = items[2]
            rank = int(str(tok))
            if rank < 1 or rank > 10_000:
                raise ProgramSyntaxError(f"superlative rank must be between 1 and 10000, got {rank}",
                                         column=tok.column, line=tok.line)
        return ast.Superlative(items[0], items[1], rank)

    def count(self, items):
        return ast.Count(items[0])

    def query(self, items):
        return ast.Query(items[0], items[1])


_TRANSFORMER = _ToAst()


def _check_nesting(text: str) -> None:
    """Refuse absurd nesting before the (recursive) tree transform sees it."""
    level = 0
    in_string = False
    escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "(":
            level += 1
            if level > MAX_PROGRAM_DEPTH:
                line = text.count("\n", 0, i) + 1
                col = i - (text.rfind("\n", 0, i) + 1) + 1
                raise ProgramSyntaxError(f"program nested deeper than {MAX_PROGRAM_DEPTH} levels",
                                         column=col, line=line)
        elif ch == ")":
            level -= 1


def _expected(names) -> str:
    pretty = sorted({_TERMINAL_NAMES.get(n, repr(n.lower()) if n.isupper() else n) for n in names})
    return ", ".join(pretty[:8]) + (" ..." if len(pretty) > 8 else "")


def parse_program(text: str) -> ast.Node:
    """DSL text -> AST node. Raises only :class:`ProgramSyntaxError`."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProgramSyntaxError(f"program is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    if not isinstance(text, str):
        raise ProgramSyntaxError(f"program must be a string, got {type(text).__name__}")
    if len(text) > MAX_PROGRAM_CHARS:
        raise ProgramSyntaxError(f"program is {len(text)} characters long, more than the limit {MAX_PROGRAM_CHARS}")
    if not text.strip():
        raise ProgramSyntaxError("empty program")
    _check_nesting(text)
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedCharacters as exc:
        ch = text[exc.pos_in_stream] if 0 <= exc.pos_in_stream < len(text) else "?"
        raise ProgramSyntaxError(f"unexpected character {ch!r}", column=exc.column, line=exc.line) from None
    except lark.exceptions.UnexpectedEOF as exc:
        raise ProgramSyntaxError(f"program ends early: expected {_expected(exc.expected)}",
                                 column=len(text.rsplit(chr(10), 1)[-1]) + 1,
                                 line=text.count("\n") + 1) from None
    except lark.exceptions.UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            raise ProgramSyntaxError(f"program ends early: expected {_expected(exc.expected)}",
                                     column=len(text.rsplit(chr(10), 1)[-1]) + 1,
                                     line=text.count("\n") + 1) from None
        got = repr(str(tok))
        raise ProgramSyntaxError(f"unexpected {got}: expected {_expected(exc.expected)}",
                                 column=getattr(tok, "column", None), line=getattr(tok, "line", None)) from None
    except lark.exceptions.LarkError as exc:  # any other parser failure, still a syntax error
        raise ProgramSyntaxError(f"invalid program: {exc}") from None
    try:
        return _TRANSFORMER.transform(tree)
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, ProgramSyntaxError):
            raise exc.orig_exc from None
        raise ProgramSyntaxError(f"invalid program: {exc.orig_exc}") from None
