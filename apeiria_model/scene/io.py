"""Scene JSON v1: load, validate, save.

The format is a public contract (docs/scene-format.md). Validation names the exact
offending field, e.g. ``objects[3].size[1] must be > 0``, and never raises anything
but :class:`SceneValidationError` for bad content, or ``OSError`` for a file that
cannot be read.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from apeiria_model.atomic_io import write_json_atomic
from apeiria_model.scene.model import Scene, SceneObject, Viewpoint

SCENE_FORMAT_VERSION = 1
MAX_OBJECTS = 100_000
MAX_LABEL_CHARS = 256


class SceneValidationError(ValueError):
    """A scene document breaks the Scene JSON v1 contract; ``path`` names the field."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path} {problem}" if path else problem)


def _finite_number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SceneValidationError(path, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise SceneValidationError(path, "must be finite")
    return float(value)


def _vec3(value: Any, path: str, positive: bool = False) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)):
        raise SceneValidationError(path, f"must be a list of 3 numbers, got {type(value).__name__}")
    if len(value) != 3:
        raise SceneValidationError(path, f"must have 3 elements, got {len(value)}")
    out = []
    for i, v in enumerate(value):
        x = _finite_number(v, f"{path}[{i}]")
        if positive and x <= 0:
            raise SceneValidationError(f"{path}[{i}]", "must be > 0")
        out.append(x)
    return (out[0], out[1], out[2])


def _string(value: Any, path: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise SceneValidationError(path, f"must be a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise SceneValidationError(path, "must not be empty")
    if len(value) > MAX_LABEL_CHARS:
        raise SceneValidationError(path, f"must be at most {MAX_LABEL_CHARS} characters")
    return value.strip()


def object_from_dict(d: Any, path: str = "object") -> SceneObject:
    if not isinstance(d, dict):
        raise SceneValidationError(path, f"must be an object, got {type(d).__name__}")
    for key in ("id", "label", "center", "size"):
        if key not in d:
            raise SceneValidationError(f"{path}.{key}", "is required")
    oid = d["id"]
    if isinstance(oid, bool) or not isinstance(oid, int):
        raise SceneValidationError(f"{path}.id", f"must be an integer, got {type(oid).__name__}")
    if oid < 0:
        raise SceneValidationError(f"{path}.id", "must be >= 0")
    label = _string(d["label"], f"{path}.label")
    center = _vec3(d["center"], f"{path}.center")
    size = _vec3(d["size"], f"{path}.size", positive=True)
    color = None
    if d.get("color") is not None:
        color = _string(d["color"], f"{path}.color")
    attributes: tuple[str, ...] = ()
    if d.get("attributes") is not None:
        if not isinstance(d["attributes"], list):
            raise SceneValidationError(f"{path}.attributes", "must be a list of strings")
        attributes = tuple(_string(a, f"{path}.attributes[{i}]") for i, a in enumerate(d["attributes"]))
    front = None
    if d.get("front") is not None:
        front = _vec3(d["front"], f"{path}.front")
        if math.hypot(*front) < 1e-9:
            raise SceneValidationError(f"{path}.front", "must not be the zero vector")
    score = None
    if d.get("score") is not None:
        score = _finite_number(d["score"], f"{path}.score")
    features = None
    if d.get("features") is not None:
        f = d["features"]
        if not isinstance(f, list):
            raise SceneValidationError(f"{path}.features", "must be a list of numbers")
        features = tuple(_finite_number(v, f"{path}.features[{i}]") for i, v in enumerate(f))
    return SceneObject(oid, label, center, size, color, attributes, front, score, features)


def scene_from_dict(doc: Any) -> Scene:
    """Validate a decoded Scene JSON v1 document and build a :class:`Scene`."""
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
    if not isinstance(raw, list):
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
    return Scene(scene_id, tuple(objects), frame_id, viewpoint)


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
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SceneValidationError("", f"not valid JSON: {e}") from None
    except RecursionError:
        raise SceneValidationError("", "not valid JSON: nested too deeply") from None
    return scene_from_dict(doc)


def load_scene(path: str | os.PathLike) -> Scene:
    """Read and validate a Scene JSON v1 file."""
    data = Path(path).read_bytes()
    try:
        return loads_scene(data)
    except SceneValidationError as e:
        raise SceneValidationError(e.path, e.problem + f" (in {path})") from None


def save_scene(scene: Scene, path: str | os.PathLike, with_features: bool = False) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    write_json_atomic(path, scene_to_dict(scene, with_features), indent=1)
