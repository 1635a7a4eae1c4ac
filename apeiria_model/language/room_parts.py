"""Room structure in instructions: walls, floor, corners, the middle of the room.

Scenes hold furniture and things, not the room's shell, so "the window on the far wall"
must not look for a *wall object* (it would find nothing). What such a phrase means,
in what the program DSL can express:

- a wall with a side ("the back / far / left wall") -> the superlative on that side
  (``backmost``, ``leftmost``...): the candidate closest to that wall;
- "on the floor" -> not on any object: ``exclude(X, relate(X, scene(), on))``;
- a plain "wall", "corner", "ceiling", "middle of the room": no DSL operation says it,
  so the phrase is dropped and reported in ``ParseOutcome.ignored`` (a partial reading
  is never silent);
- a corner with a side ("the back left corner") -> the superlative of its left/right
  side (the horizontal side separates more candidates than depth in most rooms).

When the scene itself has an object with that label (a ScanNet "wall" segment), the
word is an object like any other: :func:`room_part` is only asked when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass

WALL_WORDS = frozenset({"wall", "walls"})
FLOOR_WORDS = frozenset({"floor", "floors", "ground", "carpet floor"})
CORNER_WORDS = frozenset({"corner", "corners"})
CEILING_WORDS = frozenset({"ceiling"})
CENTRE_WORDS = frozenset({"middle", "centre", "center"})
ROOM_PART_HEADS = WALL_WORDS | FLOOR_WORDS | CORNER_WORDS | CEILING_WORDS | CENTRE_WORDS

# side adjective of a wall / corner -> superlative kind
SIDE_OF_WALL = {
    "back": "backmost", "far": "backmost", "rear": "backmost", "opposite": "backmost", "distant": "backmost",
    "farthest": "backmost", "furthest": "backmost", "backmost": "backmost",
    "front": "frontmost", "near": "frontmost", "nearest": "frontmost", "closest": "frontmost",
    "frontmost": "frontmost",
    "left": "leftmost", "leftmost": "leftmost", "lefthand": "leftmost",
    "right": "rightmost", "rightmost": "rightmost", "righthand": "rightmost",
}
_HORIZONTAL = ("leftmost", "rightmost")


@dataclass(frozen=True)
class RoomPart:
    """How a room-part phrase reads: ``action`` "superlative" (``kind`` set), "floor"
    (not on any object) or "ignore"; ``phrase`` is the words, for the ignored report."""

    action: str
    phrase: str
    kind: str | None = None


def is_room_part(head: list[str]) -> bool:
    return bool(head) and head[-1] in ROOM_PART_HEADS


def room_part(relation: str, words: list[str], superlative: str | None) -> RoomPart | None:
    """Read "<relation> the <words>" as room structure; None when ``words`` is no room part.

    ``words``: the anchor noun phrase's words (adjectives + head); ``superlative``: the
    superlative the noun-phrase parser already took out of them ("back" -> backmost)."""
    if not words or words[-1] not in ROOM_PART_HEADS:
        return None
    head = words[-1]
    phrase = " ".join(words)
    sides = [SIDE_OF_WALL[w] for w in words[:-1] if w in SIDE_OF_WALL]
    if superlative in SIDE_OF_WALL.values():
        sides.insert(0, superlative)
    if head in FLOOR_WORDS:
        if relation in ("on", "inside", "near", "next_to", "below", "under"):
            return RoomPart("floor", phrase)
        return RoomPart("ignore", phrase)
    if head in CENTRE_WORDS:
        return RoomPart("ignore", phrase)
    if relation in ("far", "facing", "above", "below", "under", "between"):
        return RoomPart("ignore", phrase)  # "far from the wall", "facing the wall": nothing to say
    if head in CORNER_WORDS:
        side = next((s for s in sides if s in _HORIZONTAL), sides[0] if sides else None)
        return RoomPart("superlative", phrase, side) if side else RoomPart("ignore", phrase)
    if head in WALL_WORDS and sides:
        return RoomPart("superlative", phrase, sides[0])
    return RoomPart("ignore", phrase)
