"""Word tables the instruction parser reads: relation phrases, superlatives, colours,
ordinals, command prefixes and filler.

Everything here is data, so the parser stays one small grammar. Relation names are
the canonical ones of ``programs/relations.py`` (H1) when that module is importable:
:func:`canonical_relation` maps our phrase table onto its ``RELATION_ALIASES`` so
the parser never emits a relation the executor does not know.
"""

from __future__ import annotations

import functools
import re

# --- relation phrases -----------------------------------------------------------
# phrase (space-separated tokens) -> (kind, relation)
#   kind "rel"     : relate(target, anchor, relation)
#   kind "anchor"  : relate_anchor(target, anchor, closest|farthest)
#   kind "between" : relate_multi(target, a, b, between)
# Longest phrase wins at a position (see ``RELATION_INDEX``).
_REL = {
    "near": ["near", "near to", "close to", "nearby", "by", "around", "neighboring", "neighbouring",
             "close by", "in the vicinity of", "near by", "right by", "surrounding", "around of", "along",
             "against", "not far from",
             # "at" / "at the end of" a table: people place chairs "at" furniture (proximity)
             "at", "right at", "at the end of", "at the head of", "at the foot of", "at the edge of",
             "either side of", "on either side of", "at either side of", "on both sides of", "on each side of",
             "either end of", "at either end of", "flanking", "up against", "pushed against",
             "pushed up against", "pushed in at", "tucked in at", "pushed in to", "pushed up to",
             "pulled up to", "in at", "at the far end of", "at the other end of", "at the near end of",
             "at the closer end of", "at the nearer end of"],
    "next_to": ["next to", "beside", "besides", "adjacent to", "alongside", "by the side of", "at the side of",
                "right next to", "right beside", "just next to", "close beside", "directly next to"],
    "far": ["far from", "far away from", "away from", "distant from", "far off from", "not close to"],
    "on": ["on", "on top of", "onto", "atop", "upon", "on the top of", "at the top of", "over the top of",
           "on the surface of", "sitting on", "resting on", "lying on", "placed on", "standing on", "laying on",
           "mounted on", "hanging on", "attached to", "sits on", "rests on", "lies on", "stands on",
           # "grab the phone off the table": it is on the table now
           "off", "off of"],
    "under": ["under", "underneath", "under the", "down under", "at the bottom of", "underneath of",
              "pushed under", "tucked under", "pushed in under", "tucked in under", "in under"],
    "below": ["below", "beneath", "lower than", "down below"],
    "above": ["above", "over", "higher than", "hanging above", "hanging over", "up above"],
    "left": ["left of", "to the left of", "on the left of", "on the left side of", "at the left of",
             "at the left side of", "to the left side of", "left side of", "on the left hand side of",
             "left to", "leftward of"],
    "right": ["right of", "to the right of", "on the right of", "on the right side of", "at the right of",
              "at the right side of", "to the right side of", "right side of", "on the right hand side of",
              "right to", "rightward of"],
    "front": ["in front of", "in the front of", "at the front of", "ahead of", "before", "front of",
              "on the near side of", "on this side of", "on the closer side of"],
    # the executor's own relation: the candidate's front points at the anchor
    "facing": ["facing", "facing towards", "facing toward", "faces", "turned towards",
               "turned toward", "facing to", "pointed at", "pointing at", "looking at", "aimed at"],
    "behind": ["behind", "in back of", "at the back of", "in the back of", "back of", "at the rear of",
               "to the back of", "on the back of", "on the other side of", "on the far side of",
               "at the back side of"],
    "inside": ["in", "inside", "inside of", "within", "into", "in the middle of", "contained in", "stored in",
               "kept in"],
}
_ANCHOR = {
    "closest": ["closest to", "nearest to", "nearest", "closest", "nearest the", "most near", "closer to",
                "nearer to", "nearer", "the closest to", "the nearest to", "the closest", "the nearest"],
    "farthest": ["farthest from", "furthest from", "farthest away from", "furthest away from", "farthest",
                 "furthest", "most distant from", "the farthest from", "the furthest from", "farther from",
                 "further from", "farther away from", "further away from", "the farthest", "the furthest"],
}
_BETWEEN = ["between", "in between", "in the middle between", "in the middle of", "halfway between"]

