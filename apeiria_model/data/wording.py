"""Turn a sampled program's noun phrase structure into an instruction people would say.

``instruction(sampled, phrasing, rng)`` picks a carrier template of the right kind
(single / describe / multi / count / color) and renders the noun phrase with the
phrasing's synonyms, relation phrases, superlatives and clause connectors, e.g.
"find the mug on the desk closest to the window", "all chairs that are next to the
table", "there is a brown chair, it is placed to the left of the table".
"""

from __future__ import annotations

import numpy as np

from apeiria_model.data import templates as T
from apeiria_model.data.categories import CATEGORIES, ON_SURFACE
from apeiria_model.data.program_sampler import NP, SampledProgram

_PORTABLE_EXTRA = frozenset({"backpack", "storage box"})


def article(text: str) -> str:
    return ("an " if text[:1].lower() in "aeiou" else "a ") + text


def _anchor_text(a: NP, phrasing: str, rng: np.random.Generator) -> str:
    return noun_phrase(a, phrasing, rng, plural=False, definite=a.size == 1)


_SEATS = frozenset({"chair", "office chair", "stool", "armchair"})
_TABLES = frozenset({"table", "dining table", "coffee table", "desk"})


def _relation_body(c, phrasing: str, rng: np.random.Generator, head: str = "", plural: bool = False) -> str:
    if c.kind == "between":
        a, b = c.anchors
        phrase = T.pick(T.RELATION_PHRASES["between"][phrasing], rng)
        return f"{phrase} {_anchor_text(a, phrasing, rng)} and {_anchor_text(b, phrasing, rng)}"
    anchor = c.anchors[0]
    if c.kind == "not":  # "that aren't not far from" would be a double negation
        options = [p for p in T.RELATION_PHRASES[c.relation][phrasing] if not p.startswith("not ")]
        return f"{T.pick(options, rng)} {_anchor_text(anchor, phrasing, rng)}"
    if c.frame == "anchor":
        phrase = T.pick(T.ANCHOR_FRAME_PHRASES[c.relation][phrasing], rng)
        if "{anchor}" in phrase:
            core = noun_phrase(anchor, phrasing, rng, plural=False, definite=False, bare=True)
            return phrase.replace("{anchor}", core)
        return f"{phrase} {_anchor_text(anchor, phrasing, rng)}"
    phrase = T.pick(T.RELATION_PHRASES[c.relation][phrasing], rng)
    if c.relation == "near" and plural and phrasing == "train" and head in _SEATS and \
            anchor.label in _TABLES and rng.random() < 0.5:
        phrase = "around"  # "all chairs around the table"
    return f"{phrase} {_anchor_text(anchor, phrasing, rng)}"


_PARTICIPLES = ("sitting", "resting", "tucked", "located")


def clauses_text(np_: NP, phrasing: str, rng: np.random.Generator, plural: bool, connector: bool = True) -> str:
    """' next to the desk and near the window' (leading space), '' without clauses."""
    num = "pl" if plural else "sg"
    conn = T.pick(T.CONNECTORS[phrasing][num], rng) if connector else ""
    parts = []
    for i, c in enumerate(np_.clauses):
        body = _relation_body(c, phrasing, rng, np_.label, plural)
        if c.kind == "not":
            if i == 0:
                neg = T.NEGATED[phrasing][num] if connector else "not "
                parts.append(" " + neg + body)
            else:
                parts.append(" but not " + body)
        else:
            # "located sitting on" reads badly: participle phrases need no connector
            c_here = "" if body.startswith(_PARTICIPLES) and conn.strip() == "located" else conn
            parts.append((" " if i == 0 else " and ") + c_here + body)
    return "".join(parts)


def noun_phrase(np_: NP, phrasing: str, rng: np.random.Generator, plural: bool = False,
                definite: bool = True, bare: bool = False) -> str:
    """Render ``np_``: 'the second leftmost red chair next to the desk', 'chairs near a table'.

    ``bare`` leaves out the article (for 'the sofa's left' and plural carriers)."""
    if np_.union_with is not None:
        # the union's first part is a plain category (+ adjective) phrase
        first = noun_phrase(NP(None, np_.label, list(np_.adjectives)), phrasing, rng, plural, definite, bare=True)
        second = noun_phrase(np_.union_with, phrasing, rng, plural, definite, bare=True)
        return f"{first} and {second}"
    head = T.noun(np_.label, phrasing, plural, rng)
    words = list(np_.adjectives[::-1]) if len(np_.adjectives) > 1 else list(np_.adjectives)
    pre = " ".join(words + [head])
    post = ""
    f = np_.final
    if f is not None and f.kind == "super":
        phrase = T.pick(T.SUPERLATIVE_PHRASES[f.name][phrasing], rng)
        ordinal = T.ORDINALS[phrasing][f.rank] + " " if f.rank > 1 else ""
        if "{x}" in phrase:
            post = phrase.replace("{x}", "")
        elif f.rank > 1 and f.name in T.FROM_SIDE and not np_.clauses and phrasing == "train" \
                and rng.random() < 0.5:
            post = f" from the {T.FROM_SIDE[f.name]}"   # "the second chair from the left"
            pre = ordinal + pre
        else:
            pre = f"{ordinal}{phrase} {pre}"
    text = pre + clauses_text(np_, phrasing, rng, plural) + post
    if f is not None and f.kind == "anchor":
        phrase = T.pick(T.RELATION_PHRASES[f.name][phrasing], rng)
        text += f" {phrase} {_anchor_text(f.anchor, phrasing, rng)}"
    if bare or plural:
        return text
    return "the " + text if definite else article(text)


def _portable(label: str) -> bool:
    cat = CATEGORIES.get(label)
    return (cat is not None and cat.placement == ON_SURFACE) or label in _PORTABLE_EXTRA


def _describable(np_: NP) -> bool:
    return (bool(np_.clauses) and np_.final is None and np_.union_with is None
            and all(c.kind != "not" for c in np_.clauses))


def instruction(sp: SampledProgram, phrasing: str, rng: np.random.Generator) -> tuple[str, str]:
    """(instruction text, template kind used)."""
    if phrasing not in T.PHRASINGS:
        raise ValueError(f"unknown phrasing {phrasing!r}; expected one of {', '.join(T.PHRASINGS)}")
    np_ = sp.np
    goal = sp.goal
    if goal == "single":
        if _describable(np_) and rng.random() < 0.25:
            tpl = T.pick(T.templates(phrasing, "describe"), rng)
            desc = " ".join(np_.adjectives + [T.noun(np_.label, phrasing, False, rng)])
            clause = clauses_text(np_, phrasing, rng, plural=False, connector=False).strip()
            return tpl.text.format(a_desc=article(desc), clause=clause), "describe"
        tpl = T.pick(T.templates(phrasing, "single", portable=_portable(np_.label)), rng)
        return tpl.text.format(np=noun_phrase(np_, phrasing, rng)), "single"
    if goal in ("multi", "zero"):
        tpl = T.pick(T.templates(phrasing, "multi"), rng)
        return tpl.text.format(nps=noun_phrase(np_, phrasing, rng, plural=True)), "multi"
    if goal == "count":
        tpl = T.pick(T.templates(phrasing, "count"), rng)
        return tpl.text.format(nps=noun_phrase(np_, phrasing, rng, plural=True)), "count"
    if goal == "color":
        tpl = T.pick(T.templates(phrasing, "color"), rng)
        return tpl.text.format(np=noun_phrase(np_, phrasing, rng)), "color"
    raise ValueError(f"unknown goal {goal!r}")
