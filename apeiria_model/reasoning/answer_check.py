"""Does a program answer the question that was asked?

A trace can re-execute perfectly and still answer another question: "how many pictures
are there" answered with ``query(superlative(filter(scene(), picture), highest), color)``
re-executes to "black", step by step. ``verified`` means both, on every reasoner path:

1. every step re-executes to what the trace states (``programs.trace.verify_trace``), and
2. the program answers the question asked (this module):
   - **answer kind**: a count question gets a count, "what colour/size/shape" gets that
     attribute, a referring expression gets objects;
   - **target concept**: the objects the program starts its answer from include objects
     the instruction's head noun names, by the same concept matcher the executor uses
     ("fridge" agrees with a refrigerator the map holds; "picture" does not agree with a
     chair).

The answer kind is read from the question words themselves ("how many", "the hue of",
"what colour"), so a misparse cannot vouch for itself; where they name no kind, from the
symbolic parse, else "objects"; the head noun is the parser's target concept,
or, where that matches no object (a misparse) or there is no parse, the scene labels the
referring-expression reader takes the head for. A check
that cannot be made (no head noun named, say) passes and says so; it never fails a
trace on a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from apeiria_model.language import referring
from apeiria_model.language.instruction_parser import ParseOutcome, parse_instruction
from apeiria_model.programs import ast
from apeiria_model.programs.concepts import split_concept
from apeiria_model.programs.errors import ProgramExecutionError
from apeiria_model.scene.model import Scene

KIND_COUNT, KIND_QUERY, KIND_OBJECTS = "count", "query", "objects"
CHECK_STEPS, CHECK_ANSWER_KIND, CHECK_TARGET_CONCEPT = "steps", "answer_kind", "target_concept"

# What kind of answer the question words ask for, read from the words themselves (not
# from a parse, so a misparse cannot vouch for itself): "how many / number of / total of"
# asks for a count; "what colour / the hue of / which shade" for an attribute.
_COUNT_WORDS = re.compile(r"\b(how many|number of|count|total of|total number|tally of)\b")
_ASKING = r"(?:what|which|tell me|say|name|give me|do you know|could you tell|can you tell)"
_ATTRIBUTE_WORDS = {
    "color": r"colou?rs?|hues?|shades?|tints?",
    "size": r"sizes?|dimensions",
    "shape": r"shapes?",
    "material": r"materials?|made of",
}
_QUERY_WORDS = {attr: re.compile(rf"\b{_ASKING}\b(?:\s+\w+){{0,3}}?\s+(?:{words})\b")
                for attr, words in _ATTRIBUTE_WORDS.items()}
_ATTRIBUTE_ALIASES = {"colour": "color"}


@dataclass(frozen=True)
class Expectation:
    """What a right answer to the instruction looks like."""

    kind: str                      # count | query | objects
    attribute: str | None = None   # for query: color | size | shape | material
    head: str | None = None        # the target's concept ("picture", "red chair"); None: not named
    head_labels: tuple[str, ...] = ()  # scene labels the referring reader takes the head noun for
    source: str = "parser"         # parser | reader


@dataclass(frozen=True)
class AnswerCheck:
    ok: bool
    failed: str = ""   # "" | CHECK_ANSWER_KIND | CHECK_TARGET_CONCEPT
    reason: str = ""


def expectation(instruction: str, scene: Scene, parsed: ParseOutcome | None = None) -> Expectation:
    """What ``instruction`` asks for in ``scene`` (``parsed``: the symbolic parse, when
    the caller has it; parsed here otherwise)."""
    if parsed is None:
        parsed = parse_instruction(instruction, vocabulary=scene.labels())
    reading = referring.read(instruction, scene.labels())
    labels = tuple(reading.target.labels) if reading is not None else ()
    asked = question_kind(instruction, scene.labels())
    if parsed.ok and parsed.program is not None:
        kind, attribute = asked or program_kind(parsed.program)
        return Expectation(kind, attribute, parsed.target_concept, labels, source="parser")
    kind, attribute = asked or (KIND_OBJECTS, None)
    return Expectation(kind, attribute, None, labels, source="reader")


def question_kind(instruction: str, labels=()) -> tuple[str, str | None] | None:
    """(count | query, attribute) when the question words ask for one; None otherwise
    (a referring expression, or words that name no answer kind). Words that are also
    object labels in the scene ("shade" in a room with a lamp shade) are not read as
    question words."""
    text = " ".join(instruction.lower().split())
    label_words = {w for lab in labels for w in str(lab).lower().split()}
    for attr, pattern in _QUERY_WORDS.items():
        m = pattern.search(text)
        if m and not (set(m.group(0).split()[-1:]) & label_words):
            return KIND_QUERY, attr
    if _COUNT_WORDS.search(text):
        return KIND_COUNT, None
    return None


def program_kind(program: ast.Node) -> tuple[str, str | None]:
    if isinstance(program, ast.Count):
        return KIND_COUNT, None
    if isinstance(program, ast.Query):
        return KIND_QUERY, _ATTRIBUTE_ALIASES.get(program.attribute, program.attribute)
    return KIND_OBJECTS, None


def check_answer(program: ast.Node, expected: Expectation, scene: Scene, executor) -> AnswerCheck:
    """Whether ``program`` answers what ``expected`` describes (``executor``: the one
    whose concept matcher ran the program)."""
    kind, attribute = program_kind(program)
    if kind != expected.kind or (kind == KIND_QUERY and attribute != expected.attribute):
        return AnswerCheck(False, CHECK_ANSWER_KIND,
                           f"the question asks for {_kind_text(expected.kind, expected.attribute)}, "
                           f"the program gives {_kind_text(kind, attribute)}")
    head_noun = split_concept(expected.head)[2] if expected.head else ""
    try:
        drawn = _source_ids(program, scene, executor)
        named, head = set(), ""
        if head_noun:
            named, head = _ids_of(head_noun, scene, executor), f"'{head_noun}'"
        if not named and expected.head_labels:
            # the parser's head matches nothing (a misparse: "can left"): the referring
            # reader's reading of the head, as scene labels
            labels = set(expected.head_labels)
            named, head = {o.id for o in scene if o.label in labels}, "'" + " / ".join(expected.head_labels) + "'"
        if not head:
            return AnswerCheck(True, reason="no head noun named: target concept not checked")
    except (ProgramExecutionError, ValueError) as e:
        return AnswerCheck(False, CHECK_TARGET_CONCEPT, f"the program's target concept could not be checked: {e}")
    if drawn is None or drawn & named or (not drawn and not named):
        return AnswerCheck(True)
    concepts = ", ".join(f"'{c}'" for c in sorted(_nouns(program)))
    if not named:
        return AnswerCheck(False, CHECK_TARGET_CONCEPT, f"the instruction names {head}, which no object matches; "
                                                    f"the program answers about {concepts}")
    return AnswerCheck(False, CHECK_TARGET_CONCEPT, f"the instruction names {head}; the program answers about "
                                                f"{concepts}, none of which is one")


def verify(instruction: str, program: ast.Node | None, scene: Scene, executor, steps_ok: bool,
           parsed: ParseOutcome | None = None) -> tuple[bool, str, str]:
    """(verified, failed check, reason): the one rule every reasoner applies. ``steps_ok``:
    every step of the trace re-executed to what it states; ``program``: the program the
    trace's plan spells out (None: the plan is not one program, so nothing is verified).
    The failed check is "" when verified, else "steps", "answer_kind" or "target_concept"."""
    if not steps_ok:
        return False, CHECK_STEPS, "a step does not re-execute to what the trace states"
    if program is None:
        return False, CHECK_STEPS, "the plan does not spell out one program"
    check = check_answer(program, expectation(instruction, scene, parsed), scene, executor)
    if not check.ok:
        return False, check.failed, check.reason
    return True, "", ""


_DESCRIPTIONS = {CHECK_STEPS: "trace verification failed",
                 CHECK_ANSWER_KIND: "the program does not answer the question asked",
                 CHECK_TARGET_CONCEPT: "the program answers about another kind of object"}


def describe(failed_check: str) -> str:
    """A user-facing phrase for a failed check's name."""
    return _DESCRIPTIONS.get(failed_check, failed_check)