RELATION_PHRASES: dict[tuple[str, ...], tuple[str, str]] = {}
for _rel, _phrases in _REL.items():
    for _p in _phrases:
        RELATION_PHRASES[tuple(_p.split())] = ("rel", _rel)
for _rel, _phrases in _ANCHOR.items():
    for _p in _phrases:
        RELATION_PHRASES[tuple(_p.split())] = ("anchor", _rel)
for _p in _BETWEEN:
    RELATION_PHRASES[tuple(_p.split())] = ("between", "between")

# first token -> phrases starting with it, longest first (cheap longest-match lookup)
RELATION_INDEX: dict[str, list[tuple[str, ...]]] = {}
for _phrase in sorted(RELATION_PHRASES, key=len, reverse=True):
    RELATION_INDEX.setdefault(_phrase[0], []).append(_phrase)
MAX_RELATION_LEN = max(len(p) for p in RELATION_PHRASES)

# "the chair at the far end of the table": near the table, and the one farthest back of those
END_SUPERLATIVE = {("at", "the", "far", "end", "of"): "backmost", ("at", "the", "other", "end", "of"): "backmost",
                   ("at", "the", "near", "end", "of"): "frontmost",
                   ("at", "the", "closer", "end", "of"): "frontmost",
                   ("at", "the", "nearer", "end", "of"): "frontmost"}

# Commands that take an object away: "grab the cup from the table" = the cup on the table
TAKE_VERBS = frozenset("grab get fetch bring take pick remove collect".split())

# Comparatives that compare with another object ("bigger than the table"): the DSL has
# no such operation, so "than ..." is reported as ignored.
COMPARATIVES = frozenset("""bigger larger smaller taller shorter higher lower wider narrower longer
closer nearer farther further older newer darker lighter""".split())

# "the nightstand with the lamp on it": the target is the anchor of the relation.
# Only "inside" has no inverse in the executor ("contains"): "the box with a book in it"
# falls back to near, the closest relation it has.
INVERSE_RELATION = {
    "on": "below", "under": "above", "above": "below", "below": "above", "inside": "near",
    "left": "right", "right": "left", "front": "behind", "behind": "front",
    "near": "near", "far": "far", "next_to": "next_to", "facing": "near",
}

# Direction words after "the X's ..." (allocentric, anchor frame) or "on the ...".
SIDE_WORDS = {"left": "left", "right": "right", "front": "front", "back": "behind", "rear": "behind",
              "behind": "behind"}

# Relations read in the anchor's own frame unless the instruction says otherwise. Empty:
# everything defaults to the viewer. Making front/behind intrinsic ("in front of the
# sofa" = the sofa's front) measured the same on generated data (97.41% vs 97.47% on
# train phrasing), so the simpler, explicit rule stays: the anchor frame only when the
# instruction names it ("the bed's left", "from the bed's perspective").
INTRINSIC_BY_DEFAULT: frozenset[str] = frozenset()

# Multi-word nouns with "of" inside (kept as one head; "of" otherwise ends a noun phrase).
COMPOUND_NOUNS = ("chest of drawers", "chests of drawers", "pair of shoes", "pairs of shoes", "roll of paper",
                  "rolls of paper", "bottle of water", "stack of books", "stacks of books", "pile of books",
                  "cup of coffee", "bag of chips", "box of tissues", "chest of drawer")

