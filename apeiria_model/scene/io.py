"""Scene JSON v1: load, validate, save.

The format is a public contract (docs/scene-format.md). Validation names the exact
offending field, e.g. ``objects[3].size[1] must be > 0``, and never raises anything
but :class:`SceneValidationError` for bad content, or ``OSError`` for a file that
cannot be read.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from typing import Any

import numpy as np

from apeiria_model.atomic_io import read_regular_file, write_json_atomic
from apeiria_model.sanitize import clean_text
from apeiria_model.scene.model import Scene, SceneObject, Viewpoint

SCENE_FORMAT_VERSION = 1
MAX_OBJECTS = 100_000
MAX_LABEL_CHARS = 256
MAX_ATTRIBUTES = 64
MAX_FEATURES = 4096
# Object ids fit a signed 32-bit integer (numpy, ROS int64 and JSON all hold them exactly).
MAX_ID = 2**31
# Geometry in metres: a room, a building, a campus fit; 1e30 (a broken pose) does not,
# and far from the origin float rounding would collapse a box to size 0.
MAX_COORD = 1e5
# Sizes below 1 micrometre would round to 0 in the saved file (6 decimals).
MIN_SIZE = 1e-6
# Bound for the other numbers (score, features): finite and at most this in magnitude.
MAX_VALUE = 1e9
# Scene files larger than this are refused before they are read.
MAX_SCENE_FILE_BYTES = 256 * 1024 * 1024


class SceneValidationError(ValueError):
    """A scene document breaks the Scene JSON v1 contract; ``path`` names the field."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path} {problem}" if path else problem)


