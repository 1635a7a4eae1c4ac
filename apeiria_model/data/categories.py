"""Indoor object categories for the synthetic room generator.

One :class:`Category` per label: realistic size ranges (metres), typical colours and
materials, how it is placed, whether things can stand on it, whether it has a facing
direction, the room types it appears in, and its synonyms split into TRAIN synonyms
(used in any training record) and HELD-OUT synonyms (only in the held-out phrasing
split, to test generalisation to unseen words).

Size convention: ``(w, d, h)`` in the object's own frame: ``w`` across its front,
``d`` along its front (depth), ``h`` height. A category without a facing direction is
still described this way; the room generator rotates the footprint by 90 degrees when
it turns the object.

``CATEGORIES`` (label -> Category) is the lookup other modules use (the simulator reads
``shape`` and ``size_min``/``size_max`` as shape hints).
"""

from __future__ import annotations

from dataclasses import dataclass

# How an object is placed in a room.
FLOOR_WALL = "floor_wall"      # on the floor, back against a wall (bed, wardrobe, desk...)
FLOOR_FREE = "floor_free"      # on the floor, free-standing (table, chair, plant...)
ON_SURFACE = "on_surface"      # resting on top of a support surface (mug, lamp...)
WALL_MOUNTED = "wall_mounted"  # hung on a wall at some height (window, picture, tv...)
PLACEMENTS = (FLOOR_WALL, FLOOR_FREE, ON_SURFACE, WALL_MOUNTED)

ROOM_TYPES = ("kitchen", "bedroom", "office", "living_room", "bathroom", "dining_room",
              "meeting_room", "classroom")

# Colour words used for objects (one word each: the executor matches them as concepts).
COLORS = ("white", "black", "grey", "brown", "beige", "red", "orange", "yellow", "green",
          "blue", "purple", "pink", "silver")

# Material adjectives stored in SceneObject.attributes.
MATERIALS = ("wooden", "metal", "plastic", "glass", "fabric", "leather", "ceramic", "marble",
             "paper", "stone")


@dataclass(frozen=True)
class Category:
    label: str
    size_min: tuple[float, float, float]   # (w, d, h) metres
    size_max: tuple[float, float, float]
    colors: tuple[str, ...]
    materials: tuple[str, ...]
    placement: str
    rooms: tuple[str, ...]
    train_synonyms: tuple[str, ...]
    heldout_synonyms: tuple[str, ...] = ()
    support: bool = False          # small objects can rest on its top
    facing: bool = False           # has a meaningful front (chair, sofa, bed, tv...)
    mount_height: tuple[float, float] | None = None  # centre height range, wall-mounted only
    supports_on: tuple[str, ...] = ()  # ON_SURFACE only: labels it may rest on
    shape: str = "box"             # rendering hint for the simulator
    plural: str | None = None      # irregular plural ("shelves")

    @property
    def plural_label(self) -> str:
        return self.plural or pluralize(self.label)

    def all_synonyms(self) -> tuple[str, ...]:
        return self.train_synonyms + self.heldout_synonyms


def pluralize(noun: str) -> str:
    """English plural of a (possibly multi-word) noun phrase: inflect the head (last word),
    except 'chest of drawers' style phrases whose head comes first."""
    if " of " in noun:
        head, rest = noun.split(" of ", 1)
        return f"{pluralize(head)} of {rest}"
    words = noun.split(" ")
    w = words[-1]
    irregular = {"shelf": "shelves", "glass": "glasses", "box": "boxes", "dish": "dishes",
                 "bench": "benches", "couch": "couches", "mattress": "mattresses",
                 "bookshelf": "bookshelves", "ledge": "ledges", "bath": "baths",
                 "tv": "tvs", "loo": "loos", "hob": "hobs"}
    if w in irregular:
        w = irregular[w]
    elif w.endswith(("s", "x", "ch", "sh")):
        w = w + "es"
    elif w.endswith("y") and len(w) > 1 and w[-2] not in "aeiou":
        w = w[:-1] + "ies"
    else:
        w = w + "s"
    return " ".join(words[:-1] + [w])