# --- superlatives -------------------------------------------------------------------
# adjective -> superlative kind. Comparatives count as superlatives: "the bigger plant"
# among two plants is the largest one.
SUPERLATIVE_WORDS = {
    "largest": "largest", "biggest": "largest", "bigger": "largest", "larger": "largest",
    "huge": "largest", "big": "largest", "large": "largest",
    "smallest": "smallest", "smaller": "smallest", "tiniest": "smallest", "littlest": "smallest",
    "small": "smallest", "little": "smallest", "tiny": "smallest",
    "tallest": "tallest", "taller": "tallest", "tall": "tallest",
    "shortest": "shortest", "shorter": "shortest", "short": "shortest",
    "highest": "highest", "higher": "highest", "upper": "highest", "top": "highest", "topmost": "highest",
    "lowest": "lowest", "lower": "lowest", "bottom": "lowest", "bottommost": "lowest",
    "leftmost": "leftmost", "left": "leftmost", "left-most": "leftmost", "lefthand": "leftmost",
    "rightmost": "rightmost", "right": "rightmost", "right-most": "rightmost", "righthand": "rightmost",
    "frontmost": "frontmost", "front": "frontmost", "foremost": "frontmost",
    "backmost": "backmost", "rear": "backmost", "rearmost": "backmost", "hindmost": "backmost",
    "back": "backmost",
    "nearest": "closest", "closest": "closest", "closer": "closest", "nearer": "closest",
    "farthest": "farthest", "furthest": "farthest", "farther": "farthest", "further": "farthest",
}
# "big"/"small"... are also plain attributes ("the small table"): they become
# superlatives only when the target has several candidates (decided by the parser as a
# comparative-style superlative: the executor ranks, so one candidate is still itself).

# "from the left" after an ordinal: "the second chair from the left"
FROM_SIDE = {"left": "leftmost", "right": "rightmost", "front": "frontmost", "back": "backmost",
             "top": "highest", "bottom": "lowest", "window": None, "door": None}

ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
            "eighth": 8, "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5,
            "6th": 6, "7th": 7, "8th": 8, "9th": 9, "10th": 10}
# "the last chair on the right" = the first one from the other side
LAST_WORDS = frozenset({"last"})
OPPOSITE_KIND = {"leftmost": "rightmost", "rightmost": "leftmost", "frontmost": "backmost",
                 "backmost": "frontmost", "highest": "lowest", "lowest": "highest", "largest": "smallest",
                 "smallest": "largest", "tallest": "shortest", "shortest": "tallest", "closest": "farthest",
                 "farthest": "closest"}

NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6}

# --- attributes ------------------------------------------------------------------------
COLOURS = frozenset("""
red green blue yellow orange purple pink brown black white gray grey beige tan cyan magenta
violet silver gold golden navy maroon teal turquoise cream ivory dark light olive khaki
""".split())
COLOUR_NORMAL = {"grey": "gray", "golden": "gold"}
MATERIALS = frozenset("""
wooden wood metal metallic plastic glass leather fabric ceramic steel stone marble paper
cardboard wicker velvet cotton
""".split())
ATTRIBUTE_WORDS = frozenset("""
open closed empty full round square rectangular striped patterned soft folded rolled broken
old new modern
""".split()) | MATERIALS

# --- commands, clauses, filler -------------------------------------------------------------
COMMAND_PREFIXES = sorted((tuple(p.split()) for p in """
find|find me|locate|show|show me|point to|point at|point out|go to|go near|navigate to|move to|walk to|
bring|bring me|get|get me|fetch|grab|pick up|pick|take|look at|look for|search for|select|choose|
identify|highlight|detect|can you find|could you find|can you show me|
could you show me|can you locate|please|i want|i need|i am looking for|i want to find|we need|give me|hand me|
help me find|tell me|approach|head to|drive to|turn to|face|there is|there are|there's|this is|
these are|it is|it 's|there 's|that is|ground|refer to|the object is|target is|the target is|i mean|i meant|i am talking about|i am referring to|can you grab|could you grab|can you get|could you get|can you bring me|could you bring me|can you bring|could you bring|can you fetch|could you fetch|can you pick up|could you pick up|would you grab|would you get|would you bring me|can you take|could you take|the target object is|the object i mean is|please find|kindly|
""".replace("\n", "").split("|") if p.strip()), key=len, reverse=True)

