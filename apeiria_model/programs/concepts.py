"""Concept matching: which scene objects a filter concept ("red chair", "table") names.

``ConceptMatcher`` is the protocol the executor calls; any matcher (this lexical one,
H2's embedding matcher in ``language/open_vocab.py``) returns one score in [0, 1] per
object and keeps the objects scoring at least its ``threshold``.

``LexicalConceptMatcher`` needs no model:

=========================  ======  ===================================================
concept vs object          score   example
=========================  ======  ===================================================
exact label                1.0     "chairs" / "Chair" / "coffee_table" vs label
synonym                    0.9     "couch" vs "sofa"
head noun of the label     0.7     "table" vs "coffee table"
label is the concept head  0.4     "coffee table" vs "table" (below threshold: unsure)
generic word               1.0     "object", "thing", "item", "one" match everything
no relation                0.0
=========================  ======  ===================================================

and then multiplies by 1 or 0 per colour word ("red chair" = colour red AND chair)
and per attribute word (looked up in ``SceneObject.attributes``; materials accept
their adjective: "wood" = "wooden"). Size words ("small", "large", ...) that an object
does not carry as an attribute are judged against the median volume of the other
objects with the same head, because perception rarely labels sizes. The colour /
attribute parsing is exposed (:func:`split_concept`, :func:`color_matches`,
:func:`attribute_matches`) so other matchers can reuse it for the non-noun part.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from apeiria_model.scene.model import SceneObject

DEFAULT_THRESHOLD = 0.5

SCORE_EXACT = 1.0
SCORE_SYNONYM = 0.9
SCORE_HEAD_NOUN = 0.7
SCORE_CONCEPT_HEAD = 0.4
SCORE_SIZE_GUESS_YES = 0.8   # size word judged from volume, no attribute: fairly sure
SCORE_SIZE_GUESS_NO = 0.2

COLOR_NORMAL = {"grey": "gray", "golden": "gold", "violet": "purple", "tan": "beige", "cream": "beige",
                "navy": "blue", "maroon": "red", "teal": "cyan", "turquoise": "cyan", "silvery": "silver",
                "colour": "", "color": "", "colored": "", "coloured": ""}
COLOR_WORDS = frozenset("""red orange yellow green blue purple pink brown black white gray grey silver gold
golden beige tan cyan teal navy maroon violet cream turquoise""".split())
_COLOR_SHADES = frozenset("dark light bright pale deep".split())

MATERIAL_ADJECTIVES = {"wooden": "wood", "metallic": "metal", "metal": "metal", "wood": "wood",
                       "plastic": "plastic", "glass": "glass", "glassy": "glass", "leather": "leather",
                       "fabric": "fabric", "ceramic": "ceramic", "stone": "stone", "marble": "marble",
                       "paper": "paper", "cardboard": "cardboard", "steel": "metal", "iron": "metal",
                       "cloth": "fabric", "wicker": "wicker", "concrete": "concrete"}
SIZE_WORDS = {"small": "small", "little": "small", "tiny": "small", "large": "large", "big": "large",
              "huge": "large", "giant": "large", "tall": "tall", "short": "short", "long": "long",
              "wide": "wide", "narrow": "narrow"}
_SIZE_OPPOSITE = {"small": "large", "large": "small", "tall": "short", "short": "tall", "long": "short",
                  "wide": "narrow", "narrow": "wide"}
OTHER_ATTRIBUTES = frozenset("""round square rectangular circular oval open closed empty full soft hard striped
patterned plain dirty clean old new modern broken folded stacked shiny wall-mounted padded""".split())
GENERIC_HEADS = frozenset("object thing item one stuff something anything".split())
_DETERMINERS = frozenset("the a an this that these those all any some every".split())

# Symmetric synonym groups (singular, normalised forms).
_SYNONYM_GROUPS = [
    {"sofa", "couch", "settee"}, {"tv", "television", "tv screen"}, {"trash can", "garbage can", "trash bin",
    "garbage bin", "wastebasket", "waste bin", "bin", "recycling bin"}, {"bookshelf", "bookcase", "book shelf"},
    {"nightstand", "night stand", "bedside table", "night table"}, {"fridge", "refrigerator"},
    {"monitor", "computer monitor", "screen", "display"}, {"cup", "mug"}, {"rug", "carpet", "mat"},
    {"cabinet", "cupboard"}, {"wardrobe", "closet"}, {"plant", "potted plant", "houseplant"},
    {"armchair", "arm chair"}, {"office chair", "desk chair"}, {"picture", "painting", "poster", "frame",
    "picture frame"}, {"laptop", "notebook computer"}, {"toilet", "wc"}, {"lamp", "light", "floor lamp"},
]
SYNONYMS: dict[str, frozenset[str]] = {}
for _group in _SYNONYM_GROUPS:
    for _w in _group:
        SYNONYMS[_w] = SYNONYMS.get(_w, frozenset()) | frozenset(_group - {_w})

_IRREGULAR = {"people": "person", "men": "man", "women": "woman", "children": "child", "feet": "foot",
              "teeth": "tooth", "mice": "mouse", "shelves": "shelf", "knives": "knife", "leaves": "leaf",
              "wives": "wife", "halves": "half", "loaves": "loaf", "scarves": "scarf", "cacti": "cactus",
              "geese": "goose", "dice": "die", "lives": "life", "thieves": "thief", "wolves": "wolf"}
_NO_STRIP = frozenset("""glass grass bus gas lens canvas mattress dress chess class boss press cross series
species news tennis chassis cactus status atlas iris bonus virus campus kiss moss bass dais analysis
basis axis this yes gps""".split())
_WORD_SPLIT = re.compile(r"[^\w\-']+|_")  # punctuation and underscores separate words


@lru_cache(maxsize=4096)
def singularize(word: str) -> str:
    """English plural -> singular for one lower-case word (good enough for labels)."""
    w = word
    if len(w) <= 3 or w in _NO_STRIP:
        return w
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes")):
        return w[:-2]
    if w.endswith("ses") and not w.endswith("uses"):
        return w[:-1]  # cases -> case, vases -> vase
    if w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


@lru_cache(maxsize=8192)
def normalise_phrase(text: str) -> str:
    """Lower-case, underscores/whitespace to single spaces, head (last) word singular."""
    words = [w for w in _WORD_SPLIT.split(str(text).strip().lower()) if w]
    if not words:
        return ""
    words[-1] = singularize(words[-1])
    return " ".join(words)


def normalise_color(color: str | None) -> str | None:
    if not color:
        return None
    words = [w for w in _WORD_SPLIT.split(color.strip().lower()) if w and w not in _COLOR_SHADES]
    if not words:
        return None
    c = words[-1]
    return COLOR_NORMAL.get(c, c) or None


@lru_cache(maxsize=4096)
def split_concept(concept: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """'small red wooden chairs' -> (('red',), ('small', 'wood'), 'chair').

    Colours and known attribute words are peeled off the front; whatever remains is the
    head noun phrase (normalised, singular), '' when nothing remains ("red one" and
    "red" give head '' = any object). Materials come back in noun form ('wood').
    """
    words = [w for w in _WORD_SPLIT.split(str(concept).strip().lower()) if w]
    words = [w for w in words if w not in _DETERMINERS and w != "and"] or words
    colors: list[str] = []
    attrs: list[str] = []
    i = 0
    # A modifier is only peeled if a word follows it or it is the whole concept, so a
    # lone "glass" (the object) stays a head, while "glass table" gives glass + table.
    while i < len(words):
        w = words[i]
        last = i == len(words) - 1
        if w in _COLOR_SHADES and not last and words[i + 1] in COLOR_WORDS:
            i += 1
            continue
        if w in COLOR_WORDS and (not last or not colors and not attrs):
            c = COLOR_NORMAL.get(w, w)
            if c:
                colors.append(c)
            i += 1
            continue
        if w in COLOR_NORMAL and not COLOR_NORMAL[w]:  # "red colored chair"
            i += 1
            continue
        if (w in MATERIAL_ADJECTIVES or w in SIZE_WORDS or w in OTHER_ATTRIBUTES) and \
                (not last or (not colors and not attrs and w not in ("glass", "paper", "stone", "light"))):
            attrs.append(MATERIAL_ADJECTIVES.get(w, SIZE_WORDS.get(w, w)))
            i += 1
            continue
        break
    head_words = words[i:]
    head = normalise_phrase(" ".join(head_words)) if head_words else ""
    if head in GENERIC_HEADS or head in ("objects", "things", "items", "ones"):
        head = ""
    return tuple(colors), tuple(attrs), head


@lru_cache(maxsize=8192)
def label_score(head: str, label: str) -> float:
    """How well the (normalised) head noun phrase names an object labelled ``label``."""
    if not head:
        return SCORE_EXACT
    lab = normalise_phrase(label)
    if head == lab:
        return SCORE_EXACT
    if lab in SYNONYMS.get(head, ()):
        return SCORE_SYNONYM
    lab_words, head_words = lab.split(" "), head.split(" ")
    if len(lab_words) > len(head_words) and lab_words[-len(head_words):] == head_words:
        return SCORE_HEAD_NOUN  # "table" vs "coffee table"
    for syn in SYNONYMS.get(head, ()):
        sw = syn.split(" ")
        if len(lab_words) > len(sw) and lab_words[-len(sw):] == sw:
            return SCORE_HEAD_NOUN * SCORE_SYNONYM
    if len(head_words) > len(lab_words) and head_words[-len(lab_words):] == lab_words:
        return SCORE_CONCEPT_HEAD  # "coffee table" vs "table"
    return 0.0


def object_attributes(obj: SceneObject) -> frozenset[str]:
    """The object's attribute words, normalised (materials in noun form)."""
    out = set()
    for a in obj.attributes:
        for w in _WORD_SPLIT.split(str(a).strip().lower()):
            if w:
                out.add(MATERIAL_ADJECTIVES.get(w, SIZE_WORDS.get(w, w)))
    return frozenset(out)