# Shorthands for the table below.
_WOODY = ("brown", "white", "black", "beige", "grey")
_SMALL = ("white", "black", "red", "blue", "green", "yellow", "grey", "orange", "pink", "purple")
_DESKS = ("desk", "table", "dining table", "coffee table", "side table", "nightstand", "dresser",
          "counter", "shelf", "bookshelf", "tv stand", "cabinet", "filing cabinet")
_ALL = ROOM_TYPES


def _c(label, smin, smax, colors, materials, placement, rooms, train, heldout=(), **kw) -> Category:
    return Category(label, tuple(smin), tuple(smax), tuple(colors), tuple(materials), placement,
                    tuple(rooms), tuple(train), tuple(heldout), **kw)


_TABLE: list[Category] = [
    # --- large furniture against walls -------------------------------------------------
    _c("bed", (1.0, 1.95, 0.45), (1.8, 2.15, 0.65), ("white", "grey", "beige", "blue", "brown"),
       ("wooden", "fabric"), FLOOR_WALL, ("bedroom",), ("bed",), ("bedstead",),
       support=True, facing=True, shape="bed"),
    _c("wardrobe", (0.9, 0.55, 1.8), (2.0, 0.65, 2.3), _WOODY, ("wooden",), FLOOR_WALL,
       ("bedroom",), ("wardrobe",), ("armoire", "closet"), facing=True, shape="cabinet"),
    _c("dresser", (0.8, 0.4, 0.75), (1.6, 0.55, 1.1), _WOODY, ("wooden",), FLOOR_WALL,
       ("bedroom", "living_room"), ("dresser", "chest of drawers"), ("tallboy",),
       support=True, facing=True, shape="cabinet"),
    _c("nightstand", (0.4, 0.35, 0.45), (0.6, 0.45, 0.65), _WOODY, ("wooden",), FLOOR_WALL,
       ("bedroom",), ("nightstand", "bedside table"), ("night table",),
       support=True, facing=True, shape="cabinet"),
    _c("bookshelf", (0.6, 0.28, 1.2), (1.2, 0.4, 2.0), _WOODY, ("wooden", "metal"), FLOOR_WALL,
       ("office", "living_room", "bedroom", "classroom"), ("bookshelf", "bookcase"), ("book rack",),
       support=True, facing=True, shape="shelf", plural="bookshelves"),
    _c("cabinet", (0.6, 0.4, 0.8), (1.4, 0.6, 1.2), _WOODY, ("wooden", "metal"), FLOOR_WALL,
       ("kitchen", "office", "living_room", "bathroom", "dining_room", "meeting_room", "classroom"),
       ("cabinet",), ("cupboard",), support=True, facing=True, shape="cabinet"),
    _c("filing cabinet", (0.4, 0.5, 0.7), (0.5, 0.65, 1.35), ("grey", "black", "white", "beige"),
       ("metal",), FLOOR_WALL, ("office",), ("filing cabinet",), ("file drawer",),
       support=True, facing=True, shape="cabinet"),
    _c("counter", (1.2, 0.6, 0.88), (2.8, 0.65, 0.94), ("white", "grey", "black", "beige", "brown"),
       ("marble", "wooden", "stone"), FLOOR_WALL, ("kitchen",), ("counter", "countertop"),
       ("worktop",), support=True, facing=True, shape="cabinet"),
    _c("refrigerator", (0.6, 0.6, 1.5), (0.9, 0.75, 1.95), ("white", "silver", "black", "grey"),
       ("metal",), FLOOR_WALL, ("kitchen",), ("refrigerator", "fridge"), ("icebox",),
       facing=True, shape="cabinet"),
    _c("stove", (0.55, 0.6, 0.85), (0.9, 0.65, 0.95), ("white", "silver", "black"), ("metal",),
       FLOOR_WALL, ("kitchen",), ("stove",), ("cooker", "hob"), support=True, facing=True,
       shape="cabinet"),
    _c("dishwasher", (0.45, 0.57, 0.82), (0.6, 0.62, 0.87), ("white", "silver", "black"),
       ("metal",), FLOOR_WALL, ("kitchen",), ("dishwasher",), ("dish machine",), facing=True,
       shape="cabinet"),
    _c("washing machine", (0.58, 0.55, 0.82), (0.62, 0.65, 0.87), ("white", "silver", "grey"),
       ("metal",), FLOOR_WALL, ("bathroom", "kitchen"), ("washing machine", "washer"),
       ("laundry machine",), support=True, facing=True, shape="cabinet"),
    _c("sink", (0.5, 0.42, 0.8), (1.2, 0.55, 0.9), ("white", "grey", "beige"),
       ("ceramic", "stone"), FLOOR_WALL, ("bathroom",), ("sink",), ("washbasin",),
       support=True, facing=True, shape="cabinet"),
    _c("toilet", (0.36, 0.6, 0.7), (0.45, 0.75, 0.85), ("white",), ("ceramic",), FLOOR_WALL,
       ("bathroom",), ("toilet",), ("lavatory", "loo"), facing=True, shape="toilet"),
    _c("bathtub", (0.7, 1.5, 0.5), (0.85, 1.8, 0.62), ("white", "beige"), ("ceramic",), FLOOR_WALL,
       ("bathroom",), ("bathtub", "tub"), ("bath",), facing=True, shape="bathtub"),
    _c("desk", (1.0, 0.55, 0.72), (1.8, 0.85, 0.78), _WOODY, ("wooden", "metal"), FLOOR_WALL,
       ("office", "bedroom", "classroom"), ("desk",), ("bureau",), support=True, facing=True,
       shape="table"),
    _c("sofa", (1.6, 0.8, 0.75), (2.6, 1.0, 0.95), ("grey", "beige", "blue", "green", "brown", "black", "red"),
       ("fabric", "leather"), FLOOR_WALL, ("living_room",), ("sofa",), ("couch",),
       facing=True, shape="sofa"),
    _c("tv stand", (1.0, 0.35, 0.4), (1.8, 0.5, 0.6), _WOODY, ("wooden", "glass"), FLOOR_WALL,
       ("living_room", "bedroom"), ("tv stand", "tv cabinet"), ("media console",),
       support=True, facing=True, shape="cabinet"),
    _c("piano", (1.4, 0.55, 1.1), (1.55, 0.65, 1.3), ("black", "brown", "white"), ("wooden",),
       FLOOR_WALL, ("living_room", "classroom"), ("piano",), ("pianoforte",), support=True,
       facing=True, shape="cabinet"),
    # --- free-standing furniture ------------------------------------------------------
    _c("table", (0.8, 0.6, 0.7), (1.6, 1.0, 0.78), _WOODY, ("wooden", "metal", "glass"), FLOOR_FREE,
       ("kitchen", "office", "living_room", "classroom", "meeting_room"), ("table",), ("worktable",),
       support=True, shape="table"),
    _c("dining table", (1.2, 0.8, 0.72), (2.2, 1.1, 0.78), _WOODY, ("wooden", "glass"), FLOOR_FREE,
       ("dining_room", "kitchen", "meeting_room"), ("dining table",), ("kitchen table",),
       support=True, shape="table"),
    _c("coffee table", (0.8, 0.5, 0.35), (1.3, 0.8, 0.5), _WOODY, ("wooden", "glass"), FLOOR_FREE,
       ("living_room",), ("coffee table",), ("cocktail table",), support=True, shape="table"),
    _c("side table", (0.4, 0.4, 0.5), (0.6, 0.6, 0.65), _WOODY, ("wooden", "metal"), FLOOR_FREE,
       ("living_room", "bedroom"), ("side table", "end table"), ("occasional table",),
       support=True, shape="table"),
    _c("chair", (0.42, 0.45, 0.8), (0.55, 0.58, 1.0), ("black", "brown", "white", "grey", "red", "blue", "green"),
       ("wooden", "plastic", "metal"), FLOOR_FREE,
       ("kitchen", "office", "living_room", "dining_room", "meeting_room", "classroom", "bedroom"),
       ("chair",), ("seat",), facing=True, shape="chair"),
    _c("office chair", (0.55, 0.55, 0.9), (0.7, 0.7, 1.2), ("black", "grey", "blue", "red"),
       ("fabric", "leather", "plastic"), FLOOR_FREE, ("office", "meeting_room"),
       ("office chair", "desk chair"), ("swivel chair",), facing=True, shape="chair"),
    _c("armchair", (0.7, 0.7, 0.75), (1.0, 0.95, 1.05), ("grey", "beige", "blue", "green", "brown", "red"),
       ("fabric", "leather"), FLOOR_FREE, ("living_room", "bedroom"), ("armchair",), ("easy chair",),
       facing=True, shape="sofa"),
    _c("stool", (0.3, 0.3, 0.45), (0.4, 0.4, 0.8), ("black", "brown", "white", "silver"),
       ("wooden", "metal"), FLOOR_FREE, ("kitchen", "bathroom", "classroom"), ("stool",),
       ("barstool",), shape="cylinder"),
    _c("ottoman", (0.4, 0.4, 0.35), (0.8, 0.6, 0.45), ("grey", "beige", "brown", "blue"),
       ("fabric", "leather"), FLOOR_FREE, ("living_room", "bedroom"), ("ottoman", "footstool"),
       ("pouf",), shape="box"),
    _c("plant", (0.3, 0.3, 0.5), (0.6, 0.6, 1.6), ("green",), ("ceramic", "plastic"), FLOOR_FREE,
       _ALL, ("plant", "potted plant"), ("houseplant",), shape="plant"),
    _c("floor lamp", (0.25, 0.25, 1.4), (0.45, 0.45, 1.8), ("black", "white", "silver", "brown"),
       ("metal",), FLOOR_FREE, ("living_room", "bedroom", "office"), ("floor lamp", "standing lamp"),
       ("torchiere",), shape="lamp"),
    _c("trash can", (0.25, 0.25, 0.3), (0.4, 0.4, 0.7), ("grey", "black", "white", "silver", "blue"),
       ("plastic", "metal"), FLOOR_FREE, _ALL, ("trash can", "bin"), ("wastebasket", "garbage can"),
       shape="cylinder"),
    _c("laundry basket", (0.35, 0.35, 0.4), (0.55, 0.45, 0.65), ("white", "beige", "grey", "blue"),
       ("plastic", "fabric"), FLOOR_FREE, ("bedroom", "bathroom"), ("laundry basket",), ("hamper",),
       shape="cylinder"),
    _c("coat rack", (0.4, 0.4, 1.6), (0.6, 0.6, 1.9), ("black", "brown", "silver"), ("metal", "wooden"),
       FLOOR_FREE, ("office", "living_room", "meeting_room"), ("coat rack", "coat stand"),
       ("hat stand",), shape="lamp"),
    _c("storage box", (0.3, 0.25, 0.2), (0.6, 0.45, 0.4), ("brown", "white", "grey", "blue"),
       ("paper", "plastic"), FLOOR_FREE, ("office", "bedroom", "classroom", "living_room"),
       ("storage box", "box"), ("crate",), shape="box"),
    _c("backpack", (0.28, 0.18, 0.4), (0.36, 0.25, 0.55), ("black", "blue", "red", "grey", "green"),
       ("fabric",), FLOOR_FREE, ("bedroom", "office", "classroom"), ("backpack", "bag"),
       ("rucksack",), shape="box"),
    # --- small objects on surfaces ----------------------------------------------------
    _c("mug", (0.08, 0.08, 0.09), (0.1, 0.1, 0.12), _SMALL, ("ceramic",), ON_SURFACE,
       ("kitchen", "office", "living_room", "dining_room", "meeting_room"), ("mug",), ("coffee mug",),
       supports_on=("desk", "table", "dining table", "coffee table", "counter", "side table", "nightstand"),
       shape="cylinder"),
    _c("cup", (0.07, 0.07, 0.08), (0.09, 0.09, 0.11), _SMALL, ("ceramic", "glass", "plastic"),
       ON_SURFACE, ("kitchen", "dining_room", "living_room", "meeting_room"), ("cup",), ("teacup",),
       supports_on=("table", "dining table", "coffee table", "counter", "side table"), shape="cylinder"),
    _c("bottle", (0.07, 0.07, 0.2), (0.1, 0.1, 0.32), ("green", "blue", "white", "brown", "silver"),
       ("glass", "plastic"), ON_SURFACE, ("kitchen", "dining_room", "office", "meeting_room", "bathroom"),
       ("bottle",), ("flask",),
       supports_on=("desk", "table", "dining table", "counter", "sink", "shelf", "cabinet"),
       shape="cylinder"),
    _c("bowl", (0.14, 0.14, 0.06), (0.28, 0.28, 0.12), ("white", "blue", "green", "brown", "red"),
       ("ceramic", "glass", "wooden"), ON_SURFACE, ("kitchen", "dining_room", "living_room"),
       ("bowl",), ("dish",), supports_on=("table", "dining table", "coffee table", "counter"),
       shape="cylinder"),
    _c("plate", (0.2, 0.2, 0.02), (0.3, 0.3, 0.03), ("white", "blue", "beige"), ("ceramic",),
       ON_SURFACE, ("kitchen", "dining_room"), ("plate",), ("platter",),
       supports_on=("table", "dining table", "counter"), shape="cylinder"),
    _c("book", (0.14, 0.2, 0.02), (0.22, 0.3, 0.06), ("red", "blue", "green", "yellow", "black", "white", "orange"),
       ("paper",), ON_SURFACE, ("office", "bedroom", "living_room", "classroom", "meeting_room"),
       ("book",), ("novel",),
       supports_on=("desk", "table", "coffee table", "nightstand", "shelf", "bookshelf", "side table", "bed", "dresser"),
       shape="box"),
    _c("laptop", (0.3, 0.22, 0.02), (0.4, 0.28, 0.03), ("silver", "black", "grey", "white"),
       ("metal", "plastic"), ON_SURFACE, ("office", "bedroom", "living_room", "meeting_room", "classroom"),
       ("laptop",), ("notebook computer",),
       supports_on=("desk", "table", "coffee table", "bed", "dining table"), shape="box"),
    _c("monitor", (0.5, 0.18, 0.35), (0.7, 0.25, 0.5), ("black", "silver", "white"), ("plastic",),
       ON_SURFACE, ("office",), ("monitor", "computer screen"), ("display",), facing=True,
       supports_on=("desk",), shape="screen"),
    _c("keyboard", (0.35, 0.12, 0.02), (0.45, 0.16, 0.04), ("black", "white", "grey"), ("plastic",),
       ON_SURFACE, ("office",), ("keyboard",), ("keypad",), supports_on=("desk",), shape="box"),
    _c("lamp", (0.15, 0.15, 0.3), (0.3, 0.3, 0.6), ("white", "black", "silver", "yellow", "beige"),
       ("metal", "ceramic", "glass"), ON_SURFACE, ("bedroom", "office", "living_room"),
       ("lamp", "table lamp", "desk lamp"), ("reading light",),
       supports_on=("desk", "nightstand", "side table", "dresser", "table"), shape="lamp"),
    _c("vase", (0.1, 0.1, 0.2), (0.2, 0.2, 0.45), ("white", "blue", "green", "red", "yellow"),
       ("ceramic", "glass"), ON_SURFACE, ("living_room", "dining_room", "bedroom"), ("vase",), ("urn",),
       supports_on=("coffee table", "dining table", "side table", "dresser", "shelf", "tv stand", "table", "cabinet"),
       shape="cylinder"),
    _c("clock", (0.25, 0.05, 0.25), (0.4, 0.06, 0.4), ("white", "black", "silver", "brown"),
       ("plastic", "wooden", "metal"), WALL_MOUNTED, _ALL, ("clock",), ("wall clock",),
       mount_height=(1.8, 2.1), shape="disc"),
    _c("phone", (0.07, 0.14, 0.01), (0.08, 0.17, 0.015), ("black", "white", "silver"), ("glass",),
       ON_SURFACE, ("office", "bedroom", "living_room", "meeting_room"), ("phone",), ("smartphone",),
       supports_on=("desk", "nightstand", "coffee table", "table", "side table"), shape="box"),
    _c("speaker", (0.12, 0.12, 0.18), (0.25, 0.25, 0.4), ("black", "grey", "white"), ("plastic", "wooden"),
       ON_SURFACE, ("living_room", "office", "meeting_room"), ("speaker",), ("loudspeaker",),
       facing=True, supports_on=("tv stand", "desk", "shelf", "bookshelf", "table"), shape="box"),
    _c("remote control", (0.04, 0.15, 0.02), (0.06, 0.22, 0.03), ("black", "grey", "white"),
       ("plastic",), ON_SURFACE, ("living_room", "bedroom", "meeting_room"), ("remote control", "remote"),
       ("clicker",), supports_on=("coffee table", "tv stand", "side table", "nightstand", "table"),
       shape="box"),
    _c("printer", (0.4, 0.35, 0.2), (0.55, 0.45, 0.35), ("white", "black", "grey"), ("plastic",),
       ON_SURFACE, ("office",), ("printer",), ("copier",), facing=True,
       supports_on=("desk", "table", "filing cabinet", "cabinet"), shape="box"),
    _c("microwave", (0.45, 0.32, 0.26), (0.55, 0.42, 0.32), ("white", "black", "silver"), ("metal",),
       ON_SURFACE, ("kitchen",), ("microwave",), ("microwave oven",), facing=True,
       supports_on=("counter",), shape="box"),
    _c("toaster", (0.25, 0.15, 0.18), (0.35, 0.2, 0.22), ("silver", "white", "red", "black"), ("metal",),
       ON_SURFACE, ("kitchen",), ("toaster",), ("bread toaster",), supports_on=("counter",), shape="box"),
    _c("kettle", (0.15, 0.15, 0.2), (0.22, 0.22, 0.28), ("silver", "white", "black", "red"),
       ("metal", "plastic"), ON_SURFACE, ("kitchen", "meeting_room"), ("kettle",), ("electric kettle",),
       supports_on=("counter", "stove", "table"), shape="cylinder"),
    _c("coffee maker", (0.2, 0.25, 0.3), (0.3, 0.4, 0.42), ("black", "silver", "red", "white"),
       ("metal", "plastic"), ON_SURFACE, ("kitchen", "office"), ("coffee maker", "coffee machine"),
       ("espresso machine",), supports_on=("counter", "cabinet", "table"), shape="box"),
    _c("soap dispenser", (0.06, 0.06, 0.15), (0.09, 0.09, 0.22), ("white", "silver", "green", "blue"),
       ("plastic", "glass"), ON_SURFACE, ("bathroom", "kitchen"), ("soap dispenser",), ("soap pump",),
       supports_on=("sink", "counter"), shape="cylinder"),
    _c("towel", (0.3, 0.2, 0.06), (0.5, 0.3, 0.12), ("white", "blue", "beige", "green", "pink"),
       ("fabric",), ON_SURFACE, ("bathroom",), ("towel",), ("hand towel",),
       supports_on=("sink", "cabinet", "washing machine", "shelf"), shape="box"),
    _c("pillow", (0.45, 0.3, 0.12), (0.7, 0.45, 0.2), ("white", "grey", "beige", "blue", "red", "yellow"),
       ("fabric",), ON_SURFACE, ("bedroom",), ("pillow", "cushion"), ("bolster",), supports_on=("bed",),
       shape="box"),
    _c("candle", (0.05, 0.05, 0.08), (0.1, 0.1, 0.25), ("white", "red", "beige", "purple"), ("paper",),
       ON_SURFACE, ("living_room", "dining_room", "bedroom", "bathroom"), ("candle",), ("taper",),
       supports_on=("dining table", "coffee table", "side table", "dresser", "shelf", "nightstand"),
       shape="cylinder"),
    _c("tissue box", (0.2, 0.11, 0.08), (0.25, 0.13, 0.12), ("white", "blue", "pink", "green"),
       ("paper",), ON_SURFACE, ("bedroom", "bathroom", "living_room", "office"), ("tissue box",),
       ("kleenex box",), supports_on=("nightstand", "desk", "coffee table", "sink", "side table"),
       shape="box"),
    _c("picture frame", (0.12, 0.04, 0.15), (0.25, 0.06, 0.3), ("black", "white", "brown", "silver"),
       ("wooden", "metal"), ON_SURFACE, ("bedroom", "living_room", "office"), ("picture frame",),
       ("photo frame",), facing=True,
       supports_on=("desk", "nightstand", "dresser", "shelf", "side table", "tv stand"), shape="box"),
    # --- wall-mounted ------------------------------------------------------------------
    _c("door", (0.8, 0.04, 1.95), (1.0, 0.06, 2.1), ("white", "brown", "grey"), ("wooden",), WALL_MOUNTED,
       _ALL, ("door",), ("doorway",), mount_height=(0.975, 1.05), shape="door"),
    _c("window", (0.8, 0.1, 1.0), (1.8, 0.15, 1.3), ("white", "brown", "grey", "black"), ("glass",),
       WALL_MOUNTED, _ALL, ("window",), ("windowpane",), mount_height=(1.45, 1.65), shape="window"),
    _c("picture", (0.4, 0.03, 0.3), (1.2, 0.05, 0.9), ("blue", "green", "red", "yellow", "black", "white", "orange"),
       ("paper", "wooden"), WALL_MOUNTED,
       ("bedroom", "living_room", "office", "dining_room", "meeting_room", "kitchen"),
       ("picture", "painting"), ("artwork",), mount_height=(1.35, 1.7), shape="panel"),
    _c("tv", (0.9, 0.08, 0.55), (1.6, 0.1, 0.95), ("black", "silver"), ("plastic", "glass"), WALL_MOUNTED,
       ("living_room", "bedroom", "meeting_room"), ("tv", "television"), ("telly",), facing=True,
       mount_height=(1.1, 1.4), shape="screen"),
    _c("mirror", (0.4, 0.03, 0.6), (1.0, 0.05, 1.2), ("silver",), ("glass",), WALL_MOUNTED,
       ("bathroom", "bedroom", "living_room"), ("mirror",), ("looking glass",), mount_height=(1.45, 1.65),
       shape="panel"),
    _c("shelf", (0.6, 0.22, 0.03), (1.2, 0.3, 0.05), ("white", "brown", "black", "grey"), ("wooden", "metal"),
       WALL_MOUNTED, ("living_room", "bedroom", "office", "kitchen", "bathroom", "classroom"),
       ("shelf", "wall shelf"), ("ledge",), support=True, mount_height=(1.2, 1.6), shape="box",
       plural="shelves"),
    _c("whiteboard", (1.2, 0.03, 0.9), (2.4, 0.05, 1.2), ("white",), ("plastic", "metal"), WALL_MOUNTED,
       ("office", "meeting_room", "classroom"), ("whiteboard",), ("dry-erase board",), facing=True,
       mount_height=(1.4, 1.55), shape="panel"),
    _c("radiator", (0.6, 0.1, 0.4), (1.4, 0.14, 0.65), ("white", "grey", "silver"), ("metal",),
       WALL_MOUNTED, _ALL, ("radiator", "heater"), ("heating panel",), mount_height=(0.35, 0.45),
       shape="box"),
    _c("air conditioner", (0.75, 0.2, 0.25), (1.0, 0.28, 0.32), ("white", "grey"), ("plastic",),
       WALL_MOUNTED, ("bedroom", "living_room", "office", "meeting_room", "classroom"),
       ("air conditioner",), ("ac unit",), mount_height=(2.15, 2.3), shape="box"),
    _c("towel rack", (0.4, 0.08, 0.05), (0.7, 0.12, 0.08), ("silver", "white", "black"), ("metal",),
       WALL_MOUNTED, ("bathroom",), ("towel rack", "towel rail"), ("towel bar",),
       mount_height=(0.9, 1.2), shape="box"),
]