DETERMINERS = frozenset("the a an this that these those some any one ones its their his her my your our".split())
QUANTIFIERS = frozenset("all every each both any".split())
CLAUSE_MARKERS = frozenset("that which who whose where".split())
COPULAS = frozenset("""
is are was were be being been 's seems appears looks placed located situated
positioned standing sitting lying laying resting found kept set put hanging mounted that's which's
""".split())
# Participles that introduce a location ("the lamp standing next to the bed") but are
# also ordinary adjectives ("the standing lamp"): a boundary only before a relation.
PARTICIPLES = frozenset("""placed located situated positioned standing sitting lying laying resting found kept
set put hanging mounted tucked stored stands sits lies rests hang hangs hung pushed pulled parked leaning
leans propped""".split())
CORE_COPULAS = frozenset("is are was were be being been 's seems appears looks".split())
# Words that carry no meaning for grounding anywhere in an instruction.
FILLER = frozenset("""
please kindly just exactly also really very quite the a an of to there here currently now
directly immediately somewhere thanks thank you ok okay hey robot could would
""".split())
# Head words that mean "any object" -> scene() instead of a category filter.
GENERIC_HEADS = frozenset("object objects thing things item items one ones something anything everything stuff what".split())
CONJUNCTIONS = frozenset("and but while also".split())
NEGATIONS = frozenset("not no never isn't aren't isnt arent without".split())
EXCLUDERS = [("other", "than"), ("except", "for"), ("except",), ("apart", "from"), ("besides", "the"),
             ("excluding",), ("but", "not")]

# Query words for attribute questions ("what colour is the sofa").
QUERY_ATTRIBUTES = {"color": "color", "colour": "color", "size": "size", "material": "material",
                    "label": "label", "kind": "label", "type": "label", "category": "label", "name": "label",
                    "position": "position", "location": "position"}

# Common indoor object names (ScanNet / household): protect them from typo
# "correction" into grammar words and help find the head noun without a scene.
COMMON_CATEGORIES = frozenset("""
chair armchair stool bench sofa couch ottoman table desk nightstand dresser wardrobe closet cabinet
cupboard shelf bookshelf bookcase bed bunk pillow blanket mattress lamp light chandelier switch
window door curtain blind blinds mirror picture painting poster frame clock tv television monitor
screen computer laptop keyboard mouse printer speaker phone telephone radio fan heater radiator
fridge refrigerator freezer oven stove microwave toaster kettle sink faucet tap toilet bathtub tub
shower towel soap dispenser trash can bin basket bucket box crate suitcase bag backpack purse
plant flower vase pot cup mug glass bottle jar bowl plate dish tray pan book books magazine paper
rug carpet mat mattress counter countertop island column pillar stairs staircase railing wall
floor ceiling vent outlet socket thermostat board whiteboard blackboard projector piano guitar
drum toy ball bicycle bike stand rack hanger coat jacket shoe shoes hat umbrella tissue napkin
candle sculpture statue tower cart wheelchair crib cushion seat footstool recliner stand
coffee dining side end kitchen office table tables person man woman dog cat printer copier
fireplace mantel dishwasher washer dryer machine ladder case container package can tube
bedside nightstand storage tissue remote control conditioner dispenser washing
""".split())

# "in the room" / "in the kitchen": where the whole scene is, not an object to relate to
ROOM_WORDS = frozenset("""room space scene area house home apartment flat kitchen bedroom bathroom hallway
corridor hall lounge studio""".split())

# Perspective phrases that switch the preceding relation to the anchor's frame.
PERSPECTIVE_NOUNS = frozenset("perspective point view viewpoint side standpoint".split())