def _kind_text(kind: str, attribute: str | None) -> str:
    return {KIND_COUNT: "a count", KIND_OBJECTS: "objects"}.get(kind) or f"the {attribute or 'attribute'}"


def _nouns(node) -> set[str]:
    """Head nouns of the kinds of object a set is drawn from: down through what keeps a
    subset of its input (relations, superlatives, attribute filters) to the filter that
    names a kind (colours and attributes peeled: what is compared is what the objects
    are, not how they look). Empty for scene(): "anything"."""
    if isinstance(node, (ast.Count, ast.Query, ast.Superlative, ast.Relate, ast.RelateMulti, ast.RelateAnchor)):
        return _nouns(node.input)
    if isinstance(node, (ast.Exclude, ast.Intersection)):
        return _nouns(node.a)
    if isinstance(node, ast.Union):
        return _nouns(node.a) | _nouns(node.b)
    if isinstance(node, ast.Filter):
        noun = split_concept(node.concept)[2]
        return {noun} if noun else _nouns(node.input)
    return set()


def _ids_of(noun: str, scene: Scene, executor) -> set[int]:
    return set(executor.execute(ast.Filter(ast.Scene(), noun), scene).ids)


def _source_ids(program, scene: Scene, executor) -> set[int] | None:
    """Objects of the kinds the program answers about; None when it names no kind."""
    nouns = _nouns(program)
    if not nouns:
        return None
    out: set[int] = set()
    for noun in nouns:
        out |= _ids_of(noun, scene, executor)
    return out
