"""Instruction -> program: a tokenizer plus a small recursive-descent chunker.

Grammar (informal; every word table lives in ``lexicon.py``)::

    instruction := command* (count_q | attr_q | description) sentence*
    count_q     := "how many" description ("are there")?
    attr_q      := "what" ATTR "is" description | "what is the" ATTR "of" description
    description := np modifier*
    np          := det* quantifier? (ordinal | superlative | colour | attribute)* head-words
                   ("of the (two)?" np)?                       # "the bigger of the two plants"
    modifier    := relation np                                   # near the desk
                 | "closest to" np                               # relate_anchor
                 | "between" np "and" np                         # relate_multi
                 | ("on"|"to") "the" np "'s" SIDE                 # allocentric (anchor frame)
                 | "from the" np "'s perspective"                 # switches previous relation's frame
                 | "with" np relation "it"                        # inverse: target is the anchor
                 | "not" modifier | "except" np                   # exclude
                 | "and" modifier                                 # intersection
                 | "on the left" | "second from the left"         # superlatives
                 | clause markers / copulas / filler              # skipped
    sentence    := ("it" | "the" head) copula? modifier*          # "It is placed next to the bed."
                 | "the" anchor-head copula? modifier*            # "The desk is by the door." (the anchor)
    room parts  := walls / floor / corners / middle of the room   # never objects: room_parts.py
                   ("on the far wall" -> backmost, "on the floor" -> on no object, else ignored)
    skipped     := "in total", "in here", "facing me", "with its back to X", "than X"...
                   (reported in ParseOutcome.ignored when they carry meaning)

Modifiers attach to the target (the head noun), the reading Sr3D/ScanRefer annotators
mean almost always ("the mug on the desk closest to the window" = the mug closest to
the window among the mugs on the desk). Superlative adjectives of the target ("the
second chair from the left", "the bigger plant") apply last, over the set that the
relations left. Colour/material words stay inside the filter concept ("red chair"):
the concept matcher splits them (``programs/concepts.py``).

Never raises for any ``str``: problems come back as ``ParseOutcome(status="unparsed",
reason=...)``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from apeiria_model.language import lexicon as lx
from apeiria_model.language.room_parts import CENTRE_WORDS, is_room_part, room_part
from apeiria_model.language.typos import corrector_for
from apeiria_model.programs import ast

STATUS_OK = "ok"
STATUS_UNPARSED = "unparsed"
MAX_TOKENS = 400  # longer inputs are refused (the reasoner caps characters first)

_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|'s\b|[.,;!?]")
_SENTENCE_END = frozenset(".;!?")
_VIEW_DEPENDENT = frozenset({"left", "right", "front", "behind"})
_VIEWER_WORDS = frozenset({"me", "you", "viewer", "camera", "observer", "robot", "i", "my", "your", "us"})
_PRONOUNS = frozenset({"it", "they", "them", "this", "that", "these", "those", "he", "she"})
_SIDE_NOUNS = frozenset({"side", "corner", "end", "part", "wall", "edge", "half", "area", "hand", "section"})
_POSITION_PREPS = frozenset({"on", "to", "at", "in", "towards", "toward", "near", "by"})
_ROOM_WORDS = frozenset({"room", "space", "scene", "area", "house", "kitchen", "bedroom", "office"})
_WITH_WORDS = (("that", "has"), ("which", "has"), ("that", "have"), ("which", "have"), ("with",),
               ("having",), ("that", "holds"), ("which", "holds"), ("holding",), ("supporting",),
               ("that", "supports"), ("which", "supports"), ("containing",), ("that", "contains"),
               ("which", "contains"))
_KNOWN_NP_WORDS = (lx.COMMON_CATEGORIES | lx.COLOURS | lx.ATTRIBUTE_WORDS | frozenset(lx.SUPERLATIVE_WORDS)
                   | frozenset(lx.ORDINALS) | lx.DETERMINERS | lx.QUANTIFIERS | lx.GENERIC_HEADS | lx.FILLER)
_UNSUPPORTED_QUESTIONS = frozenset({"why", "when", "who", "whom", "whose"})


@dataclass
class ParseOutcome:
    """Result of :func:`parse_instruction`.

    ``status`` "ok": ``program`` (AST) and ``target_concept`` (the target's noun phrase,
    e.g. "red chair"; None for "anything" targets) are set; ``multi`` says the
    instruction asks for every match ("all the chairs ..."). "unparsed": ``reason`` says
    what was not understood. ``corrections`` lists typo fixes, ``ignored`` the words the
    grammar skipped (reported to users so a partial reading is never silent).
    """

    status: str
    program: ast.Node | None = None
    target_concept: str | None = None
    reason: str = ""
    multi: bool = False
    corrections: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def program_text(self) -> str | None:
        return None if self.program is None else str(self.program)

    def to_dict(self) -> dict:
        """The `apeiria parse --json` contract: program + target_concept (+ status/reason)."""
        d: dict = {"program": self.program_text, "target_concept": self.target_concept}
        if not self.ok:
            d["status"] = self.status
            d["reason"] = self.reason
        return d


class _Unparsed(Exception):
    """Internal: abandon the parse with a specific reason."""


# --- tokenisation ----------------------------------------------------------------------
def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; "bed's" -> "bed", "'s"; "isn't" -> "is", "not"."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = re.sub(r"n't\b", " not", text)
    # "what's the colour" / "it's next to": the 's of these words is "is", not a possessive
    text = re.sub(r"\b(what|where|which|who|it|that|there|here|this)'s\b", r"\1 is", text)
    text = text.replace("'re ", " are ").replace("'m ", " am ")
    text = re.sub(r"(?<=[a-z])s'(?=\s|$)", "s 's", text)  # "chairs' legs"
    text = text.replace("_", " ")
    tokens = _TOKEN.findall(text)
    if "of" in tokens:
        tokens = _join_compounds(tokens)
    return tokens


_COMPOUNDS = {tuple(c.split()): c for c in lx.COMPOUND_NOUNS}


def _join_compounds(tokens: list[str]) -> list[str]:
    """'chest of drawers' -> one token, so 'of' does not end the noun phrase."""
    out, i = [], 0
    while i < len(tokens):
        for parts, joined in _COMPOUNDS.items():
            if tuple(tokens[i:i + len(parts)]) == parts:
                out.append(joined)
                i += len(parts)
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


# --- noun phrases -------------------------------------------------------------------------
@dataclass
class _NP:
    words: list[str] = field(default_factory=list)         # attribute + head words (concept)
    head: list[str] = field(default_factory=list)          # head words only
    superlative: str | None = None
    rank: int = 1
    last: bool = False
    quantified: bool = False                               # all / every / both
    plural: bool = False
    generic: bool = False                                  # "one", "thing", "object"
    constraints: list = field(default_factory=list)        # an anchor's own clauses
    union: list = field(default_factory=list)              # "chairs and tables": more NPs

    @property
    def concept(self) -> str | None:
        return " ".join(self.words) if self.words else None

    def node(self) -> ast.SetNode:
        return _build(self, self.constraints)


def _apply_superlative(node: ast.SetNode, kind: str | None, rank: int, last: bool) -> ast.SetNode:
    if kind is None and rank == 1 and not last:
        return node
    if kind is None:  # "the second chair": count from the left, the usual reading
        kind = "leftmost"
    if last:
        kind = lx.OPPOSITE_KIND.get(kind, kind)
    return ast.Superlative(node, kind, max(1, rank))


@dataclass
class _Constraint:
    kind: str                   # rel | anchor | between | exclude_rel | exclude_np | superlative | attr
    relation: str = ""
    anchors: tuple = ()
    frame: str = ast.FRAME_VIEWER
    joined_by_and: bool = False
    negated: bool = False


class _Parser:
    def __init__(self, tokens: list[str], vocabulary: frozenset[str], resolver=None):
        self.toks = tokens
        self.resolver = resolver                # open-vocabulary relation phrases (optional)
        self.i = 0
        self.vocab = vocabulary                 # normalised scene labels (may be empty)
        self.vocab_phrases = sorted((tuple(v.split()) for v in vocabulary), key=len, reverse=True)
        self.vocab_words = frozenset(w for v in vocabulary for w in v.split())
        self.ignored: list[str] = []
        self._last_ignored = -2                 # token index of the last skipped unknown word
        self.take_command = False               # "grab / bring / take ...": "from X" means on X

    # -- token helpers -------------------------------------------------------------------
    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def at_end(self) -> bool:
        return self.i >= len(self.toks)

    def starts(self, phrase: Sequence[str], at: int | None = None) -> bool:
        j = self.i if at is None else at
        return tuple(self.toks[j:j + len(phrase)]) == tuple(phrase)

    def accept(self, *phrase: str) -> bool:
        if self.starts(phrase):
            self.i += len(phrase)
            return True
        return False

    def skip(self, words: frozenset[str] | set[str]) -> None:
        while not self.at_end() and self.peek() in words:
            self.i += 1

    def relation_at(self, j: int | None = None) -> tuple[str, str, int] | None:
        """Longest relation phrase at ``j``: (kind, relation, length)."""
        j = self.i if j is None else j
        if j >= len(self.toks):
            return None
        for phrase in lx.RELATION_INDEX.get(self.toks[j], ()):
            if tuple(self.toks[j:j + len(phrase)]) == phrase:
                kind, rel = lx.RELATION_PHRASES[phrase]
                return kind, rel, len(phrase)
        return None

    # -- noun phrase ---------------------------------------------------------------------
    def _np_boundary(self, j: int) -> bool:
        tok = self.toks[j]
        if tok in _SENTENCE_END or tok in (",", "'s"):
            return True
        if tok in lx.CLAUSE_MARKERS or tok in lx.CONJUNCTIONS or tok in lx.NEGATIONS:
            return True
        if tok in ("altogether", "overall") or (tok == "in" and j + 1 < len(self.toks) and
                                                self.toks[j + 1] in ("total", "all")):
            return True
        if tok in ("with", "from", "of", "than", "to", "at", "except", "having", "or", "there", "are", "is", "was",
                   "were", "which", "whose", "containing", "holding", "supporting", "if", "when", "as"):
            return True
        if tok in ("can", "could", "do", "does") and j + 1 < len(self.toks) and \
                self.toks[j + 1] in ("you", "i", "we"):
            return True  # "how many books can you see"
        if tok in ("do", "does") and j + 1 < len(self.toks) and \
                (self.toks[j + 1] in lx.DETERMINERS or self.toks[j + 1] in lx.ROOM_WORDS):
            return True  # "how many windows does this room have"
        if tok in lx.PARTICIPLES:
            # "the standing lamp" vs "the lamp standing next to the bed"
            return j + 1 >= len(self.toks) or self.relation_at(j + 1) is not None or \
                self.toks[j + 1] in _SENTENCE_END | {","}
        if tok in lx.COPULAS and tok not in lx.SUPERLATIVE_WORDS:
            return True
        if self._side_phrase_at(j) is not None:
            return True
        if self.resolver is not None and j > 0 and self._open_relation_at(j):
            return True
        rel = self.relation_at(j)
        if rel is not None:
            # "left"/"front"/"back" begin phrases only with their preposition ("left of");
            # inside a noun phrase they are adjectives ("the left chair")
            return True
        return False

    def parse_np(self, allow_empty: bool = False) -> _NP | None:
        """A noun phrase at the cursor (None when there is none)."""
        np_ = _NP()
        start = self.i
        words: list[str] = []
        while not self.at_end() and not self._np_boundary(self.i):
            tok = self.peek()
            if tok in ("the", "a", "an") and words:
                break  # "the table the mug is on": a second noun phrase starts
            if tok in lx.QUANTIFIERS:
                np_.quantified = True
            elif tok in lx.NUMBERS and tok not in ("one",):
                np_.quantified = True
            elif tok not in lx.DETERMINERS or tok in ("one", "ones"):
                words.append(tok)
            self.i += 1
        if not words:
            if not allow_empty:
                self.i = start
            return None if not allow_empty else np_
        if len(words) > 1 and self.peek() == "than" and words[-1] in lx.COMPARATIVES:
            # "the box bigger than the table": the comparison is reported as ignored
            self.ignored.append(words.pop())
        self._classify_np(words, np_, followed_by_of=self.peek() == "of")
        # "the bigger of the two plants", "the left one of the chairs"
        if (np_.generic or not np_.head) and self.peek() == "of":
            save = self.i
            self.i += 1
            inner = self.parse_np()
            if inner is not None and inner.head:
                np_.words = [w for w in np_.words if w not in inner.words] + inner.words
                np_.head = inner.head
                np_.generic = inner.generic
                np_.plural = np_.plural or inner.plural
                np_.quantified = np_.quantified or inner.quantified
                if inner.superlative and not np_.superlative:
                    np_.superlative, np_.rank = inner.superlative, inner.rank
            else:
                self.i = save
        return np_

    def _vocab_label_in(self, words: list[str]) -> tuple[int, int] | None:
        """Span of the scene label that heads ``words``: the longest label ending at the last
        word, else the longest label anywhere provided no object noun follows it ("desk
        chair" is a chair even in a scene with a desk; "table wobbly" is the table)."""
        if not self.vocab_phrases:
            return None
        sing = [lx.singularize(w) for w in words]
        found = None
        for phrase in self.vocab_phrases:
            n = len(phrase)
            for s in range(len(words) - n + 1):
                window = tuple(words[s:s + n - 1]) + (sing[s + n - 1],)
                if window == phrase:
                    if s + n == len(words):
                        return s, s + n
                    if found is None:
                        found = (s, s + n)
        # a label followed by more words is a modifier of a compound noun ("towel rail",
        # "desk chair", "tv cabinet"): English heads come last, so no label span then
        return None

    def _classify_np(self, words: list[str], np_: _NP, followed_by_of: bool = False) -> None:
        """Split noun-phrase words into modifiers (ordinal, superlative, colour...) and head."""
        span = self._vocab_label_in(words)
        head_start = span[0] if span else None
        attrs: list[str] = []
        head: list[str] = []
        for k, w in enumerate(words):
            in_label = span is not None and span[0] <= k < span[1]
            is_last = k == len(words) - 1
            if in_label:
                head.append(w)
                continue
            if head_start is not None and k > span[1] - 1:
                # words after a scene label ("table wobbly") are not part of the name
                if w not in lx.FILLER and w not in lx.GENERIC_HEADS:
                    self.ignored.append(w)
                continue
            if w in lx.ORDINALS and not is_last:
                np_.rank = lx.ORDINALS[w]
            elif w in lx.LAST_WORDS and not is_last:
                np_.last = True
            elif w in lx.SUPERLATIVE_WORDS and (not is_last or followed_by_of or len(words) == 1
                                                and w not in lx.COMMON_CATEGORIES):
                np_.superlative = lx.SUPERLATIVE_WORDS[w]
            elif (w in lx.COLOURS or w in lx.ATTRIBUTE_WORDS) and not (is_last and w in lx.COMMON_CATEGORIES):
                attrs.append(lx.COLOUR_NORMAL.get(w, w))
            elif w in lx.GENERIC_HEADS:
                np_.generic = True
                if w in ("objects", "things", "items", "ones"):
                    np_.plural = True
            elif w in lx.FILLER:
                continue
            else:
                head.append(w)
        if head:
            np_.plural = np_.plural or lx.is_plural(head[-1])
            head[-1] = lx.singularize(head[-1])
        np_.head = head
        np_.words = attrs + head
        if not head:
            np_.generic = True

    # -- modifiers -------------------------------------------------------------------------
    def _side_phrase_at(self, j: int) -> tuple[str, int] | None:
        """'on the left', 'at the far right side (of the room)', 'to the left': a superlative
        over the target, unless an object follows ('left of the bed' is a relation)."""
        toks = self.toks
        k = j
        if k < len(toks) and toks[k] in _POSITION_PREPS:
            k += 1
        else:
            return None
        if k < len(toks) and toks[k] == "the":
            k += 1
        while k < len(toks) and toks[k] in ("far", "very", "extreme", "most"):
            k += 1
        if k >= len(toks):
            return None
        sides = {"left": "leftmost", "right": "rightmost", "front": "frontmost", "back": "backmost",
                 "rear": "backmost", "top": "highest", "bottom": "lowest"}
        word = toks[k]
        kind = sides.get(word)
        if kind is None:
            return None
        k += 1
        # "the back left corner": two sides; left/right separates more objects than depth
        if k < len(toks) and toks[k] in sides and k + 1 < len(toks) and toks[k + 1] in _SIDE_NOUNS:
            if sides[toks[k]] in ("leftmost", "rightmost"):
                kind = sides[toks[k]]
            k += 1
        k_noun = k
        while k < len(toks) and toks[k] in _SIDE_NOUNS | {"-", "hand"}:
            k += 1
        if k == k_noun and k < len(toks) and toks[k].isalpha() and toks[k] not in lx.FILLER and \
                toks[k] not in _VIEWER_WORDS and not self._np_boundary(k):
            return None  # "on the top shelf": the side word describes the next noun
        if k < len(toks) and toks[k] == "of":
            # "of the room" keeps the superlative reading; "of the bed" is a relation
            m = k + 1
            if m < len(toks) and toks[m] == "the":
                m += 1
            if m < len(toks) and toks[m] in _ROOM_WORDS:
                return kind, m + 1 - j
            return None
        if k < len(toks) and toks[k] == "'s":
            return None
        return kind, k - j

    def _side_part_of(self, target: _NP, constraints: list[_Constraint], joined: bool, negated: bool) -> bool:
        """'<prep> the (far) left end / edge / corner / part of <object>': the relation to
        the object (on for "on", near otherwise) plus the side superlative, applied last."""
        toks, start = self.toks, self.i
        k = start
        if k >= len(toks) or toks[k] not in _POSITION_PREPS:
            return False
        k += 1
        if k < len(toks) and toks[k] == "the":
            k += 1
        while k < len(toks) and toks[k] in ("far", "very", "extreme"):
            k += 1
        kind = {"left": "leftmost", "right": "rightmost", "front": "frontmost", "back": "backmost",
                "rear": "backmost", "top": "highest", "bottom": "lowest"}.get(toks[k] if k < len(toks) else "")
        if kind is None or k + 2 >= len(toks) or toks[k + 1] not in ("end", "edge", "corner", "part", "half") \
                or toks[k + 2] != "of":
            return False
        self.i = k + 3
        anchor = self.parse_np()
        if anchor is None or not anchor.head or anchor.generic or \
                (anchor.head[-1] in lx.ROOM_WORDS and " ".join(anchor.head) not in self.vocab):
            self.i = start
            return False
        self.parse_anchor_clauses(anchor)
        rel = "on" if toks[start] == "on" else "near"
        constraints.append(_Constraint("exclude_rel" if negated else "rel", rel, (anchor,), joined_by_and=joined))
        if target.superlative is None and not negated:
            constraints.append(_Constraint("from_side", relation=kind))
        return True

    def _expect_np(self, what: str) -> _NP:
        np_ = self.parse_np()
        if np_ is None:
            nxt = self.peek()
            raise _Unparsed(f"{what} has no object after it" + (f" (found {nxt!r})" if nxt else ""))
        return np_

    def _anchor_node(self, np_: _NP, target: _NP) -> ast.SetNode:
        if np_.head and np_.head[0] in _PRONOUNS and len(np_.head) == 1:
            raise _Unparsed(f"could not tell what {np_.head[0]!r} refers to")
        return np_.node()

    def _perspective(self) -> str | None:
        """'from the bed's perspective' / 'from the perspective of the bed' -> frame."""
        save = self.i
        if not (self.accept("from") or self.accept("relative", "to") or self.accept("seen", "from")):
            return None
        self.skip(lx.DETERMINERS)
        if self.peek() in _VIEWER_WORDS:
            self.i += 1
            self.skip(frozenset({"'s", "own"}))
            self.skip(lx.PERSPECTIVE_NOUNS | {"of", "view"})
            return ast.FRAME_VIEWER
        if self.peek() in lx.PERSPECTIVE_NOUNS:  # from the perspective of the bed
            self.skip(lx.PERSPECTIVE_NOUNS | {"of", "view"})
            self.skip(lx.DETERMINERS)
            if self.peek() in _VIEWER_WORDS:
                self.i += 1
                return ast.FRAME_VIEWER
            if self.parse_np() is not None:
                return ast.FRAME_ANCHOR
            self.i = save
            return None
        np_ = self.parse_np()
        if np_ is not None and self.accept("'s") and self.peek() in lx.PERSPECTIVE_NOUNS:
            self.skip(lx.PERSPECTIVE_NOUNS | {"of", "view"})
            return ast.FRAME_ANCHOR
        self.i = save
        return None

    def parse_modifiers(self, target: _NP, constraints: list[_Constraint], stop_at_sentence: bool = True) -> None:
        joined = False
        negated = False
        while not self.at_end():
            tok = self.peek()
            if tok in _SENTENCE_END and stop_at_sentence:
                return
            if tok in (",",) or tok in _SENTENCE_END:
                self.i += 1
                continue
            if tok in ("and", "also", "but", "while"):
                self.i += 1
                joined = True
                continue
            if tok in lx.NEGATIONS and tok != "without":
                self.i += 1
                negated = True
                continue
            if self._skip_phrase():
                continue
            frame = self._perspective()
            if frame is not None:
                for c in reversed(constraints):
                    if c.kind in ("rel", "exclude_rel") and c.relation in _VIEW_DEPENDENT:
                        c.frame = frame
                        break
                continue
            if self._parse_one_modifier(target, constraints, joined, negated):
                joined = negated = False
                continue
            if self.resolver is not None and tok == "a" and self._open_relation(constraints, joined, negated):
                joined = negated = False  # "a long way from the window"
                continue
            if tok in ("the", "a", "an") and self._reduced_relative(constraints, joined, negated):
                joined = negated = False  # "the table the mug is on"
                continue
            if tok in ("the", "a", "an") and self._unknown_link(constraints, joined, negated):
                joined = negated = False  # "the lamps flanking-ish the bookcase"
                continue
            # nothing matched: skip the word (silently when it carries no meaning)
            if tok in lx.CLAUSE_MARKERS or tok in lx.COPULAS or tok in lx.FILLER or tok in lx.DETERMINERS \
                    or tok in _PRONOUNS or tok in ("'s", "or", "located", "one", "ones", "there", "can", "do",
                                                   "does", "you", "i", "we", "see", "spot", "notice", "total"):
                self.i += 1
                continue
            if tok in lx.COLOURS or tok in lx.ATTRIBUTE_WORDS:  # "the chair that is red"
                constraints.append(_Constraint("attr", relation=lx.COLOUR_NORMAL.get(tok, tok)))
                self.i += 1
                continue
            if tok in lx.COMPARATIVES and self.peek(1) == "than":
                self.ignored.append(tok)  # "taller than the chair": compared with another object
                self.i += 1
                continue
            if tok in lx.SUPERLATIVE_WORDS and tok not in ("left", "right", "front", "back"):
                constraints.append(_Constraint("superlative", relation=lx.SUPERLATIVE_WORDS[tok]))
                self.i += 1
                continue
            if tok in lx.ORDINALS:
                constraints.append(_Constraint("ordinal", relation=str(lx.ORDINALS[tok])))
                self.i += 1
                continue
            if self.resolver is not None and self._open_relation(constraints, joined, negated):
                joined = negated = False
                continue
            self.ignored.append(tok)
            self._last_ignored = self.i
            self.i += 1

    def _skip_phrase(self) -> bool:
        """Phrases that add nothing the DSL can say: consumed, reported when they carry meaning."""
        toks, i = self.toks, self.i
        # "in total", "in all", "altogether": counting words
        if self.accept("in", "total") or self.accept("in", "all") or self.accept("altogether") or \
                self.accept("overall"):
            return True
        # "in here", "over there", "around here": the whole scene
        if toks[i] in ("in", "over", "around", "out", "right", "up", "down") and \
                i + 1 < len(toks) and toks[i + 1] in ("here", "there"):
            self.i += 2
            return True
        # "how many windows does this room have"
        if toks[i] in ("does", "do", "did") and i + 1 < len(toks):
            j = i + 1
            while j < len(toks) and toks[j] in lx.DETERMINERS:
                j += 1
            if j < len(toks) and (toks[j] in lx.ROOM_WORDS or toks[j] in ("you", "we", "i")):
                j += 1
                if j < len(toks) and toks[j] in ("have", "has", "contain", "hold", "see", "count", "notice", "spot"):
                    self.i = j + 1
                    return True
        # "switched on", "turned off": a state the scene does not record
        if toks[i] in ("switched", "turned") and i + 1 < len(toks) and toks[i + 1] in ("on", "off") and \
                (i + 2 >= len(toks) or toks[i + 2] in _SENTENCE_END | {",", "and"}):
            self.ignored.append(f"{toks[i]} {toks[i + 1]}")
            self.i += 2
            return True
        # "pushed in" / "tucked in" with nothing after: the chair is at its table, no anchor named
        if toks[i] in ("pushed", "tucked") and i + 1 < len(toks) and toks[i + 1] == "in" and \
                (i + 2 >= len(toks) or toks[i + 2] in _SENTENCE_END | {",", "and"}):
            self.ignored.append(f"{toks[i]} in")
            self.i += 2
            return True
        # "in the middle of the room", "at the centre": a location the DSL cannot name
        if toks[i] in ("in", "at", "near", "towards", "toward", "by") and i + 2 < len(toks) and \
                toks[i + 1] == "the" and toks[i + 2] in CENTRE_WORDS:
            j = i + 3
            if j >= len(toks) or toks[j] != "of":
                self.ignored.append(" ".join(toks[i:j]))
                self.i = j
                return True
            k = j + 1
            while k < len(toks) and toks[k] in lx.DETERMINERS:
                k += 1
            if k < len(toks) and toks[k] in lx.ROOM_WORDS and toks[k] not in self.vocab:
                self.ignored.append(" ".join(toks[i:k + 1]))
                self.i = k + 1
                return True
        # "with its back to the tv", "facing me", "facing towards me": no DSL operation
        # speaks of the target's own orientation against the viewer or an unnamed side
        for lead in (("with", "its", "back", "to"), ("with", "their", "backs", "to"), ("with", "its", "back"),
                     ("with", "the", "back", "to"), ("its", "back", "to"), ("back", "to")):
            if self.starts(lead) and (lead[-1] == "to" or self.peek(len(lead)) in ("against", "towards")):
                self.i += len(lead) + (0 if lead[-1] == "to" else 1)
                anchor = self.parse_np()
                self.ignored.append(" ".join(toks[i:self.i]))
                if anchor is None:
                    self.i = min(self.i, len(toks))
                return True
        if self.starts(("each", "other")) or self.starts(("one", "another")):
            self.ignored.append(" ".join(toks[i:i + 2]))  # "facing each other": no pairwise operation
            self.i += 2
            return True
        r = self.relation_at()
        if r is not None and r[1] == "facing":
            j = i + r[2]
            while j < len(toks) and toks[j] in ("towards", "toward", "to", "the", "at"):
                j += 1
            if j < len(toks) and toks[j] in _VIEWER_WORDS:
                self.ignored.append(" ".join(toks[i:j + 1]))
                self.i = j + 1
                return True
            if tuple(toks[j:j + 2]) in (("each", "other"), ("one", "another")):
                self.ignored.append(" ".join(toks[i:j + 2]))  # no pairwise operation in the DSL
                self.i = j + 2
                return True
        # "than the table" after a comparative: no comparison operation in the DSL
        if toks[i] == "than":
            self.i += 1
            self.skip(lx.DETERMINERS)
            if self.peek() in _VIEWER_WORDS:
                self.i += 1
            else:
                self.parse_np()
            self.ignored.append(" ".join(toks[i:self.i]))
            return True
        return False

    def _reduced_relative(self, constraints: list[_Constraint], joined: bool, negated: bool) -> bool:
        """"the table the mug is on": another object, a copula and a stranded preposition --
        the target is that preposition's object (inverse relation)."""
        start = self.i
        self.i += 1
        other = self.parse_np()
        if other is None or not other.head or other.generic:
            self.i = start
            return False
        if self.peek() not in lx.CORE_COPULAS and self.peek() not in lx.PARTICIPLES:
            self.i = start
            return False
        self.skip(lx.CORE_COPULAS | lx.PARTICIPLES)
        r = self.relation_at()
        if r is None or r[0] != "rel":
            self.i = start
            return False
        after = self.i + r[2]
        if after < len(self.toks) and self.toks[after] not in _SENTENCE_END | {",", "and"}:
            self.i = start
            return False
        self.i = after
        rel = lx.INVERSE_RELATION.get(r[1], "near")
        constraints.append(_Constraint("exclude_rel" if negated else "rel", rel, (other,), joined_by_and=joined))
        return True

    def _unknown_link(self, constraints: list[_Constraint], joined: bool, negated: bool) -> bool:
        """An object named right after words the grammar skipped ("the lamp yonder the bed"):
        an unknown preposition linking two objects is read as proximity (``near``), the
        weakest spatial claim, instead of dropping the object or merging its adjectives
        into the target."""
        if self._last_ignored != self.i - 1:
            return False
        start = self.i
        self.i += 1
        anchor = self.parse_np()
        if anchor is None or not anchor.head or anchor.generic or anchor.head[0] in _PRONOUNS:
            self.i = start
            return False
        if is_room_part(anchor.head) and " ".join(anchor.head) not in self.vocab:
            self.ignored.append(" ".join(self.toks[start:self.i]))
            return True
        self.ignored.append("(unknown preposition read as near)")
        self.parse_anchor_clauses(anchor)
        constraints.append(_Constraint("exclude_rel" if negated else "rel", "near", (anchor,), joined_by_and=joined))
        return True

    def _room_part_constraint(self, rel: str, anchor: _NP, start: int, constraints: list[_Constraint],
                              negated: bool) -> bool:
        """Walls / floor / corners are no objects: see ``room_parts.py``."""
        if not is_room_part(anchor.head) or " ".join(anchor.head) in self.vocab:
            return False
        words = anchor.words if anchor.words else anchor.head
        rp = room_part(rel, words, anchor.superlative)
        if rp is None:
            return False
        said = " ".join(self.toks[start:self.i])
        if rp.action == "superlative" and rp.kind:
            constraints.append(_Constraint("side", relation=rp.kind))
        elif rp.action == "floor":
            constraints.append(_Constraint("floor", negated=negated))
        else:
            self.ignored.append(said)
        return True

    def _parse_one_modifier(self, target: _NP, constraints: list[_Constraint], joined: bool,
                            negated: bool) -> bool:
        start = self.i
        if self.accept("in", "total") or self.accept("in", "all"):
            return True  # counting words, not a place (an anchor's clause loop gives them back)
        if self.peek() in lx.PARTICIPLES and (self.peek(1) in _POSITION_PREPS or
                                               self.relation_at(self.i + 1) is not None):
            # "placed on the tv's left": the participle is not part of the relation phrase
            self.i += 1
            if self._parse_one_modifier(target, constraints, joined, negated):
                return True
            self.i = start
        # "with the lamp on it": the target is what the lamp is on
        for phrase in _WITH_WORDS:
            if self.starts(phrase):
                self.i += len(phrase)
                inner = self.parse_np()
                if inner is None:
                    self.i = start
                    break
                rel = "near"
                r = self.relation_at()
                if r is not None and r[0] == "rel":
                    after = self.i + r[2]
                    if after < len(self.toks) and self.toks[after] in ("it", "them", "top", "its"):
                        self.i = after + 1
                        rel = lx.INVERSE_RELATION.get(r[1], "near")
                    elif after >= len(self.toks) or self.toks[after] in _SENTENCE_END | {","}:
                        self.i = after  # "the desk with a lamp on"
                        rel = lx.INVERSE_RELATION.get(r[1], "near")
                elif self.accept("on", "top") or self.accept("on", "it"):
                    rel = "below"
                if phrase[-1] in ("holds", "holding", "supporting", "supports") and rel == "near":
                    rel = "below"
                if phrase[-1] in ("containing", "contains") and rel == "near":
                    rel = "near"
                constraints.append(_Constraint("exclude_rel" if (negated or phrase == ("without",)) else "rel",
                                               rel, (inner,), joined_by_and=joined))
                return True
        if self.starts(("without",)):
            self.i += 1
            inner = self.parse_np()
            if inner is None:
                self.i = start
                return False
            r = self.relation_at()
            rel = "near"
            if r is not None and r[0] == "rel":
                after = self.i + r[2]
                if after < len(self.toks) and self.toks[after] in ("it", "them", "top"):
                    self.i = after + 1
                    rel = lx.INVERSE_RELATION.get(r[1], "near")
            constraints.append(_Constraint("exclude_rel", rel, (inner,), joined_by_and=joined))
            return True
        # exclusion by noun phrase: "other than the red one", "except the one near the door"
        for phrase in lx.EXCLUDERS:
            if self.starts(phrase):
                self.i += len(phrase)
                inner = self.parse_np()
                if inner is None:
                    r = self.relation_at()
                    if r is not None:  # "except near the window" == not near the window
                        return self._parse_one_modifier(target, constraints, joined, True) or True
                    self.i = start
                    return False
                constraints.append(_Constraint("exclude_np", anchors=(inner,), joined_by_and=joined))
                return True
        # ordinal + "from the left": "second from the left", "third from the window"
        if self.peek() in lx.ORDINALS or self.peek() in lx.LAST_WORDS:
            j = self.i + 1
            if j < len(self.toks) and self.toks[j] == "from":
                word = self.peek()
                self.i = j
                kind = self._from_side(target)
                if kind is not None:
                    if word in lx.LAST_WORDS:
                        constraints.append(_Constraint("superlative", relation=lx.OPPOSITE_KIND.get(kind, kind)))
                    else:
                        constraints.append(_Constraint("superlative", relation=kind, anchors=(lx.ORDINALS[word],)))
                    return True
                self.i = start
        if self.peek() == "from":
            kind = self._from_side(target)
            if kind is not None:
                constraints.append(_Constraint("from_side", relation=kind))
                return True
            self.i = start
            if self.take_command:  # "grab the cup from the table": it is on the table now
                self.i += 1
                anchor = self.parse_np()
                if anchor is not None and anchor.head and not anchor.generic:
                    if " ".join(anchor.head) in lx.ROOM_WORDS and " ".join(anchor.head) not in self.vocab:
                        return True  # "from the kitchen": the whole scene
                    if self._room_part_constraint("on", anchor, start, constraints, negated):
                        return True
                    self.parse_anchor_clauses(anchor)
                    constraints.append(_Constraint("exclude_rel" if negated else "rel", "on", (anchor,),
                                                   joined_by_and=joined))
                    return True
                self.i = start
        # allocentric possessive: "on the bed's left (side)", "to the left of the bed's"
        if self.peek() in _POSITION_PREPS:
            save = self.i
            self.i += 1
            anchor = self.parse_np()
            if anchor is not None and self.accept("'s"):
                side = self.peek()
                if side in lx.SIDE_WORDS:
                    self.i += 1
                    self.skip(_SIDE_NOUNS | {"hand"})
                    constraints.append(_Constraint("exclude_rel" if negated else "rel", lx.SIDE_WORDS[side],
                                                   (anchor,), ast.FRAME_ANCHOR, joined))
                    return True
            self.i = save
        # "on the left end of the sofa": on the sofa, the leftmost of those
        end = self._side_part_of(target, constraints, joined, negated)
        if end:
            return True
        # "on the left", "in the far right corner of the room"
        side = self._side_phrase_at(self.i)
        if side is not None:
            self.i += side[1]
            constraints.append(_Constraint("side", relation=side[0]))
            return True
        r = self.relation_at()
        if r is None:
            return False
        kind, rel, n = r
        self.i += n
        # "closest to me / the viewer": a superlative over the observer's distance
        if kind == "anchor":
            self.skip(frozenset({"to", "from", "the"}))
            if self.peek() in _VIEWER_WORDS:
                self.i += 1
                constraints.append(_Constraint("superlative", relation=rel))
                return True
            anchor = self.parse_np()
            if anchor is None:  # "the chair nearest" with nothing after: to the viewer
                constraints.append(_Constraint("superlative", relation=rel))
                return True
            if is_room_part(anchor.head) and " ".join(anchor.head) not in self.vocab:
                # "closest to the back wall" = backmost; "farthest from it" = the opposite side
                rp = room_part("near", anchor.words or anchor.head, anchor.superlative)
                if rp is not None and rp.action == "superlative" and rp.kind:
                    kind_ = rp.kind if rel == "closest" else lx.OPPOSITE_KIND.get(rp.kind, rp.kind)
                    constraints.append(_Constraint("superlative", relation=kind_))
                elif anchor.head[-1] in ("floor", "ground", "ceiling"):
                    low = "lowest" if anchor.head[-1] != "ceiling" else "highest"
                    constraints.append(_Constraint(
                        "superlative", relation=low if rel == "closest" else lx.OPPOSITE_KIND[low]))
                else:
                    self.ignored.append(" ".join(self.toks[start:self.i]))
                return True
            self.parse_anchor_clauses(anchor)
            constraints.append(_Constraint("anchor", rel, (anchor,), joined_by_and=joined))
            return True
        if kind == "between":
            a = self._expect_np(f"'{' '.join(self.toks[start:start + n])}'")
            # "between the window farthest from me and a speaker": must end before "and"
            self.parse_anchor_clauses(a, viewer_superlative=True)
            if a.plural and not self.starts(("and",)):
                constraints.append(_Constraint("between", rel, (a, a), joined_by_and=joined, negated=negated))
                return True
            if not self.accept("and"):
                raise _Unparsed("'between' needs two objects ('between the bed and the desk')")
            b = self._expect_np("'between ... and'")
            self.parse_anchor_clauses(b)
            constraints.append(_Constraint("between", rel, (a, b), joined_by_and=joined, negated=negated))
            return True
        if self.peek() in _VIEWER_WORDS and rel in ("near", "next_to", "far"):
            self.i += 1  # "near me": relative to the observer
            constraints.append(_Constraint("superlative", relation="closest" if rel != "far" else "farthest"))
            return True
        anchor = self.parse_np()
        if anchor is None:
            if self.peek() in _PRONOUNS or self.peek() in _VIEWER_WORDS:
                raise _Unparsed(f"could not tell what {self.peek()!r} refers to after '{' '.join(self.toks[start:start + n])}'")
            raise _Unparsed(f"relation '{' '.join(self.toks[start:start + n])}' has no object after it")
        if len(anchor.head) == 1 and anchor.head[0] in _PRONOUNS and not anchor.words[:-1]:
            raise _Unparsed(f"could not tell what {anchor.head[0]!r} refers to after "
                            f"'{' '.join(self.toks[start:start + n])}'")
        if anchor.generic and not anchor.words and anchor.head == [] and anchor.superlative is None:
            raise _Unparsed(f"relation '{' '.join(self.toks[start:start + n])}' names no object")
        if rel in ("inside", "near") and anchor.head[-1:] and anchor.head[-1] in lx.ROOM_WORDS and \
                " ".join(anchor.head) not in self.vocab and not anchor.superlative:
            return True  # "every lamp in the room": the room is the whole scene
        if self._room_part_constraint(rel, anchor, start, constraints, negated):
            return True  # its own clauses ("in the corner by the door") describe the target
        # "what is on the nightstand closest to me": with an "anything" target, a viewer
        # superlative can only pick the anchor
        self.parse_anchor_clauses(anchor, viewer_superlative=not target.words and not target.head)
        frame = ast.FRAME_ANCHOR if rel in lx.INTRINSIC_BY_DEFAULT else ast.FRAME_VIEWER
        constraints.append(_Constraint("exclude_rel" if negated else "rel", rel, (anchor,), frame, joined))
        end_kind = lx.END_SUPERLATIVE.get(tuple(self.toks[start:start + n]))
        if end_kind is not None and not negated and target.superlative is None:
            # like the target's own superlative adjectives: applied last
            constraints.append(_Constraint("from_side", relation=end_kind))
        return True

    def parse_anchor_clauses(self, anchor: _NP, viewer_superlative: bool = False) -> None:
        """Relation clauses right after an anchor describe that anchor ("the chair near the
        table left of the bed": the table is left of the bed), the late-closure reading;
        "and ..." clauses, "closest to ..." and side phrases go back to the target."""
        while not self.at_end():
            save = self.i
            n_ignored = len(self.ignored)
            if self.peek() in lx.CLAUSE_MARKERS:
                self.i += 1
                self.skip(lx.CORE_COPULAS)
            self.skip(lx.PARTICIPLES)
            if self._side_phrase_at(self.i) is not None:
                self.i = save
                return
            r = self.relation_at()
            if r is not None and r[0] == "anchor" and viewer_superlative:
                # "the vase closest to me": a viewer superlative belongs to this noun phrase
                j = self.i + r[2]
                while j < len(self.toks) and self.toks[j] in ("to", "from", "the"):
                    j += 1
                if j < len(self.toks) and self.toks[j] in _VIEWER_WORDS:
                    anchor.constraints.append(_Constraint("superlative", relation=r[1]))
                    self.i = j + 1
                    continue
            if r is None or r[0] not in ("rel", "between"):
                self.i = save
                return
            before = len(anchor.constraints)
            if not self._parse_one_modifier(anchor, anchor.constraints, False, False) or \
                    len(anchor.constraints) == before:
                self.i = save
                del self.ignored[n_ignored:]  # the target's clauses will report them
                return

    def _open_relation_at(self, j: int) -> bool:
        """Cheap check first (an unknown word with an article a few words on), then the
        resolver: does an open-vocabulary relation phrase start at ``j``?"""
        tok = self.toks[j]
        if tok != "a" and (tok in _KNOWN_NP_WORDS or tok in self.vocab_words or not tok.isalpha()):
            return False  # ("a long way from", "a short distance from" start with "a")
        for k in range(1, 5):
            if j + k >= len(self.toks):
                return False
            nxt = self.toks[j + k]
            if nxt in _SENTENCE_END or nxt == ",":
                return False
            if nxt in ("the", "a", "an", "this", "that"):
                try:
                    return self.resolver(" ".join(self.toks[j:j + k])) is not None
                except Exception:
                    return False
        return False

    def _open_relation(self, constraints: list[_Constraint], joined: bool, negated: bool) -> bool:
        """Unknown words followed by an object ("adjoining the bed"): ask the resolver
        whether they say a relation (longest span first, up to 4 words)."""
        start = self.i
        for k in range(min(4, len(self.toks) - start - 1), 0, -1):
            span = self.toks[start:start + k]
            if any(w in _SENTENCE_END or w == "," or w in lx.CONJUNCTIONS for w in span):
                continue
            self.i = start + k
            anchor = self.parse_np()
            if anchor is None or not anchor.head or anchor.generic:
                continue
            try:
                found = self.resolver(" ".join(span))
            except Exception:  # a resolver problem never breaks parsing
                found = None
            if found is None:
                continue
            kind, rel = found
            self.parse_anchor_clauses(anchor)
            if kind == "anchor":
                constraints.append(_Constraint("anchor", rel, (anchor,), joined_by_and=joined))
            else:
                constraints.append(_Constraint("exclude_rel" if negated else "rel", rel, (anchor,),
                                               joined_by_and=joined))
            return True
        self.i = start
        return False

    def _from_side(self, target: _NP) -> str | None:
        """After 'from': 'the left' / 'the right' / 'the window' -> superlative kind."""
        save = self.i
        self.i += 1
        self.skip(frozenset({"the", "your", "my"}))
        word = self.peek()
        if word in lx.FROM_SIDE and lx.FROM_SIDE[word] is not None:
            self.i += 1
            self.skip(_SIDE_NOUNS)
            return lx.FROM_SIDE[word]
        if word in _VIEWER_WORDS:
            self.i += 1
            return "closest"
        self.i = save
        return None


# --- program assembly ---------------------------------------------------------------------
def _target_words(np_: _NP, constraints: list[_Constraint]) -> list[str]:
    """The target's concept words: NP words plus predicate attributes ("that is red")."""
    extra = [c.relation for c in constraints if c.kind == "attr"]
    return [a for a in dict.fromkeys(extra) if a not in np_.words] + np_.words


def _target_base(words: list[str]) -> ast.SetNode:
    return ast.Scene() if not words else ast.Filter(ast.Scene(), " ".join(words))


def _apply(c: _Constraint, node: ast.SetNode, target: _NP, base: ast.SetNode) -> ast.SetNode:
    rel = lx.canonical_relation(c.relation) if c.relation else c.relation
    if c.kind == "rel":
        return ast.Relate(node, c.anchors[0].node(), rel, c.frame)
    if c.kind == "exclude_rel":
        return ast.Exclude(node, ast.Relate(node, c.anchors[0].node(), rel, c.frame))
    if c.kind == "anchor":
        return ast.RelateAnchor(node, c.anchors[0].node(), rel)
    if c.kind == "between":
        inner = ast.RelateMulti(node, c.anchors[0].node(), c.anchors[1].node(), rel)
        return ast.Exclude(node, inner) if c.negated else inner
    if c.kind == "exclude_np":
        other = c.anchors[0]
        if other.generic or not other.head:
            # "other than the red one": the excluded thing has the target's category
            merged = _NP(words=[w for w in other.words if w not in target.head] + target.head,
                         head=target.head, superlative=other.superlative, rank=other.rank)
            return ast.Exclude(node, merged.node())
        return ast.Exclude(node, other.node())
    if c.kind == "floor":  # "on the floor": standing on no object
        on_something = ast.Relate(node, ast.Scene(), "on")
        return on_something if c.negated else ast.Exclude(node, on_something)
    if c.kind in ("superlative", "side"):
        rank = c.anchors[0] if c.anchors else 1
        return ast.Superlative(node, c.relation, rank)
    raise AssertionError(c.kind)


def _build(target: _NP, constraints: list[_Constraint]) -> ast.SetNode:
    base = _target_base(_target_words(target, constraints))
    for other in target.union:  # "all white cabinets and green plants"
        base = ast.Union(base, other.node())
    # an ordinal / "from the left" after the head fills in the target's superlative
    sup_kind, rank, last = target.superlative, target.rank, target.last
    for c in constraints:
        if c.kind == "from_side":
            sup_kind = c.relation
        elif c.kind == "ordinal":
            rank = int(c.relation)
    # "the second chair on the left" / "the last chair on the right": the side phrase
    # says which way the ordinal counts
    if sup_kind is None and (rank != 1 or last):
        for c in constraints:
            if c.kind == "side":
                sup_kind, last = c.relation, False
                c.kind = "from_side"
                break
    node = base
    group_start = base
    prev_kind = None
    for c in constraints:
        if c.kind in ("attr", "from_side", "ordinal"):
            continue
        if c.joined_by_and and prev_kind in ("rel", "exclude_rel", "between") and \
                c.kind in ("rel", "exclude_rel", "between"):
            # "near the desk and close to the window": both hold, each checked on the same set
            node = ast.Intersection(node, _apply(c, group_start, target, base))
        else:
            group_start = node
            node = _apply(c, node, target, base)
        prev_kind = c.kind
    return _apply_superlative(node, sup_kind, rank, last)


# --- sentences and questions ----------------------------------------------------------------
def _strip_commands(p: _Parser) -> None:
    changed = True
    while changed and not p.at_end():
        changed = False
        for phrase in lx.COMMAND_PREFIXES:
            if p.starts(phrase):
                if any(w in lx.TAKE_VERBS for w in phrase):
                    p.take_command = True
                p.i += len(phrase)
                changed = True
                break
        if p.peek() in ("please", "kindly", "ok", "okay", "hey", "robot", "now", "so", "then", ","):
            p.i += 1
            changed = True


def _question(p: _Parser) -> tuple[str, str | None]:
    """('count', None) | ('query', attribute) | ('ground', None); consumes the question words."""
    for lead in (("tell", "me"), ("can", "you", "tell", "me"), ("please", "tell", "me"), ("do", "you", "know")):
        if p.starts(lead) and p.peek(len(lead)) in ("how", "what", "which", "the"):
            p.i += len(lead)  # "tell me how many chairs there are"
            break
    if p.accept("how", "many") or p.accept("how", "much") or p.accept("count") or \
            p.accept("number", "of") or p.accept("what", "is", "the", "number", "of") or \
            p.accept("the", "number", "of") or p.accept("what", "is", "the", "total", "number", "of") or \
            p.accept("the", "total", "number", "of") or p.accept("total", "number", "of"):
        p.skip(frozenset({"all", "the", "of"}))
        return "count", None
    # "the colour of the sofa" (after "tell me")
    if p.peek() == "the" and p.peek(1) in lx.QUERY_ATTRIBUTES and p.peek(2) == "of":
        attr = lx.QUERY_ATTRIBUTES[p.peek(1)]
        p.i += 3
        return "query", attr
    if p.accept("how", "big") or p.accept("how", "large") or p.accept("how", "tall") or p.accept("how", "small"):
        p.skip(lx.COPULAS)
        return "query", "size"
    if p.accept("where", "exactly") or p.accept("where"):
        p.skip(lx.COPULAS)
        return "query_position", None
    if p.peek() in ("what", "which"):
        j = p.i + 1
        if j < len(p.toks) and p.toks[j] in lx.QUERY_ATTRIBUTES:  # what colour is the sofa
            attr = lx.QUERY_ATTRIBUTES[p.toks[j]]
            p.i = j + 1
            if p.accept("of"):  # "what kind of object is ..."
                p.skip(lx.GENERIC_HEADS)
            p.skip(lx.COPULAS)
            p.skip(frozenset({"does", "do", "has", "have"}))
            return "query", attr
        for lead in (("what", "is", "the"), ("what", "are", "the"), ("which", "is", "the")):
            if p.starts(lead) and p.i + len(lead) < len(p.toks) and \
                    p.toks[p.i + len(lead)] in lx.QUERY_ATTRIBUTES and \
                    p.i + len(lead) + 1 < len(p.toks) and p.toks[p.i + len(lead) + 1] == "of":
                attr = lx.QUERY_ATTRIBUTES[p.toks[p.i + len(lead)]]
                p.i += len(lead) + 2
                return "query", attr
        if p.accept("what", "is") or p.accept("what", "are") or p.accept("which", "is") or \
                p.accept("which", "are") or p.accept("what") or p.accept("which"):
            return "ground", None
    if p.accept("is", "there") or p.accept("are", "there"):
        return "ground", None
    if p.peek() in _UNSUPPORTED_QUESTIONS:
        raise _Unparsed(f"questions starting with {p.peek()!r} are not supported; "
                        "ask for an object, a count or an attribute")
    return "ground", None


def _anchor_named(subj: _NP, target: _NP, constraints: list[_Constraint]) -> _NP | None:
    """The anchor noun phrase a later sentence's subject names again (same head, not the
    target's head), so that sentence's clauses describe the anchor."""
    if not subj.head or subj.generic or subj.head == target.head:
        return None
    for c in constraints:
        for a in c.anchors:
            if isinstance(a, _NP) and a.head == subj.head:
                return a
    return None


def _follow_up_sentence(p: _Parser, target: _NP, constraints: list[_Constraint]) -> None:
    """'It is placed next to the bed.' / 'The chair is brown.' / 'A lamp is on it.'"""
    _strip_commands(p)
    if p.peek() in _PRONOUNS:
        p.i += 1
        p.skip(lx.COPULAS)
        p.parse_modifiers(target, constraints)
        return
    save = p.i
    subj = p.parse_np()
    anchor = _anchor_named(subj, target, constraints) if subj is not None else None
    if anchor is not None and (p.peek() in lx.CORE_COPULAS or p.relation_at() is not None):
        # "the lamp on the desk. the desk is by the door.": the sentence describes the desk
        p.skip(lx.COPULAS)
        p.parse_modifiers(anchor, anchor.constraints)
        return
    if subj is not None and (subj.generic or subj.head == target.head):
        if p.peek() in lx.COPULAS or p.relation_at() is not None or p.peek() in lx.CLAUSE_MARKERS:
            p.skip(lx.COPULAS)
            p.parse_modifiers(target, constraints)
            return
    if subj is not None and (p.peek() in lx.COPULAS or p.relation_at() is not None):
        # another object related to "it": "a lamp is on it" -> target under the lamp
        p.skip(lx.COPULAS)
        r = p.relation_at()
        if r is not None and r[0] == "rel":
            after = p.i + r[2]
            if after < len(p.toks) and p.toks[after] in ("it", "them", "this"):
                p.i = after + 1
                constraints.append(_Constraint("rel", lx.INVERSE_RELATION.get(r[1], "near"), (subj,)))
                p.parse_modifiers(target, constraints)
                return
    p.i = save
    p.parse_modifiers(target, constraints)


def _stranded_question(p: _Parser, target: _NP) -> tuple[_NP, list[_Constraint]] | None:
    """"what is the bowl on" / "what's the lamp next to": a question whose noun phrase is
    the anchor of a stranded preposition; the answer is the object in the inverse relation."""
    if not p.toks or p.toks[0] not in ("what", "which") or not target.head or target.generic:
        return None
    r = p.relation_at()
    if r is None or r[0] != "rel":
        return None
    after = p.i + r[2]
    if after < len(p.toks) and p.toks[after] not in _SENTENCE_END | {","}:
        return None
    p.i = after
    anchor = _NP(words=target.words, head=target.head, superlative=target.superlative, rank=target.rank,
                 last=target.last, plural=target.plural)
    return _NP(generic=True), [_Constraint("rel", lx.INVERSE_RELATION.get(r[1], "near"), (anchor,))]


def _normalised_vocabulary(vocabulary: Iterable[str] | None) -> frozenset[str]:
    if not vocabulary:
        return frozenset()
    out = set()
    for v in vocabulary:
        if isinstance(v, str):
            n = lx.normalise_label(v)
            if n:
                out.add(n)
    return frozenset(out)


def parse_instruction(text: str, vocabulary: Iterable[str] | None = None,
                      relation_resolver=None) -> ParseOutcome:
    """Parse an instruction into a program.

    ``vocabulary``: the scene's labels (any case/plural/underscores); when given, typo
    correction knows the scene's nouns and multi-word labels ("coffee table") are kept
    together as the head. ``relation_resolver``: optional ``phrase -> (kind, relation) |
    None`` for words the lexicon does not know (``open_relations.RelationResolver``).
    Never raises.
    """
    if not isinstance(text, str):
        return ParseOutcome(STATUS_UNPARSED, reason=f"instruction must be a string, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return ParseOutcome(STATUS_UNPARSED, reason="instruction is not valid UTF-8 (lone surrogate characters)")
    raw = tokenize(text)
    words = [t for t in raw if t not in _SENTENCE_END and t != ","]
    if not words:
        return ParseOutcome(STATUS_UNPARSED, reason="empty instruction: no words found")
    if len(raw) > MAX_TOKENS:
        return ParseOutcome(STATUS_UNPARSED, reason=f"instruction too long ({len(raw)} words, at most {MAX_TOKENS})")
    vocab = _normalised_vocabulary(vocabulary)
    corrector = corrector_for(tuple(sorted(vocab)))
    tokens, corrections = corrector.correct(raw)
    out = ParseOutcome(STATUS_UNPARSED, corrections=corrections, tokens=tokens)
    try:
        p = _Parser(tokens, vocab, relation_resolver)
        program, target, multi = _parse_tokens(p)
    except _Unparsed as e:
        out.reason = str(e)
        return out
    except RecursionError:
        out.reason = "instruction nested too deeply"
        return out
    out.status = STATUS_OK
    out.program = program
    out.target_concept = target.concept if target.words else None
    out.multi = multi
    out.ignored = p.ignored
    return out


def _parse_tokens(p: _Parser) -> tuple[ast.Node, _NP, bool]:
    # skip leading punctuation / empty sentences
    while not p.at_end() and p.peek() in _SENTENCE_END | {","}:
        p.i += 1
    _strip_commands(p)
    mode, attr = _question(p)
    _strip_commands(p)
    # "of the two chairs, the one on the left" / "among the mugs, the red one"
    group = None
    if p.accept("of") or p.accept("among") or p.accept("out", "of") or p.accept("from"):
        group = p.parse_np()
        p.skip(frozenset({",", "find", "pick", "choose", "select", "take", "get"}))
    p.skip(lx.DETERMINERS - {"one"})
    target = p.parse_np(allow_empty=True) or _NP(generic=True)
    if group is not None and group.head and (target.generic or not target.head):
        target.words = [w for w in target.words if w not in group.words] + group.words
        target.head, target.generic = group.head, False
        target.plural = target.plural or group.plural
    if not target.words and target.superlative is None and (p.at_end() or p.peek() in _SENTENCE_END):
        raise _Unparsed("no object mentioned" + (f" (ignored: {' '.join(p.toks)})" if p.toks else ""))
    constraints: list[_Constraint] = []
    # "the white towels and metal washing machines": a union of targets; clauses after
    # the last noun phrase describe that one (it is parsed with its own clauses)
    while p.peek() == "and" and p.i + 1 < len(p.toks) and p.relation_at(p.i + 1) is None and \
            p.toks[p.i + 1] not in lx.NEGATIONS | lx.CLAUSE_MARKERS | _PRONOUNS | {"also", "close", "near"}:
        save = p.i
        p.i += 1
        p.skip(lx.DETERMINERS - {"one"})
        other = p.parse_np()
        if other is None or not other.head or other.generic:
            p.i = save
            break
        p.parse_modifiers(other, other.constraints)
        target.union.append(other)
        target.plural = True
    stranded = _stranded_question(p, target)
    if stranded is not None:  # "what is the bowl on": the thing below the bowl
        target, constraints = stranded
    p.parse_modifiers(target, constraints)
    while not p.at_end():
        if p.peek() in _SENTENCE_END:
            p.i += 1
            continue
        _follow_up_sentence(p, target, constraints)
    if not target.words and not constraints and target.superlative is None:
        raise _Unparsed("no object mentioned")
    node = _build(target, constraints)
    target.words = _target_words(target, constraints)
    multi = (target.quantified or target.plural) and not isinstance(node, (ast.Superlative, ast.RelateAnchor))
    if mode == "count":
        return ast.Count(node), target, True
    if mode == "query":
        return ast.Query(node, attr), target, False
    if mode == "query_position":  # "where is the mug": grounding answers where
        return node, target, multi
    return node, target, multi
