"""Program DSL grammar: round trip with str(node), clean errors for everything else."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apeiria_model.programs import ast
from apeiria_model.programs.errors import ProgramSyntaxError
from apeiria_model.programs.grammar import MAX_PROGRAM_CHARS, MAX_PROGRAM_DEPTH, parse_program
from apeiria_model.programs.strategies import any_concepts, programs


def test_parses_the_documented_examples():
    chair, desk = ast.Filter(ast.Scene(), "chair"), ast.Filter(ast.Scene(), "desk")
    assert parse_program("relate(filter(scene(), chair), filter(scene(), desk), left)") == ast.Relate(chair, desk, "left")
    assert parse_program('superlative(filter(scene(), "coffee table"), leftmost, 2)') == \
        ast.Superlative(ast.Filter(ast.Scene(), "coffee table"), "leftmost", 2)
    p = parse_program('relate(filter(scene(), "coffee table"), filter(scene(), sofa), front, anchor)')
    assert p.frame == ast.FRAME_ANCHOR and p.relation == "front"
    assert parse_program("count(filter(scene(), mug))") == ast.Count(ast.Filter(ast.Scene(), "mug"))
    assert parse_program("query(filter(scene(), mug), color)") == ast.Query(ast.Filter(ast.Scene(), "mug"), "color")


def test_optional_arguments_default_like_the_ast():
    assert parse_program("relate(scene(), scene(), near, viewer)") == ast.Relate(ast.Scene(), ast.Scene(), "near")
    assert parse_program("superlative(scene(), largest, 1)") == ast.Superlative(ast.Scene(), "largest")
    assert parse_program("relate_multi(scene(), scene(), scene())") == \
        ast.RelateMulti(ast.Scene(), ast.Scene(), ast.Scene(), "between")


def test_whitespace_tolerant_and_multi_word_names():
    p = parse_program("  relate (\n filter( scene ( ) ,chair ) ,\tscene(),  to   the left of )  ")
    assert p == ast.Relate(ast.Filter(ast.Scene(), "chair"), ast.Scene(), "to the left of")
    assert parse_program(str(p)) == p


def test_keywords_are_fine_as_concepts_and_escapes_round_trip():
    assert parse_program("filter(scene(), scene)").concept == "scene"
    tricky = 'say "hi" \\ there'
    node = ast.Filter(ast.Scene(), tricky)
    assert parse_program(str(node)) == node


@pytest.mark.parametrize("text, fragment", [
    ("", "empty program"),
    ("   ", "empty program"),
    ("filter(scene(), chair", "ends early"),
    ("filter(scene(), ch@ir)", "unexpected character '@'"),
    ('filter(scene(), "")', "empty concept"),
    ("relate(scene(), scene(), left, sideways)", "unknown frame 'sideways'"),
    ("superlative(scene(), largest, 0)", "rank must be between 1"),
    ("count(count(scene()))", "unexpected 'count'"),
    ("filter(count(scene()), x)", "unexpected 'count'"),
    ("scene() scene()", "unexpected 'scene'"),
    ("frobnicate(scene())", "unexpected 'frobnicate'"),
    ('filter(scene(), "unterminated)', "unexpected character"),
])
def test_specific_error_messages(text, fragment):
    with pytest.raises(ProgramSyntaxError) as info:
        parse_program(text)
    assert fragment in str(info.value)


def test_error_carries_the_column():
    with pytest.raises(ProgramSyntaxError) as info:
        parse_program("filter(scene(), ch@ir)")
    assert info.value.column == 19


def test_refuses_absurd_depth_and_length():
    deep = "filter(" * (MAX_PROGRAM_DEPTH + 1) + "scene()" + ", x)" * (MAX_PROGRAM_DEPTH + 1)
    with pytest.raises(ProgramSyntaxError, match="nested deeper"):
        parse_program(deep)
    ok = "filter(" * 20 + "scene()" + ", x)" * 20
    assert ast.depth(parse_program(ok)) == 20
    with pytest.raises(ProgramSyntaxError, match="characters long"):
        parse_program("scene()" + " " * MAX_PROGRAM_CHARS)


def test_wrong_types_and_bytes():
    with pytest.raises(ProgramSyntaxError, match="must be a string"):
        parse_program(42)  # type: ignore[arg-type]
    with pytest.raises(ProgramSyntaxError, match="not valid UTF-8"):
        parse_program(b"filter(scene(), \xff)")
    assert parse_program(b"scene()") == ast.Scene()


@settings(max_examples=300, deadline=None)
@given(programs())
def test_round_trip_random_programs(program):
    assert parse_program(str(program)) == program


@settings(max_examples=150, deadline=None)
@given(programs(concepts=any_concepts))
@example(ast.Filter(ast.Scene(), "A\n"))  # regression: "$" let a trailing newline print bare and vanish
def test_round_trip_arbitrary_concept_text(program):
    assert parse_program(str(program)) == program


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=200),
                 st.text(alphabet='filterscn(),_ "\\relatmuxyz0123456789', max_size=120)))
def test_arbitrary_text_raises_only_syntax_errors(text):
    try:
        node = parse_program(text)
    except ProgramSyntaxError as exc:
        assert str(exc)
    else:
        assert parse_program(str(node)) == node


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_syntax_errors(data):
    try:
        parse_program(data)
    except ProgramSyntaxError:
        pass
