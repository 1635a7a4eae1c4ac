"""Errors raised by the program language: one for text that is not a program, one for
programs that parse but cannot mean anything (unknown relation, wrong arity...)."""

from __future__ import annotations


class ProgramSyntaxError(ValueError):
    """Program text that does not follow the DSL grammar.

    ``column`` (1-based) and ``line`` point at the offending character when known;
    the message names what was expected there.
    """

    def __init__(self, message: str, column: int | None = None, line: int | None = None):
        self.column = column
        self.line = line
        where = ""
        if column is not None:
            where = f" (line {line}, column {column})" if line not in (None, 1) else f" (column {column})"
        super().__init__(message + where)
        self.reason = message


class ProgramExecutionError(ValueError):
    """A well-formed program that cannot be executed: unknown relation or superlative,
    a relation used with the wrong operation, an unknown query attribute, a bad rank."""
