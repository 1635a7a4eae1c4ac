"""Hostile values for the fuzz targets: huge and non-finite numbers, control characters,
lone surrogates, wrong types, and near-valid scene documents built from them."""

from __future__ import annotations

from hypothesis import strategies as st

HOSTILE_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80) | st.sampled_from(
    ["", "chair\ud800", "\x1b[31mred\x07", "a" * 5000, "\u202ebidi", "the chair", "0" * 400])
HOSTILE_NUMBER = (st.integers(min_value=-(10 ** 400), max_value=10 ** 400) | st.floats(allow_nan=True, allow_infinity=True)
                  | st.sampled_from([2 ** 31, 2 ** 70, -1, 0, 1e-30, 1e30, 10 ** 4200]))
JSON_SCALAR = st.none() | st.booleans() | HOSTILE_NUMBER | HOSTILE_TEXT
ANY_JSON = st.recursive(JSON_SCALAR, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(HOSTILE_TEXT, inner, max_size=4), max_leaves=12)
NUMBER_OR_JUNK = HOSTILE_NUMBER | st.floats(-10, 10) | ANY_JSON
VEC3 = st.lists(NUMBER_OR_JUNK, min_size=0, max_size=4) | st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.floats(0, 3)).map(list)


@st.composite
def scene_documents(draw):
    """A Scene JSON v1 document whose every field may be valid or hostile."""
    def field(valid, hostile=ANY_JSON):
        return draw(st.one_of(valid, hostile)) if draw(st.booleans()) else draw(valid)

    objects = []
    for _ in range(draw(st.integers(0, 5))):
        obj = {"id": field(st.integers(0, 50), HOSTILE_NUMBER), "label": field(st.sampled_from(["chair", "table", "mug"]), HOSTILE_TEXT),
               "center": field(VEC3), "size": field(st.tuples(st.floats(0.05, 2), st.floats(0.05, 2), st.floats(0.05, 2)).map(list), VEC3)}
        for key, valid in (("color", st.sampled_from(["red", "blue"])), ("front", VEC3), ("score", st.floats(0, 1)),
                           ("features", st.lists(st.floats(-1, 1), max_size=4)), ("attributes", st.lists(HOSTILE_TEXT, max_size=3))):
            if draw(st.booleans()):
                obj[key] = field(valid)
        if draw(st.integers(0, 9)) == 0:
            obj[draw(HOSTILE_TEXT)] = draw(ANY_JSON)
        objects.append(obj)
    doc = {"format": field(st.just("apeiria.scene/v1"), HOSTILE_TEXT), "scene_id": field(st.just("fuzz"), HOSTILE_TEXT),
           "objects": objects if draw(st.integers(0, 9)) else draw(ANY_JSON)}
    if draw(st.booleans()):
        doc["viewpoint"] = {"position": field(VEC3), "look_at": field(VEC3)} if draw(st.booleans()) else draw(ANY_JSON)
    return doc


WORDS = st.sampled_from("the a chair table mug left right of to on under between closest farthest facing it is this "
                        "there . , ; ! ? second from red wooden how many what color \x1b \x07 \ud800 0 9999999999 "
                        "( ) [ ] { } filter scene relate_anchor".split(" "))
SENTENCES = st.lists(WORDS, max_size=60).map(" ".join) | HOSTILE_TEXT
