"""Grounded targets <-> vision_msgs/Detection3DArray (the standard 3D detection type).

One Detection3D per target: ``id`` = the object id (as text), one
ObjectHypothesisWithPose (``class_id`` = label, ``score`` = the target's confidence,
``pose`` = the box centre), ``bbox`` = the target's box (centre + full extents, identity
orientation: apeiria boxes are axis-aligned in the map frame). Every detection carries
the array's header (the map frame, the result's stamp).
"""

from __future__ import annotations

from apeiria_model.reasoning.result import GroundingResult, Target


class DetectionMessageError(ValueError):
    """A Detection3D that does not describe an apeiria target (id not an integer, no label)."""


def target_to_detection(t: Target, header=None):
    from vision_msgs.msg import Detection3D, ObjectHypothesisWithPose

    d = Detection3D()
    if header is not None:
        d.header = header
    d.id = str(int(t.id))
    c = d.bbox.center
    c.position.x, c.position.y, c.position.z = (float(v) for v in t.center)
    c.orientation.w = 1.0
    d.bbox.size.x, d.bbox.size.y, d.bbox.size.z = (float(v) for v in t.size)
    h = ObjectHypothesisWithPose()
    h.hypothesis.class_id = t.label
    h.hypothesis.score = float(t.score)
    h.pose.pose = c
    d.results = [h]
    return d


def targets_to_detections(targets, frame_id: str, stamp=None):
    """A Detection3DArray of ``targets`` (model Targets) in ``frame_id``."""
    from std_msgs.msg import Header
    from vision_msgs.msg import Detection3DArray

    header = Header(frame_id=frame_id)
    if stamp is not None:
        header.stamp = stamp
    msg = Detection3DArray(header=header)
    msg.detections = [target_to_detection(t, header) for t in targets]
    return msg


def result_to_detections(result: GroundingResult, frame_id: str, stamp=None):
    """The grounded targets of ``result`` as a Detection3DArray (empty when none)."""
    return targets_to_detections(result.targets, frame_id, stamp)


def detection_to_target(d) -> Target:
    """Inverse of :func:`target_to_detection` (the best hypothesis gives label and score)."""
    try:
        oid = int(d.id)
    except ValueError:
        raise DetectionMessageError(f"detection id {d.id!r} is not an integer object id") from None
    if not d.results:
        raise DetectionMessageError(f"detection {d.id} has no hypothesis (no label)")
    best = max(d.results, key=lambda r: r.hypothesis.score)
    c, s = d.bbox.center.position, d.bbox.size
    return Target(oid, best.hypothesis.class_id, [c.x, c.y, c.z], [s.x, s.y, s.z], float(best.hypothesis.score))


def detections_to_targets(msg) -> list[Target]:
    return [detection_to_target(d) for d in msg.detections]
