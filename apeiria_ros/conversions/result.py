"""apeiria_model GroundingResult (the `apeiria ground --json` contract) <-> ROS message."""

from __future__ import annotations

import json
from typing import Any

from apeiria_model.reasoning.result import GroundingResult, StepReport, Target

VERIFIED_UNKNOWN, VERIFIED_FALSE, VERIFIED_TRUE = -1, 0, 1
STATUS_BUSY = "busy"


def _verified_to_int(v: bool | None) -> int:
    return VERIFIED_UNKNOWN if v is None else (VERIFIED_TRUE if v else VERIFIED_FALSE)


def _int_to_verified(v: int) -> bool | None:
    return None if v == VERIFIED_UNKNOWN else bool(v == VERIFIED_TRUE)


def _json_or_empty(v: Any) -> str:
    return "" if v is None else json.dumps(v, ensure_ascii=False)


def _parse_json_or_none(s: str) -> Any:
    return None if s == "" else json.loads(s)


def step_to_msg(s: StepReport):
    from apeiria.msg import ReasoningStep

    m = ReasoningStep()
    m.index = int(s.index)
    m.op, m.plan, m.execution = s.op, s.plan, s.execution
    m.input_ids = [int(i) for ids in s.inputs for i in ids]
    m.input_sizes = [len(ids) for ids in s.inputs]
    if isinstance(s.output, list):
        m.output_is_ids = True
        m.output_ids = [int(i) for i in s.output]
    else:
        m.output_value = _json_or_empty(s.output)
    m.verified = _verified_to_int(s.verified)
    return m


def msg_to_step(m) -> StepReport:
    inputs, k = [], 0
    flat = list(m.input_ids)
    for n in m.input_sizes:
        inputs.append([int(i) for i in flat[k:k + n]])
        k += n
    output = [int(i) for i in m.output_ids] if m.output_is_ids else _parse_json_or_none(m.output_value)
    return StepReport(int(m.index), m.op, m.plan, m.execution, inputs, output, _int_to_verified(m.verified))


def target_to_msg(t: Target):
    from vision_msgs.msg import ObjectHypothesis

    from apeiria.msg import DetectedObject

    m = DetectedObject()
    m.id, m.label, m.score = int(t.id), t.label, float(t.score)
    m.results = [ObjectHypothesis(class_id=t.label, score=float(t.score))]
    m.bbox.center.position.x, m.bbox.center.position.y, m.bbox.center.position.z = (float(v) for v in t.center)
    m.bbox.center.orientation.w = 1.0
    m.bbox.size.x, m.bbox.size.y, m.bbox.size.z = (float(v) for v in t.size)
    return m


def msg_to_target(m) -> Target:
    c, s = m.bbox.center.position, m.bbox.size
    return Target(int(m.id), m.label, [c.x, c.y, c.z], [s.x, s.y, s.z], float(m.score))


def result_to_msg(r: GroundingResult, request_id: str = "", scene_id: str = "", frame_id: str = "map", stamp=None):
    from apeiria.msg import GroundingResult as GroundingResultMsg

    m = GroundingResultMsg()
    m.header.frame_id = frame_id
    if stamp is not None:
        m.header.stamp = stamp
    m.request_id = request_id
    m.instruction = r.instruction
    m.status = r.status
    m.targets = [target_to_msg(t) for t in r.targets]
    m.answer = _json_or_empty(r.answer)
    m.program = r.program or ""
    m.trace = r.trace
    m.steps = [step_to_msg(s) for s in r.steps]
    m.verified = _verified_to_int(r.verified)
    m.failed_check = r.failed_check
    m.reasoner = r.reasoner
    m.latency_ms = float(r.latency_ms)
    m.message = r.message
    m.scene_id = scene_id
    return m


def msg_to_result(m) -> GroundingResult:
    return GroundingResult(
        instruction=m.instruction, status=m.status, reasoner=m.reasoner,
        targets=[msg_to_target(t) for t in m.targets], answer=_parse_json_or_none(m.answer),
        program=m.program or None, trace=m.trace, steps=[msg_to_step(s) for s in m.steps],
        verified=_int_to_verified(m.verified), failed_check=m.failed_check, latency_ms=float(m.latency_ms), message=m.message)


def result_msg_to_dict(m) -> dict[str, Any]:
    """The exact `apeiria ground --json` dictionary for a received result message."""
    return msg_to_result(m).to_dict()