_IRREGULAR_PLURALS = {
    "shelves": "shelf", "knives": "knife", "leaves": "leaf", "people": "person", "men": "man",
    "women": "woman", "children": "child", "feet": "foot", "mice": "mouse", "teeth": "tooth",
    "boxes": "box", "benches": "bench", "couches": "couch", "dishes": "dish", "glasses": "glass",
    "brushes": "brush", "switches": "switch", "sandwiches": "sandwich", "buses": "bus",
    "cabinets": "cabinet", "series": "series", "species": "species", "scissors": "scissors",
    "dresses": "dress", "mattresses": "mattress", "speakers": "speaker", "stairs": "stairs",
    "blinds": "blinds", "pants": "pants", "shorts": "shorts", "clothes": "clothes", "jeans": "jeans",
    "headphones": "headphones", "glasses case": "glasses case", "bookshelves": "bookshelf",
    "wolves": "wolf", "halves": "half", "loaves": "loaf", "torches": "torch", "watches": "watch",
    "lenses": "lens", "radios": "radio", "pianos": "piano", "photos": "photo", "tvs": "tv",
}
_NO_STRIP = frozenset("glass grass bus gas lens canvas mattress dress chess class boss press cross "
                      "series species bus this is was has his its yes us plus status bias atlas "
                      "cactus iris chassis compass thermos canvas lens".split())


@functools.lru_cache(maxsize=8192)
def singularize(word: str) -> str:
    """English plural -> singular, good enough for object nouns ("shelves" -> "shelf")."""
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if len(word) <= 3 or word in _NO_STRIP or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("'s"):
        return word[:-1]
    return word


def is_plural(word: str) -> bool:
    return singularize(word) != word


@functools.lru_cache(maxsize=1)
def _h1_aliases() -> dict[str, str]:
    try:  # H1's table is the single source of truth for relation names
        from apeiria_model.programs.relations import RELATION_ALIASES  # type: ignore
    except Exception:
        return {}
    return {str(k).lower(): str(v) for k, v in dict(RELATION_ALIASES).items()}


def canonical_relation(name: str) -> str:
    """Our relation name -> the executor's canonical one (identity when H1 has no alias)."""
    aliases = _h1_aliases()
    return aliases.get(name, name)


def normalise_label(text: str) -> str:
    """Lower-case, underscores/hyphens to spaces, singular last word: 'Coffee_Tables' -> 'coffee table'."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))
    if not words:
        return ""
    words[-1] = singularize(words[-1])
    return " ".join(words)


def vocabulary_words() -> frozenset[str]:
    """Every word the grammar knows (for typo correction)."""
    words: set[str] = set()
    for phrase in RELATION_PHRASES:
        words.update(phrase)
    for table in (SUPERLATIVE_WORDS, ORDINALS, NUMBERS, QUERY_ATTRIBUTES, FROM_SIDE, SIDE_WORDS):
        words.update(table)
    for phrase in COMMAND_PREFIXES:
        words.update(phrase)
    words |= COLOURS | ATTRIBUTE_WORDS | DETERMINERS | QUANTIFIERS | CLAUSE_MARKERS | COPULAS | FILLER
    words |= GENERIC_HEADS | CONJUNCTIONS | NEGATIONS | PERSPECTIVE_NOUNS | COMMON_CATEGORIES | ROOM_WORDS
    from apeiria_model.language.synonyms import known_words as _colloquial_words
    words |= _colloquial_words() | PARTICIPLES
    try:  # the concept matcher's synonym table names objects too ("bedside table")
        from apeiria_model.programs.concepts import SYNONYMS
        for phrase in SYNONYMS:
            words.update(phrase.split())
    except Exception:
        pass
    words |= {"how", "many", "much", "count", "number", "with", "from", "on", "it", "them", "side",
              "than", "other", "except", "last", "among", "amongst", "out", "me", "you", "viewer", "camera", "between", "and", "or", "its", "from", "has", "have", "having",
              "two", "of"}
    return frozenset(w for w in words if w.isascii())
