"""apeiria_model Scene <-> apeiria/SceneMap (and SceneObject <-> DetectedObject)."""

from __future__ import annotations

import math

from apeiria_model.scene.model import Scene, SceneObject, Viewpoint

SCORE_UNKNOWN = -1.0


class SceneMessageError(ValueError):
    """A SceneMap whose content breaks the Scene contract (NaN centre, size <= 0...)."""


def object_to_msg(o: SceneObject):
    from apeiria.msg import DetectedObject, ObjectHypothesis

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


def msg_to_object(m, path: str = "object") -> SceneObject:
    c = (m.bbox.center.position.x, m.bbox.center.position.y, m.bbox.center.position.z)
    s = (m.bbox.size.x, m.bbox.size.y, m.bbox.size.z)
    if not all(math.isfinite(v) for v in c + s):
        raise SceneMessageError(f"{path}.bbox has a non-finite value")
    if min(s) <= 0:
        raise SceneMessageError(f"{path}.bbox.size must be > 0, got {list(s)}")
    if m.id < 0:
        raise SceneMessageError(f"{path}.id must be >= 0")
    if not m.label.strip():
        raise SceneMessageError(f"{path}.label must not be empty")
    front = (m.front.x, m.front.y, m.front.z) if m.has_front else None
    score = None if m.score < 0 else float(m.score)
    feats = tuple(float(v) for v in m.features) if len(m.features) else None
    return SceneObject(int(m.id), m.label.strip(), c, s, color=m.color or None, attributes=tuple(m.attributes),
                       front=front, score=score, features=feats)


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
    objs = [msg_to_object(o, f"objects[{i}]") for i, o in enumerate(m.objects)]
    ids = [o.id for o in objs]
    if len(set(ids)) != len(ids):
        raise SceneMessageError("objects have duplicate ids")
    vp = None
    if m.has_viewpoint:
        p, q = m.viewpoint_position, m.viewpoint_look_at
        vp = Viewpoint((p.x, p.y, p.z), (q.x, q.y, q.z))
    return Scene(m.scene_id or "ros_scene", tuple(objs), m.header.frame_id or "map", vp)
