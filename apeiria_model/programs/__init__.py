"""Neuro-symbolic programs: DSL grammar, relations, concept matching, executor, traces.

    from apeiria_model.programs import parse_program, Executor
    result = Executor().execute(parse_program("relate(filter(scene(), mug), filter(scene(), desk), on)"), scene)
    result.value  # [1, 2]
"""

from apeiria_model.programs.concepts import ConceptMatcher, LexicalConceptMatcher, split_concept
from apeiria_model.programs.errors import ProgramExecutionError, ProgramSyntaxError
from apeiria_model.programs.executor import Evidence, ExecStep, ExecutionResult, Executor
from apeiria_model.programs.grammar import parse_program
from apeiria_model.programs.trace import (ParsedTrace, TraceVerification, check_trace, parse_trace,
                                          parsed_step_reports, render_trace, step_reports, verify_trace)
from apeiria_model.programs.relations import (RELATION_ALIASES, SUPERLATIVES, canonical_relation,
                                              canonical_superlative, parse_superlative_phrase)

__all__ = [
    "parse_program", "ProgramSyntaxError", "ProgramExecutionError", "Executor", "ExecutionResult", "ExecStep",
    "Evidence", "ConceptMatcher", "LexicalConceptMatcher", "split_concept", "RELATION_ALIASES", "SUPERLATIVES",
    "canonical_relation", "canonical_superlative", "parse_superlative_phrase", "render_trace", "parse_trace",
    "verify_trace", "check_trace", "step_reports", "parsed_step_reports", "ParsedTrace", "TraceVerification",
]
