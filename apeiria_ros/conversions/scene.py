"""apeiria_model Scene <-> apeiria/SceneMap (and SceneObject <-> DetectedObject)."""

from __future__ import annotations

from apeiria_model.scene.io import SceneValidationError, object_from_dict, scene_from_dict
from apeiria_model.scene.model import Scene, SceneObject

SCORE_UNKNOWN = -1.0


class SceneMessageError(SceneValidationError):
    """A SceneMap whose content breaks the Scene contract (NaN centre, size <= 0...).

    The rules and messages are the Scene JSON validator's (apeiria_model.scene.io):
    a message field is named by its Scene JSON name, e.g. ``objects[2].size[1] must be > 0``.
    """


def object_to_msg(o: SceneObject):
    from vision_msgs.msg import ObjectHypothesis

    from apeiria.msg import DetectedObject

    m = DetectedObject()
    m.id = int(o.id)
    m.label = o.label
    m.score = float(o.score) if o.score is not None else SCORE_UNKNOWN
    m.results = [ObjectHypothesis(class_id=o.label, score=m.score if o.score is not None else 1.0)]
    m.bbox.center.position.x, m.bbox.center.position.y, m.bbox.center.position.z = (float(v) for v in o.center)
    m.bbox.center.orientation.w = 1.0
    m.bbox.size.x, m.bbox.size.y, m.bbox.size.z = (float(v) for v in o.size)
    m.color = o.color or ""
    m.attributes = list(o.attributes)
    if o.front is not None:
        m.has_front = True
        m.front.x, m.front.y, m.front.z = (float(v) for v in o.front)
    if o.features is not None:
        m.features = [float(v) for v in o.features]
    return m


def _object_doc(m) -> dict:
    """A DetectedObject as the Scene JSON object the shared validator checks."""
    c, z = m.bbox.center.position, m.bbox.size
    return {"id": m.id, "label": m.label, "center": [c.x, c.y, c.z], "size": [z.x, z.y, z.z],
            "color": m.color or None, "attributes": list(m.attributes),
            "front": [m.front.x, m.front.y, m.front.z] if m.has_front else None,
            # SCORE_UNKNOWN (any negative score) means no confidence; NaN is refused
            "score": None if m.score < 0 else m.score,
            "features": [float(v) for v in m.features] if len(m.features) else None}


def msg_to_object(m, path: str = "object") -> SceneObject:
    try:
        return object_from_dict(_object_doc(m), path)
    except SceneValidationError as e:
        raise SceneMessageError(e.path, e.problem) from None


def scene_to_msg(scene: Scene, stamp=None):
    from apeiria.msg import SceneMap

    m = SceneMap()
    m.header.frame_id = scene.frame_id
    if stamp is not None:
        m.header.stamp = stamp
    m.scene_id = scene.scene_id
    m.objects = [object_to_msg(o) for o in scene.objects]
    if scene.viewpoint is not None:
        m.has_viewpoint = True
        (m.viewpoint_position.x, m.viewpoint_position.y, m.viewpoint_position.z) = scene.viewpoint.position
        (m.viewpoint_look_at.x, m.viewpoint_look_at.y, m.viewpoint_look_at.z) = scene.viewpoint.look_at
    return m


def msg_to_scene(m) -> Scene:
    """Validate a SceneMap by the Scene JSON rules (apeiria_model.scene.io) and build a Scene."""
    doc = {"scene_id": m.scene_id or "ros_scene", "frame_id": m.header.frame_id or "map",
           "objects": [_object_doc(o) for o in m.objects]}
    if m.has_viewpoint:
        p, q = m.viewpoint_position, m.viewpoint_look_at
        doc["viewpoint"] = {"position": [p.x, p.y, p.z], "look_at": [q.x, q.y, q.z]}
    try:
        return scene_from_dict(doc)
    except SceneValidationError as e:
        raise SceneMessageError(e.path, e.problem) from None
