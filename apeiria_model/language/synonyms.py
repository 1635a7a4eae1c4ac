"""Everyday names people use for scene labels, and umbrella words ("seat", "furniture").

Written from how people talk about rooms (British/US colloquial names, shop names),
not from any evaluation set. Two tables:

- ``COLLOQUIAL``: a word or phrase -> the label names it stands for ("telly" -> tv).
  A label equal to one of them scores as a synonym (``SCORE_SYNONYM``).
- ``HYPERNYMS``: an umbrella word -> the label head nouns it covers ("seats" are chairs,
  sofas, stools...). Those labels score as "a kind of" the concept (head-noun strength),
  so an exact label match still wins when the scene has one ("the seat" with a "seat"
  label present).

The words of both tables are also known to the typo corrector, so "telly" is never
"corrected" into "tell".
"""

from __future__ import annotations

COLLOQUIAL: dict[str, tuple[str, ...]] = {
    "telly": ("tv", "television"),
    "tele": ("tv", "television"),
    "tv set": ("tv", "television"),
    "flatscreen": ("tv", "television"),
    "flat screen": ("tv", "television"),
    "aircon": ("air conditioner",),
    "air con": ("air conditioner",),
    "ac": ("air conditioner",),
    "ac unit": ("air conditioner",),
    "air conditioning": ("air conditioner",),
    "air conditioning unit": ("air conditioner",),
    "tv unit": ("tv stand", "tv cabinet", "media console"),
    "tv bench": ("tv stand", "tv cabinet"),
    "media unit": ("tv stand", "tv cabinet", "media console"),
    "entertainment unit": ("tv stand", "tv cabinet", "media console"),
    "potted plant": ("plant", "houseplant"),
    "pot plant": ("plant", "houseplant"),
    "houseplant": ("plant",),
    "schoolbag": ("backpack", "bag"),
    "school bag": ("backpack", "bag"),
    "rucksack": ("backpack",),
    "bookbag": ("backpack",),
    "cardboard box": ("box", "storage box"),
    "storage box": ("box",),
    "comfy chair": ("armchair",),
    "easy chair": ("armchair",),
    "settee": ("sofa", "couch"),
    "loveseat": ("sofa", "couch"),
    "dustbin": ("trash can", "bin"),
    "rubbish bin": ("trash can", "bin"),
    "wastepaper basket": ("trash can", "bin"),
    "fridge freezer": ("fridge", "refrigerator"),
    "bedside cabinet": ("nightstand",),
    "bedside table": ("nightstand",),
    "wardrobe": ("closet",),
    "chest of drawers": ("dresser",),
    "specs": ("glasses",),
    "mobile": ("phone",),
    "cellphone": ("phone",),
    "mobile phone": ("phone",),
    "cell phone": ("phone",),
    "coat rack": ("coat stand", "coat hanger"),
    "hat stand": ("coat stand",),
}

HYPERNYMS: dict[str, frozenset[str]] = {
    "seat": frozenset({"chair", "armchair", "sofa", "couch", "stool", "bench", "recliner", "ottoman",
                       "office chair", "desk chair", "dining chair", "loveseat", "settee", "footstool"}),
    "seating": frozenset({"chair", "armchair", "sofa", "couch", "stool", "bench", "recliner", "ottoman",
                          "office chair", "dining chair", "loveseat", "settee"}),
    "furniture": frozenset({"chair", "armchair", "sofa", "couch", "stool", "bench", "table", "desk", "bed",
                            "cabinet", "shelf", "bookshelf", "bookcase", "wardrobe", "closet", "dresser",
                            "nightstand", "ottoman", "stand", "cupboard", "drawer", "sideboard", "counter",
                            "recliner", "crib", "footstool"}),
    "appliance": frozenset({"fridge", "refrigerator", "oven", "stove", "microwave", "dishwasher", "washer",
                            "dryer", "washing machine", "toaster", "kettle", "air conditioner", "heater",
                            "fan"}),
    "screen": frozenset({"tv", "television", "monitor"}),
    "electronics": frozenset({"tv", "television", "monitor", "computer", "laptop", "printer", "speaker",
                              "phone", "radio", "keyboard", "mouse"}),
    "storage": frozenset({"cabinet", "shelf", "bookshelf", "bookcase", "wardrobe", "closet", "dresser",
                          "cupboard", "box", "storage box", "crate", "basket", "chest"}),
}


def colloquial_targets(head: str) -> tuple[str, ...]:
    """Label names a colloquial word stands for ((): not a colloquial word)."""
    return COLLOQUIAL.get(head, ())


def hypernym_covers(head: str, label: str) -> bool:
    """Does the umbrella word ``head`` ("seat") cover ``label`` ("office chair")? By the
    whole label or its last word ("dining chair" is a chair)."""
    kinds = HYPERNYMS.get(head)
    if not kinds:
        return False
    return label in kinds or label.rsplit(" ", 1)[-1] in kinds


def known_words() -> frozenset[str]:
    """Every word of both tables (the typo corrector must leave them alone)."""
    words: set[str] = set()
    for phrase, targets in COLLOQUIAL.items():
        words.update(phrase.split())
        for t in targets:
            words.update(t.split())
    for umbrella, kinds in HYPERNYMS.items():
        words.add(umbrella)
        for k in kinds:
            words.update(k.split())
    words.update({"seats", "furnitures"})
    return frozenset(words)