def _finite_number(value: Any, path: str, limit: float = MAX_VALUE) -> float:
    """A real number within +-limit, as a float (ints checked before conversion, so a
    400-digit integer is an error, not an OverflowError)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise SceneValidationError(path, f"must be a number, got {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        if abs(int(value)) > limit:
            raise SceneValidationError(path, f"must be a number in [-{limit:g}, {limit:g}]")
        return float(value)
    x = float(value)
    if not math.isfinite(x):
        raise SceneValidationError(path, "must be finite")
    if abs(x) > limit:
        raise SceneValidationError(path, f"must be a number in [-{limit:g}, {limit:g}]")
    return x


def _vec3(value: Any, path: str, positive: bool = False) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)):
        raise SceneValidationError(path, f"must be a list of 3 numbers, got {type(value).__name__}")
    if len(value) != 3:
        raise SceneValidationError(path, f"must have 3 elements, got {len(value)}")
    out = []
    for i, v in enumerate(value):
        x = _finite_number(v, f"{path}[{i}]", MAX_COORD)
        if positive and x <= 0:
            raise SceneValidationError(f"{path}[{i}]", "must be > 0")
        if positive and x < MIN_SIZE:
            raise SceneValidationError(f"{path}[{i}]", f"must be >= {MIN_SIZE:g}")
        out.append(x)
    return (out[0], out[1], out[2])


def _string(value: Any, path: str, allow_empty: bool = False) -> str:
    """A bounded string, stripped, with control characters and lone surrogates replaced."""
    if not isinstance(value, str):
        raise SceneValidationError(path, f"must be a string, got {type(value).__name__}")
    if len(value) > MAX_LABEL_CHARS:
        raise SceneValidationError(path, f"must be at most {MAX_LABEL_CHARS} characters")
    value = clean_text(value).strip()
    if not allow_empty and not value:
        raise SceneValidationError(path, "must not be empty")
    return value


_FLOAT_TYPES = (float, np.float64, np.float32)


def _features(f: Any, path: str) -> tuple[float, ...]:
    """The same rule as :func:`_finite_number` per value, vectorised for plain floats
    (perception's feature vectors: hundreds of numbers per object, every publish)."""
    if all(type(v) in _FLOAT_TYPES for v in f):
        arr = np.asarray(f, dtype=np.float64)
        bad = ~(np.isfinite(arr) & (np.abs(arr) <= MAX_VALUE))
        if not bad.any():
            return tuple(arr.tolist())
        i = int(np.argmax(bad))
        _finite_number(f[i], f"{path}[{i}]")  # raises with the per-value message
    return tuple(_finite_number(v, f"{path}[{i}]") for i, v in enumerate(f))


def _object_id(value: Any, path: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise SceneValidationError(path, f"must be an integer in [0, 2^31), got {type(value).__name__}")
    if not 0 <= int(value) < MAX_ID:
        raise SceneValidationError(path, "must be an integer in [0, 2^31)")
    return int(value)


# Every number field is bounded far below this, so an integer literal too long to
# convert (Python refuses over 4300 digits) can stand in as this one and still be
# refused by the field's own rule, with the field's name.
_HUGE = 10**40


def _parse_int(text: str) -> int:
    if len(text) > 40:
        return -_HUGE if text.startswith("-") else _HUGE
    return int(text)


def object_from_dict(d: Any, path: str = "object") -> SceneObject:
    if not isinstance(d, dict):
        raise SceneValidationError(path, f"must be an object, got {type(d).__name__}")
    for key in ("id", "label", "center", "size"):
        if key not in d:
            raise SceneValidationError(f"{path}.{key}", "is required")
    oid = _object_id(d["id"], f"{path}.id")
    label = _string(d["label"], f"{path}.label")
    center = _vec3(d["center"], f"{path}.center")
    size = _vec3(d["size"], f"{path}.size", positive=True)
    color = None
    if d.get("color") is not None:
        color = _string(d["color"], f"{path}.color")
    attributes: tuple[str, ...] = ()
    if d.get("attributes") is not None:
        if not isinstance(d["attributes"], (list, tuple)):
            raise SceneValidationError(f"{path}.attributes", "must be a list of strings")
        if len(d["attributes"]) > MAX_ATTRIBUTES:
            raise SceneValidationError(f"{path}.attributes", f"must have at most {MAX_ATTRIBUTES} entries")
        attributes = tuple(_string(a, f"{path}.attributes[{i}]") for i, a in enumerate(d["attributes"]))
    front = None
    if d.get("front") is not None:
        front = _vec3(d["front"], f"{path}.front")
        if math.hypot(*front) < 1e-6:  # smaller would round to (0, 0, 0) in the saved file
            raise SceneValidationError(f"{path}.front", "must not be the zero vector")
    score = None
    if d.get("score") is not None:
        score = _finite_number(d["score"], f"{path}.score")
    features = None
    if d.get("features") is not None:
        f = d["features"]
        if not isinstance(f, (list, tuple)):
            raise SceneValidationError(f"{path}.features", "must be a list of numbers")
        if len(f) > MAX_FEATURES:
            raise SceneValidationError(f"{path}.features", f"must have at most {MAX_FEATURES} entries")
        features = _features(f, f"{path}.features")
    return SceneObject(oid, label, center, size, color, attributes, front, score, features)


def scene_from_dict(doc: Any) -> Scene:
    """Validate a decoded Scene JSON v1 document and build a :class:`Scene`.

    The one validator for scenes, whatever the way in: JSON files, SceneMap messages
    (apeiria_ros.conversions.scene), Scenes built in Python (:func:`validate_scene`)
    and perception's map all pass through here, so the rules and messages are the same.
    """
    if not isinstance(doc, dict):
        raise SceneValidationError("", f"scene must be a JSON object, got {type(doc).__name__}")
    if "scene_id" not in doc:
        raise SceneValidationError("scene_id", "is required")
    scene_id = _string(doc["scene_id"], "scene_id")
    frame_id = "map"
    if doc.get("frame_id") is not None:
        frame_id = _string(doc["frame_id"], "frame_id")
    viewpoint = None
    if doc.get("viewpoint") is not None:
        vp = doc["viewpoint"]
        if not isinstance(vp, dict):
            raise SceneValidationError("viewpoint", "must be an object with position and look_at")
        for key in ("position", "look_at"):
            if key not in vp:
                raise SceneValidationError(f"viewpoint.{key}", "is required")
        pos = _vec3(vp["position"], "viewpoint.position")
        look = _vec3(vp["look_at"], "viewpoint.look_at")
        if math.dist(pos[:2], look[:2]) < 1e-6:
            raise SceneValidationError("viewpoint.look_at", "must differ from position in x or y")
        viewpoint = Viewpoint(pos, look)
    if "objects" not in doc:
        raise SceneValidationError("objects", "is required")
    raw = doc["objects"]
    if not isinstance(raw, (list, tuple)):
        raise SceneValidationError("objects", f"must be a list, got {type(raw).__name__}")
    if len(raw) > MAX_OBJECTS:
        raise SceneValidationError("objects", f"must have at most {MAX_OBJECTS} entries")
    objects = []
    seen: dict[int, int] = {}
    for i, d in enumerate(raw):
        obj = object_from_dict(d, f"objects[{i}]")
        if obj.id in seen:
            raise SceneValidationError(f"objects[{i}].id", f"duplicates objects[{seen[obj.id]}].id ({obj.id})")
        seen[obj.id] = i
        objects.append(obj)
    scene = Scene(scene_id, tuple(objects), frame_id, viewpoint)
    object.__setattr__(scene, "_validated", True)
    return scene


def _raw_object(o: SceneObject) -> dict[str, Any]:
    return {"id": o.id, "label": o.label, "center": o.center, "size": o.size, "color": o.color,
            "attributes": o.attributes, "front": o.front, "score": o.score, "features": o.features}


def validate_scene(scene: Any) -> Scene:
    """Check a :class:`Scene` built in Python by the rules of :func:`scene_from_dict`.

    Returns the scene, or a copy with its strings cleaned if they needed it, or raises
    :class:`SceneValidationError` naming the field. The outcome is remembered on the
    scene, so calling this per query costs nothing after the first time.
    """
    if not isinstance(scene, Scene):
        raise SceneValidationError("", f"scene must be a Scene, got {type(scene).__name__}")
    checked = getattr(scene, "_validated_as", None)
    if checked is not None:
        return checked
    doc: dict[str, Any] = {"scene_id": scene.scene_id, "frame_id": scene.frame_id,
                           "objects": [_raw_object(o) if isinstance(o, SceneObject) else o for o in scene.objects]}
    if scene.viewpoint is not None:
        vp = scene.viewpoint
        doc["viewpoint"] = {"position": getattr(vp, "position", None), "look_at": getattr(vp, "look_at", None)}
    checked = scene_from_dict(doc)
    checked = scene if checked == scene else checked
    object.__setattr__(scene, "_validated_as", checked)  # the cleaned copy, when one was needed
    return checked


def object_to_dict(o: SceneObject, with_features: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": o.id,
        "label": o.label,
        "center": [round(v, 6) for v in o.center],
        "size": [round(v, 6) for v in o.size],
    }
    if o.color is not None:
        d["color"] = o.color
    if o.attributes:
        d["attributes"] = list(o.attributes)
    if o.front is not None:
        d["front"] = [round(v, 6) for v in o.front]
    if o.score is not None:
        d["score"] = round(o.score, 6)
    if with_features and o.features is not None:
        d["features"] = [round(v, 6) for v in o.features]
    return d


def scene_to_dict(scene: Scene, with_features: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {"scene_id": scene.scene_id, "frame_id": scene.frame_id}
    if scene.viewpoint is not None:
        d["viewpoint"] = {"position": list(scene.viewpoint.position), "look_at": list(scene.viewpoint.look_at)}
    d["objects"] = [object_to_dict(o, with_features) for o in scene.objects]
    return d


def loads_scene(text: str | bytes) -> Scene:
    try:
        doc = json.loads(text, parse_int=_parse_int)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SceneValidationError("", f"not valid JSON: {e}") from None
    except RecursionError:
        raise SceneValidationError("", "not valid JSON: nested too deeply") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise SceneValidationError("", f"not valid JSON: {str(e).split(';')[0]}") from None
    return scene_from_dict(doc)


def load_scene(path: str | os.PathLike, max_bytes: int = MAX_SCENE_FILE_BYTES) -> Scene:
    """Read and validate a Scene JSON v1 file (a regular file of at most ``max_bytes``;
    a FIFO or device is refused with ``OSError`` without blocking)."""
    data = read_regular_file(path, max_bytes)
    try:
        return loads_scene(data)
    except SceneValidationError as e:
        raise SceneValidationError(e.path, e.problem + f" (in {path})") from None


def save_scene(scene: Scene, path: str | os.PathLike, with_features: bool = False) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file.

    The scene is validated first: a file this writes always loads again.
    """
    scene = validate_scene(scene)
    write_json_atomic(path, scene_to_dict(scene, with_features), indent=1)
