"""Instruction wording for generated programs, split into two disjoint phrasings.

``train`` wording is used in every training record; ``heldout`` wording (carrier
sentences, relation / superlative phrases, clause connectors, category synonyms) only
ever appears in ``heldout`` records of val/test, so a model's score on them measures
generalisation to unseen phrasing. ``heldout_markers()`` lists every held-out phrase;
tests check that none of them occurs (as whole words) in any train record.

Canonical relation and superlative names are those of
:mod:`apeiria_model.programs.relations`; every TRAIN relation phrase is one of its
aliases (so a parser built on them can read all train data), held-out phrases may or
may not be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from apeiria_model.data.categories import CATEGORIES, pluralize
from apeiria_model.data.schema import PHRASING_HELDOUT, PHRASING_TRAIN

PHRASINGS = (PHRASING_TRAIN, PHRASING_HELDOUT)

# --- relation phrases (before the anchor noun phrase) ---------------------------------
RELATION_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "left": {"train": ("to the left of", "left of", "on the left side of"),
             "heldout": ("on the left hand side of",)},
    "right": {"train": ("to the right of", "right of", "on the right side of"),
              "heldout": ("on the right hand side of",)},
    "front": {"train": ("in front of",), "heldout": ("ahead of",)},
    "behind": {"train": ("behind",), "heldout": ("in back of", "at the rear of")},
    "above": {"train": ("above", "over"), "heldout": ("up above",)},
    "below": {"train": ("below",), "heldout": ("beneath",)},
    "on": {"train": ("on", "on top of", "placed on"), "heldout": ("resting on", "sitting on", "atop")},
    "under": {"train": ("under", "underneath"), "heldout": ("tucked under",)},
    "near": {"train": ("near", "close to", "by"), "heldout": ("in the vicinity of", "not far from")},
    "far": {"train": ("far from", "far away from"), "heldout": ("distant from",)},
    "next_to": {"train": ("next to", "beside"), "heldout": ("adjacent to", "alongside")},
    "closest": {"train": ("closest to", "nearest to"), "heldout": ("at the shortest distance from",)},
    "farthest": {"train": ("farthest from", "furthest from"), "heldout": ("most distant from",)},
    "between": {"train": ("between",), "heldout": ("halfway between", "in between")},
}
# Allocentric (anchor-frame) wording: relative to the anchor's own facing direction.
ANCHOR_FRAME_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "front": {"train": ("in front of",), "heldout": ("ahead of",)},
    "behind": {"train": ("behind",), "heldout": ("in back of",)},
    "left": {"train": ("on the {anchor}'s left",), "heldout": ("on the {anchor}'s left hand side",)},
    "right": {"train": ("on the {anchor}'s right",), "heldout": ("on the {anchor}'s right hand side",)},
}

# --- superlatives: prenominal adjective; "{x}" forms go after the noun ------------------
SUPERLATIVE_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "largest": {"train": ("largest", "biggest"), "heldout": ("bulkiest",)},
    "smallest": {"train": ("smallest",), "heldout": ("tiniest", "littlest")},
    "tallest": {"train": ("tallest",), "heldout": ("loftiest",)},
    "shortest": {"train": ("shortest",), "heldout": ("least tall",)},
    "highest": {"train": ("highest",), "heldout": ("uppermost", "topmost")},
    "lowest": {"train": ("lowest",), "heldout": ("bottommost",)},
    "leftmost": {"train": ("leftmost",), "heldout": ("furthest left",)},
    "rightmost": {"train": ("rightmost",), "heldout": ("furthest right",)},
    "frontmost": {"train": ("frontmost",), "heldout": ("foremost",)},
    "backmost": {"train": ("backmost", "rearmost"), "heldout": ("hindmost",)},
    "closest": {"train": ("{x} closest to me",), "heldout": ("{x} nearest to you",)},
    "farthest": {"train": ("{x} farthest from me",), "heldout": ("{x} most distant from you",)},
}
ORDINALS = {"train": {2: "second", 3: "third"}, "heldout": {2: "2nd", 3: "3rd"}}
# Rank >= 2 of a side-superlative can also be said "the second chair from the left".
FROM_SIDE = {"leftmost": "left", "rightmost": "right"}

# Relative-clause connectors: "" = reduced ("the lamp next to the bed").
CONNECTORS = {"train": {"sg": ("", "", "that is ", "which is "), "pl": ("", "", "that are ", "which are ")},
              "heldout": {"sg": ("located ",), "pl": ("located ",)}}
NEGATED = {"train": {"sg": "that is not ", "pl": "that are not "},
           "heldout": {"sg": "that isn't ", "pl": "that aren't "}}


@dataclass(frozen=True)
class Template:
    """A carrier sentence: ``{np}`` = definite singular noun phrase, ``{nps}`` = plural
    noun phrase without article, ``{a_desc}`` ("a brown chair") / ``{clause}`` ("to the
    left of the table") for the describe style."""

    text: str
    kind: str            # single | multi | count | color | describe
    phrasing: str
    portable: bool = False  # only for objects a robot can carry ("pick up", "bring")

    @property
    def markers(self) -> tuple[str, ...]:
        """The template's fixed wording between slots (for hygiene tests)."""
        chunks = (c.strip(" ?.,;") for c in re.split(r"\{[a-z_]+\}", self.text))
        return tuple(re.sub(r"\s+", " ", c) for c in chunks if c.strip(" ?.,;"))


def _t(phrasing: str, kind: str, *texts: str, portable: bool = False) -> list[Template]:
    return [Template(t, kind, phrasing, portable) for t in texts]


TEMPLATES: list[Template] = (
    _t("train", "single", "{np}", "find {np}", "go to {np}", "look at {np}", "where is {np}?",
       "show me {np}", "I am looking for {np}", "point to {np}", "navigate to {np}",
       "can you find {np}?", "select {np}", "move to {np}", "locate {np}", "please find {np}")
    + _t("train", "single", "pick up {np}", "bring me {np}", "grab {np}", portable=True)
    + _t("train", "describe", "there is {a_desc}, it is placed {clause}", "this is {a_desc}. it is {clause}",
         "there is {a_desc}. it is {clause}")
    + _t("train", "multi", "all {nps}", "find all {nps}", "show me all the {nps}", "select all {nps}",
         "the {nps}", "point to all {nps}", "where are the {nps}?", "locate all {nps}")
    + _t("train", "count", "how many {nps} are there?", "count the {nps}", "what is the number of {nps}?",
         "how many {nps} can you see?")
    + _t("train", "color", "what colour is {np}?", "which colour is {np}?", "what is the colour of {np}?")
    + _t("heldout", "single", "could you spot {np}?", "head over to {np}", "I need {np}", "identify {np}",
         "your target is {np}", "take me to {np}", "drive up to {np}")
    + _t("heldout", "single", "please fetch {np}", "hand me {np}", portable=True)
    + _t("heldout", "describe", "you will see {a_desc}; it sits {clause}")
    + _t("heldout", "multi", "gather all of the {nps}", "highlight each of the {nps}",
         "mark every one of the {nps}")
    + _t("heldout", "count", "tell me how many {nps} there are", "what's the total of {nps}?")
    + _t("heldout", "color", "what is the hue of {np}?", "tell me the shade of {np}")
)


def templates(phrasing: str, kind: str, portable: bool = True) -> list[Template]:
    out = [t for t in TEMPLATES if t.phrasing == phrasing and t.kind == kind and (portable or not t.portable)]
    if not out:
        raise ValueError(f"no {kind!r} templates for phrasing {phrasing!r}")
    return out


def synonyms(label: str, phrasing: str) -> tuple[str, ...]:
    """Words for ``label`` in ``phrasing``; held-out phrasing prefers held-out synonyms."""
    cat = CATEGORIES.get(label)
    if cat is None:
        return (label,)
    if phrasing == PHRASING_HELDOUT and cat.heldout_synonyms:
        return cat.heldout_synonyms
    return cat.train_synonyms


def noun(label: str, phrasing: str, plural: bool, rng: np.random.Generator) -> str:
    opts = synonyms(label, phrasing)
    word = opts[int(rng.integers(len(opts)))]
    if not plural:
        return word
    cat = CATEGORIES.get(label)
    if cat is not None and word == cat.label:
        return cat.plural_label
    return pluralize(word)


def pick(options, rng: np.random.Generator):
    return options[int(rng.integers(len(options)))]


def heldout_markers() -> list[str]:
    """Every phrase that may only appear in held-out records (lower case)."""
    out: set[str] = set()
    for c in CATEGORIES.values():
        out.update(c.heldout_synonyms)
        out.update(pluralize(s) for s in c.heldout_synonyms)
    for table in (RELATION_PHRASES, ANCHOR_FRAME_PHRASES, SUPERLATIVE_PHRASES):
        for v in table.values():
            for p in v["heldout"]:
                out.add(re.sub(r"\s+", " ", p.replace("{x}", "").replace("{anchor}'s", "")).strip())
    out.update(ORDINALS["heldout"].values())
    out.update(c.strip() for c in CONNECTORS["heldout"]["sg"] + CONNECTORS["heldout"]["pl"])
    out.update(v.strip() for v in NEGATED["heldout"].values())
    for t in TEMPLATES:
        if t.phrasing == PHRASING_HELDOUT:
            out.update(t.markers)
    return sorted(p.lower() for p in out if p)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whole-word, case-insensitive phrase match ("bin" is not in "cabinet")."""
    return re.search(r"(?<![\w'-])" + re.escape(phrase.lower()) + r"(?![\w-])", text.lower()) is not None
