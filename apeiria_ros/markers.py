"""RViz MarkerArrays for scenes and grounding results (boxes + text labels)."""

from __future__ import annotations

from apeiria_model.scene.model import SceneObject

TARGET_RGBA = (0.1, 0.9, 0.2, 0.55)
ANCHOR_RGBA = (1.0, 0.6, 0.0, 0.45)
OBJECT_RGBA = (0.6, 0.6, 0.7, 0.35)


def _box(ns: str, mid: int, frame: str, center, size, rgba, stamp=None):
    from visualization_msgs.msg import Marker

    m = Marker()
    m.header.frame_id = frame
    if stamp is not None:
        m.header.stamp = stamp
    m.ns, m.id, m.type, m.action = ns, mid, Marker.CUBE, Marker.ADD
    m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in center)
    m.pose.orientation.w = 1.0
    m.scale.x, m.scale.y, m.scale.z = (max(float(v), 1e-3) for v in size)
    m.color.r, m.color.g, m.color.b, m.color.a = rgba
    return m


def _text(ns: str, mid: int, frame: str, center, size, text: str, stamp=None):
    from visualization_msgs.msg import Marker

    m = Marker()
    m.header.frame_id = frame
    if stamp is not None:
        m.header.stamp = stamp
    m.ns, m.id, m.type, m.action = ns, mid, Marker.TEXT_VIEW_FACING, Marker.ADD
    m.pose.position.x, m.pose.position.y = float(center[0]), float(center[1])
    m.pose.position.z = float(center[2]) + float(size[2]) / 2.0 + 0.12
    m.pose.orientation.w = 1.0
    m.scale.z = 0.12
    m.color.r = m.color.g = m.color.b = m.color.a = 1.0
    m.text = text
    return m


def _clear(frame: str):
    from visualization_msgs.msg import Marker

    m = Marker()
    m.header.frame_id = frame
    m.action = Marker.DELETEALL
    return m


def scene_markers(objects: list[SceneObject], frame: str, stamp=None):
    from visualization_msgs.msg import MarkerArray

    arr = MarkerArray()
    arr.markers.append(_clear(frame))
    for o in objects:
        arr.markers.append(_box("objects", o.id, frame, o.center, o.size, OBJECT_RGBA, stamp))
        arr.markers.append(_text("object_labels", o.id, frame, o.center, o.size, f"{o.id}: {o.describe()}", stamp))
    return arr


def anchor_ids(result) -> list[int]:
    """Objects the trace used as reference (inputs after the first of relate* steps)."""
    targets = set(result.target_ids)
    out: list[int] = []
    for s in result.steps:
        if s.op.startswith("relate"):
            for ids in s.inputs[1:]:
                out.extend(i for i in ids if i not in targets and i not in out)
    return out


def result_markers(result, scene, frame: str, stamp=None):
    """Targets (green) and the anchors the trace used (orange), each with a label."""
    from visualization_msgs.msg import MarkerArray

    arr = MarkerArray()
    arr.markers.append(_clear(frame))
    for t in result.targets:
        arr.markers.append(_box("targets", t.id, frame, t.center, t.size, TARGET_RGBA, stamp))
        arr.markers.append(_text("target_labels", t.id, frame, t.center, t.size, f"target {t.id}: {t.label}", stamp))
    if scene is not None:
        for i in anchor_ids(result):
            if scene.has(i):
                o = scene.get(i)
                arr.markers.append(_box("anchors", i, frame, o.center, o.size, ANCHOR_RGBA, stamp))
                arr.markers.append(_text("anchor_labels", i, frame, o.center, o.size, f"anchor {i}: {o.label}", stamp))
    return arr
