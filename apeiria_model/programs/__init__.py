"""Neuro-symbolic programs: DSL grammar, relations, concept matching, executor, traces."""

from apeiria_model.programs.errors import ProgramExecutionError, ProgramSyntaxError
from apeiria_model.programs.grammar import parse_program

__all__ = ["parse_program", "ProgramSyntaxError", "ProgramExecutionError"]
