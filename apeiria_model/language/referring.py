"""Read a real referring expression against the labels of one scene.

Real descriptions ("this is a white trash can. it is beside a desk.", "facing the front
of the desk, select the window that is on the left side of it", "the second stool, from
left to right") are longer and looser than the instruction grammar of
``instruction_parser``. This reader is shallow on purpose (about 0.1 ms a sentence): it
finds the scene labels the text names, takes the first one as the target (the head
noun of a referring expression comes first in English: "the X that ...", "this is a
X."), and then looks for the cue that singles the target out:

1. an anchor viewpoint ("facing / looking at (the front of) the X, ..."): directions of
   the relation are then in that anchor's frame, its front estimated when unknown;
2. a relation phrase followed by one or two named anchors ("between the desk and the
   shelf", "in the middle of A and B", "closest to the couch", "on the left of it");
3. an ordinal or superlative ("the second stool from the left", "the tallest");
4. failing all of those, the other things the text names: the target nearest to them
   (a best guess, said so).

Colour words next to the target are graded evidence: used when some object of the
target class has that estimated colour, reported as unchecked otherwise; material and
shape words are always reported unchecked (the scene has nothing to check them with).
The reading becomes an ordinary program (``to_program``), so execution and trace
verification are the same as for any other instruction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from apeiria_model.language.synonyms import COLLOQUIAL
from apeiria_model.programs import ast, graded
from apeiria_model.programs import relations as rel
from apeiria_model.programs.concepts import COLOR_NORMAL, COLOR_WORDS, MATERIAL_ADJECTIVES

_TOKEN = re.compile(r"[a-z0-9]+|[.,;!?]")
_ARTICLES = frozenset("the a an this that one some".split())
# tokens allowed between a relation phrase and its anchor ("to the right of the big sink")
_ANCHOR_GAP = frozenset("the a an of it its to that this which is are some other".split()) | COLOR_WORDS
_VIEW_VERBS = (("facing",), ("looking", "at"), ("looking", "toward"), ("looking", "towards"), ("face",),
               ("if", "you", "are", "facing"), ("when", "facing"), ("standing", "in", "front", "of"),
               ("while", "facing"), ("when", "looking", "at"))
_BETWEEN_HEADS = (("between",), ("in", "between"), ("in", "the", "middle", "of"), ("in", "the", "center", "of"),
                  ("in", "the", "centre", "of"), ("middle", "of"), ("center", "of"))
GUESS_KIND = "largest"   # nothing singles the target out: the most salient one (calibrated on real train scenes)
_PLURAL_QUANTIFIERS = frozenset("all both every two three four five".split())
_MIDDLE_WORDS = frozenset("middle center centre".split())   # "the middle one": superlative middle
# labels too generic to be the target when the text names something after them ("the object is a door")
_GENERIC = frozenset("object objects item items thing things".split())
_SHAPE_WORDS = frozenset("round square rectangular circular oval long wide narrow thin flat curved".split())
# ScanNet raw labels people name otherwise (spoken name -> label words); small and general
_SPOKEN = {"night stand": "nightstand", "nightstands": "nightstand", "fridge": "refrigerator",
           "trashcan": "trash can", "garbage can": "trash can", "trash bin": "trash can", "bin": "trash can",
           "garbage bin": "trash can", "couch": "sofa", "tv": "television", "television": "tv",
           "sofa": "couch", "computer monitor": "monitor", "screen": "monitor", "bookcase": "bookshelf",
           "book shelf": "bookshelf", "shelves": "shelf", "dresser": "dresser", "drawers": "dresser",
           "rug": "carpet", "carpet": "rug", "lamp": "lamp", "stool": "stool", "armchair": "arm chair",
           "arm chair": "armchair", "office chair": "office chair", "sink": "sink", "counter": "kitchen counter",
           "cupboard": "cabinet", "closet": "wardrobe", "wardrobe": "closet", "whiteboard": "white board",
           "white board": "whiteboard", "recycling bin": "recycling bin", "cabinets": "cabinet"}


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(str(text).lower())


def singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _key(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(singular(w) for w in words)


@dataclass(frozen=True)
class Mention:
    start: int
    end: int                       # token span [start, end)
    labels: tuple[str, ...]        # the scene labels it names
    plural: bool


@dataclass
class Reading:
    """What a referring expression says about its target, in scene labels."""

    target: Mention
    relation: str | None = None
    anchors: tuple[Mention, ...] = ()
    frame: str = ast.FRAME_VIEWER
    viewpoint: Mention | None = None
    superlative: tuple[str, int] | None = None
    color: str | None = None
    multi: bool = False
    guess: bool = False            # no cue found: nearest to the other named things
    others: tuple[Mention, ...] = ()
    unchecked: list[str] = field(default_factory=list)


class LabelIndex:
    """Token spans -> scene labels (exact label, its plural, spoken names, head noun)."""

    def __init__(self, labels: Iterable[str]):
        self.labels = tuple(sorted({str(x) for x in labels if str(x).strip()}))
        self.table: dict[tuple[str, ...], tuple[str, ...]] = {}
        by_key: dict[tuple[str, ...], set[str]] = {}
        heads: dict[tuple[str, ...], set[str]] = {}
        for label in self.labels:
            words = tokens(label)
            if not words:
                continue
            by_key.setdefault(_key(words), set()).add(label)
            if len(words) > 1:
                by_key.setdefault((singular("".join(words)),), set()).add(label)  # "night stand" ~ nightstand
                heads.setdefault((singular(words[-1]),), set()).add(label)
        for k, v in by_key.items():
            self.table[k] = tuple(sorted(v))
        for spoken, label_words in list(_SPOKEN.items()) + [(k, v[0]) for k, v in COLLOQUIAL.items()]:
            sk, lk = _key(tokens(spoken)), _key(tokens(label_words))
            if sk not in self.table and lk in by_key:
                self.table[sk] = tuple(sorted(by_key[lk]))
        for k, v in heads.items():  # "cabinet" names "kitchen cabinets" when no plain cabinet exists
            if k not in self.table:
                self.table[k] = tuple(sorted(v))
        self.max_len = max((len(k) for k in self.table), default=1)

    def mentions(self, words: list[str]) -> list[Mention]:
        out, i = [], 0
        keys = [singular(w) for w in words]
        while i < len(words):
            for n in range(min(self.max_len + 1, len(words) - i), 0, -1):
                labels = self.table.get(tuple(keys[i:i + n]))
                if not labels and n > 1:  # "bath tub" names "bathtub"
                    labels = self.table.get((singular("".join(words[i:i + n])),))
                if labels:
                    out.append(Mention(i, i + n, labels, words[i + n - 1] != keys[i + n - 1]))
                    i += n
                    break
            else:
                i += 1
        return out


@lru_cache(maxsize=256)
def label_index(labels: tuple[str, ...]) -> LabelIndex:
    return LabelIndex(labels)


def _match_at(words: list[str], i: int, phrase: tuple[str, ...]) -> bool:
    return tuple(words[i:i + len(phrase)]) == phrase


_REL_PHRASES = sorted(((tuple(k.split(" ")), v) for k, v in rel._RELATION_LOOKUP.items()),
                      key=lambda kv: -len(kv[0]))
# relation words that are too loose on their own to name a relation in real text
_WEAK = {("in",), ("by",), ("around",), ("next",), ("back",), ("rear",), ("front",), ("before",), ("over",)}
_EXTRA_RELATIONS = {("closest",): "closest", ("nearest",): "closest", ("farthest",): "farthest",
                    ("furthest",): "farthest", ("close", "to"): "closest", ("near",): "closest",
                    ("nearest", "to"): "closest", ("far", "from"): "farthest", ("far", "away", "from"): "farthest",
                    ("next", "to"): "closest", ("beside",): "closest", ("by", "the"): "closest",
                    ("over",): "above", ("on", "top", "of"): "on", ("underneath",): "below", ("under",): "below",
                    ("beneath",): "below", ("below",): "below", ("above",): "above", ("in", "front", "of"): "front",
                    ("behind",): "behind", ("in", "back", "of"): "behind", ("on", "the", "back", "of"): "behind",
                    ("on", "the", "front", "of"): "front"}
_PHRASES = sorted([(p, r) for p, r in _REL_PHRASES if p not in _WEAK] + list(_EXTRA_RELATIONS.items()),
                  key=lambda kv: -len(kv[0]))


def _relation_at(words: list[str], i: int) -> tuple[str, int] | None:
    for phrase, name in _PHRASES:
        if _match_at(words, i, phrase):
            return graded.SAME_AS.get(name, name), i + len(phrase)  # "near" picks the closest
    return None


def _next_mention(mentions: list[Mention], after: int, words: list[str], limit: int = 4) -> Mention | None:
    for m in mentions:
        if m.start >= after:
            gap = words[after:m.start]
            if len(gap) <= limit and all(w in _ANCHOR_GAP or w.isdigit() for w in gap):
                return m
            return None
    return None


def _refers_back(words: list[str], after: int) -> bool:
    gap = [w for w in words[after:after + 3] if w not in ("the", "of")]
    return bool(gap) and gap[0] in ("it", "them", "its")


def _superlative(words: list[str]) -> tuple[str, int] | None:
    words = [w for w in words if w.isalnum()]
    text = " ".join(words)
    m = re.search(r"\b(first|second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th))\b(?:\s+\w+){0,3}?\s+from\s+"
                  r"(?:the\s+)?(left|right|front|back|top|bottom)", text)
    if m:
        parsed = rel.parse_superlative_phrase(f"{m.group(1)} from the {m.group(2)}")
        if parsed:
            return parsed
    for w in words:
        if w.endswith("est") or w.endswith("most") or w in _MIDDLE_WORDS:
            parsed = rel.parse_superlative_phrase(w)
            if parsed:
                return parsed
    return None


def read(text: str, labels: Iterable[str]) -> Reading | None:
    """The reading of ``text`` in a scene with ``labels``; None when it names no label."""
    words = tokens(text)
    index = label_index(tuple(sorted(set(labels))))
    mentions = index.mentions(words)
    if not mentions:
        return None
    viewpoint, body_start = None, 0
    for verb in _VIEW_VERBS:
        for i in range(0, min(len(words), 4)):
            if _match_at(words, i, verb):
                j = i + len(verb)
                if _match_at(words, j, ("the", "front", "of")):
                    j += 3
                m = _next_mention(mentions, j, words, limit=2)
                if m is not None:
                    viewpoint, body_start = m, m.end
                break
        if viewpoint is not None:
            break
    body = [m for m in mentions if m.start >= body_start]
    if not body:
        body = [viewpoint] if viewpoint is not None else []
    if not body:
        return None
    if len(body) > 1 and all(label in _GENERIC for label in body[0].labels):
        body = body[1:]
    target = body[0]
    for nxt in body[1:]:  # noun-noun compound: "floor lamp", "bathroom stall door" -> the last noun heads it
        if nxt.start != target.end:
            break
        target = nxt
    reading = Reading(target, viewpoint=viewpoint,
                      frame=ast.FRAME_FACING if viewpoint is not None else ast.FRAME_VIEWER)
    reading.multi = target.plural and any(w in _PLURAL_QUANTIFIERS for w in words[max(0, target.start - 3):target.start])
    for w in words[max(0, target.start - 4):target.start] + words[target.end:target.end + 3]:
        if w in COLOR_WORDS:
            reading.color = COLOR_NORMAL.get(w, w)
        elif w in MATERIAL_ADJECTIVES or w in _SHAPE_WORDS:
            reading.unchecked.append(w)
    _find_relation(reading, words, mentions, viewpoint)
    if reading.relation is None:
        reading.superlative = _superlative(words[body_start:])
    if reading.relation is None and reading.superlative is None:
        reading.others = tuple(m for m in mentions if m is not target and m.labels != target.labels
                               and m is not viewpoint)
        reading.guess = True
    return reading


def _find_relation(reading: Reading, words: list[str], mentions: list[Mention], viewpoint: Mention | None) -> None:
    i = reading.target.end
    while i < len(words):
        between = next((h for h in _BETWEEN_HEADS if _match_at(words, i, h)), None)
        if between is not None:
            a = _next_mention(mentions, i + len(between), words)
            if a is not None and a.end < len(words) and words[a.end] in ("and", "&"):
                b = _next_mention(mentions, a.end + 1, words)
                if b is not None:
                    reading.relation, reading.anchors = "between", (a, b)
                    return
            if a is not None and a.plural:  # "between the two beds"
                reading.relation, reading.anchors = "between", (a,)
                return
        found = _relation_at(words, i)
        if found is not None:
            name, j = found
            anchor = _next_mention(mentions, j, words)
            if anchor is None and viewpoint is not None and _refers_back(words, j):
                anchor = viewpoint
            if anchor is not None:  # same class is fine: "the chair next to the other chair"
                reading.relation, reading.anchors = name, (anchor,)
                return
        i += 1


def _labels_node(labels: tuple[str, ...]):
    node = ast.Filter(ast.Scene(), labels[0])
    for label in labels[1:]:
        node = ast.Union(node, ast.Filter(ast.Scene(), label))
    return node


def target_node(reading: Reading, use_color: bool):
    node = _labels_node(reading.target.labels)
    if use_color and reading.color:
        node = ast.Filter(node, reading.color)
    return node


def to_program(reading: Reading, use_color: bool = True):
    """The program of a reading (``use_color``: apply the colour cue as a filter)."""
    target = target_node(reading, use_color)
    if reading.relation is not None:
        anchors = _labels_node(reading.anchors[0].labels)
        for extra in reading.anchors[1:]:
            anchors = ast.Union(anchors, _labels_node(extra.labels))
        frame = reading.frame if reading.relation in rel.VIEW_DEPENDENT else ast.FRAME_VIEWER
        return ast.RelateAnchor(target, anchors, reading.relation, frame)
    if reading.superlative is not None:
        kind, rank = reading.superlative
        return ast.Superlative(target, kind, max(1, rank))
    if reading.others:
        anchors = _labels_node(reading.others[0].labels)
        return ast.RelateAnchor(target, anchors, "closest")
    if not reading.multi:
        return ast.Superlative(target, GUESS_KIND)
    return target


def describe(reading: Reading) -> str:
    """One line for the result's message: what was read, and what picks the target."""
    parts = [f"target {' / '.join(reading.target.labels)}"]
    if reading.viewpoint is not None:
        parts.append(f"viewed facing the {' / '.join(reading.viewpoint.labels)}")
    if reading.relation is not None:
        parts.append(f"best {reading.relation} " + " and ".join(' / '.join(a.labels) for a in reading.anchors))
    elif reading.superlative is not None:
        kind, rank = reading.superlative
        parts.append(f"{kind}" + (f" (number {rank})" if rank != 1 else ""))
    elif reading.others:
        parts.append(f"best guess: the one closest to the {' / '.join(reading.others[0].labels)}")
    else:
        parts.append("best guess: no cue singles one out")
    return ", ".join(parts)