def color_matches(colors: Sequence[str], obj: SceneObject) -> bool:
    """Every requested colour is the object's colour (or one of its attribute words)."""
    if not colors:
        return True
    own = normalise_color(obj.color)
    attrs = object_attributes(obj)
    return all(c == own or c in attrs for c in colors)


def attribute_matches(attr: str, obj: SceneObject) -> bool | None:
    """True / False when the object's attributes decide, None when they say nothing."""
    attrs = object_attributes(obj)
    if attr in attrs:
        return True
    if attr in _SIZE_OPPOSITE:
        return False if _SIZE_OPPOSITE[attr] in attrs else None
    return False


@runtime_checkable
class ConceptMatcher(Protocol):
    """Scores how well each object matches a concept; kept when score >= threshold."""

    threshold: float

    def scores(self, concept: str, objects: Sequence[SceneObject]) -> np.ndarray:
        """One score in [0, 1] per object, same order as ``objects``."""
        ...


def _size_measure(attr: str, obj: SceneObject) -> float:
    w, d, h = obj.size
    if attr in ("tall", "short"):
        return h
    if attr in ("long",):
        return max(w, d)
    if attr in ("wide", "narrow"):
        return min(w, d)
    return obj.volume


class LexicalConceptMatcher:
    """Label / synonym / head-noun matching plus colour and attribute words."""

    name = "lexical"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD):
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.threshold = float(threshold)

    def scores(self, concept: str, objects: Sequence[SceneObject]) -> np.ndarray:
        if not isinstance(concept, str):
            raise TypeError(f"concept must be a string, got {type(concept).__name__}")
        n = len(objects)
        out = np.zeros(n, dtype=float)
        if n == 0:
            return out
        colors, attrs, head = split_concept(concept)
        head_words = head.split(" ") if head else []
        for k, obj in enumerate(objects):
            s = label_score(head, obj.label)
            if not head and not attrs and len(colors) == 1 and label_score(colors[0], obj.label) == SCORE_EXACT:
                s = SCORE_EXACT  # "orange" names the fruit as well as the colour
                out[k] = s
                continue
            # Unknown leading words may be attributes the object carries ("striped chair").
            if s < SCORE_EXACT and len(head_words) > 1:
                own = object_attributes(obj)
                for cut in range(1, len(head_words)):
                    if all(w in own for w in head_words[:cut]):
                        s = max(s, label_score(" ".join(head_words[cut:]), obj.label))
            if s > 0.0 and not color_matches(colors, obj):
                s = 0.0
            out[k] = s
        for attr in attrs:
            out *= self._attribute_factor(attr, objects, out > 0.0)
        return out

    def _attribute_factor(self, attr: str, objects: Sequence[SceneObject], alive: np.ndarray) -> np.ndarray:
        factor = np.zeros(len(objects))
        undecided = []
        for k, obj in enumerate(objects):
            verdict = attribute_matches(attr, obj)
            if verdict is None:
                undecided.append(k)
            else:
                factor[k] = 1.0 if verdict else 0.0
        if undecided:
            # Size words without an attribute: compare with the other candidates.
            pool = [k for k in range(len(objects)) if alive[k]]
            vals = np.array([_size_measure(attr, objects[k]) for k in pool]) if pool else np.zeros(0)
            median = float(np.median(vals)) if len(vals) >= 2 else None
            bigger = attr in ("large", "tall", "long", "wide")
            for k in undecided:
                if median is None:
                    factor[k] = SCORE_SIZE_GUESS_YES
                    continue
                v = _size_measure(attr, objects[k])
                yes = v >= median if bigger else v <= median
                factor[k] = SCORE_SIZE_GUESS_YES if yes else SCORE_SIZE_GUESS_NO
        return factor