CATEGORIES: dict[str, Category] = {c.label: c for c in _TABLE}
SUPPORT_LABELS: tuple[str, ...] = tuple(c.label for c in _TABLE if c.support)
FACING_LABELS: tuple[str, ...] = tuple(c.label for c in _TABLE if c.facing)


def categories_for_room(room_type: str) -> list[Category]:
    """Every category that may appear in ``room_type``, in table order."""
    if room_type not in ROOM_TYPES:
        raise ValueError(f"unknown room type {room_type!r}; known: {', '.join(ROOM_TYPES)}")
    return [c for c in _TABLE if room_type in c.rooms]


def get_category(label: str) -> Category:
    """The category for ``label``; ValueError naming the label when it is unknown."""
    if not isinstance(label, str):
        raise TypeError(f"label must be a string, got {type(label).__name__}")
    try:
        return CATEGORIES[label]
    except KeyError:
        raise ValueError(f"unknown category {label!r}") from None


def synonym_map(include_heldout: bool = False) -> dict[str, str]:
    """Every synonym (singular and plural) -> its category label, e.g. 'couches' -> 'sofa'.

    Train synonyms only by default: a parser or matcher that learns from training data
    must not be handed the held-out words (that would void the held-out test)."""
    out: dict[str, str] = {}
    for c in _TABLE:
        words = c.train_synonyms + (c.heldout_synonyms if include_heldout else ())
        for w in words:
            out.setdefault(w, c.label)
            out.setdefault(c.plural_label if w == c.label else pluralize(w), c.label)
    return out


def _check_table() -> None:
    """Catch table typos at import: they would silently produce nonsense rooms."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(f"categories table: {what}")

    for c in _TABLE:
        need(c.placement in PLACEMENTS, f"{c.label}: bad placement {c.placement!r}")
        need(all(0 < a <= b for a, b in zip(c.size_min, c.size_max)), f"{c.label}: bad size range")
        need(set(c.colors) <= set(COLORS), f"{c.label}: unknown colour")
        need(set(c.materials) <= set(MATERIALS), f"{c.label}: unknown material")
        need(set(c.rooms) <= set(ROOM_TYPES), f"{c.label}: unknown room type")
        need(bool(c.train_synonyms) and c.label in c.train_synonyms, f"{c.label}: label not a train synonym")
        need(not set(c.train_synonyms) & set(c.heldout_synonyms), f"{c.label}: synonym in both splits")
        need((c.placement == WALL_MOUNTED) == (c.mount_height is not None), f"{c.label}: mount height")
        if c.placement == ON_SURFACE:
            need(bool(c.supports_on), f"{c.label}: no supports")
            for s in c.supports_on:
                need(s in CATEGORIES and CATEGORIES[s].support, f"{c.label}: {s!r} is not a support")
    need(len(CATEGORIES) == len(_TABLE), "duplicate labels")


_check_table()
