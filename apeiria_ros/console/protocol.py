"""The console's WebSocket protocol: JSON text frames, one object each, with ``type``.

Page -> server:
    {"type": "ground", "id": "q1", "instruction": "the red mug", "reasoner": ""}
    {"type": "speech", "id": "q2", "wav": "<base64 of a 16-bit PCM WAV>", "reasoner": ""}
    {"type": "ping", "id": "p1"}
Server -> page:
    hello (server settings), scene (the map), node (grounding node state),
    event (the node's status events), accepted, transcript, result, error, pong.

Everything here is pure Python (no ROS, no aiohttp): what the page sends is checked
by ``parse_request``, which raises ``ProtocolError`` with a message meant for the page.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

from apeiria_model.reasoning.base import MAX_INSTRUCTION_CHARS

REASONERS = ("", "symbolic", "neural", "hybrid")
MAX_ID_CHARS = 64
MAX_WAV_BYTES = 4 * 1024 * 1024        # ~40 s of 48 kHz 16-bit mono
MAX_FRAME_BYTES = 6 * 1024 * 1024      # base64 of MAX_WAV_BYTES plus the JSON around it


class ProtocolError(ValueError):
    """A request the console cannot serve; ``str()`` is shown on the page."""

    def __init__(self, message: str, request_id: str = ""):
        super().__init__(message)
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    type: str
    id: str
    instruction: str = ""
    reasoner: str = ""
    wav: bytes = b""


def _request_id(doc: dict) -> str:
    rid = doc.get("id", "")
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        raise ProtocolError("'id' must be a string or an integer")
    rid = str(rid)
    if len(rid) > MAX_ID_CHARS or any(not c.isprintable() for c in rid):
        raise ProtocolError(f"'id' must be at most {MAX_ID_CHARS} printable characters")
    return rid


def _reasoner(doc: dict, rid: str) -> str:
    r = doc.get("reasoner", "")
    if r is None:
        r = ""
    if not isinstance(r, str) or r not in REASONERS:
        raise ProtocolError(f"'reasoner' must be one of {', '.join(repr(x) for x in REASONERS)}", rid)
    return r


def check_instruction_text(raw: Any, rid: str = "", limit: int = MAX_INSTRUCTION_CHARS) -> str:
    if not isinstance(raw, str):
        raise ProtocolError("'instruction' must be a string", rid)
    text = " ".join(raw.split())
    if not text:
        raise ProtocolError("the instruction is empty: type what to find, e.g. \"the red mug\"", rid)
    if len(text) > limit:
        raise ProtocolError(f"the instruction is {len(text)} characters long; at most {limit} are accepted", rid)
    if any(not c.isprintable() for c in text):
        raise ProtocolError("the instruction contains control characters", rid)
    return text


def parse_request(data: str | bytes) -> Request:
    """The request in one text frame; ProtocolError (with the request id when known)."""
    if isinstance(data, (bytes, bytearray)):
        raise ProtocolError("binary frames are not part of the protocol: send JSON text")
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ProtocolError(f"not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ProtocolError("a request must be a JSON object with a 'type'")
    rid = _request_id(doc)
    kind = doc.get("type")
    if kind == "ping":
        return Request("ping", rid)
    if kind == "ground":
        return Request("ground", rid, instruction=check_instruction_text(doc.get("instruction"), rid),
                       reasoner=_reasoner(doc, rid))
    if kind == "speech":
        raw = doc.get("wav")
        if not isinstance(raw, str) or not raw:
            raise ProtocolError("'wav' must be a base64 string of a WAV file", rid)
        if len(raw) > MAX_WAV_BYTES * 4 // 3 + 4:
            raise ProtocolError(f"the recording is larger than {MAX_WAV_BYTES // (1024 * 1024)} MiB", rid)
        try:
            wav = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("'wav' is not valid base64", rid) from None
        return Request("speech", rid, reasoner=_reasoner(doc, rid), wav=wav)
    if not isinstance(kind, str):
        raise ProtocolError("a request needs a string 'type' (ground, speech or ping)", rid)
    raise ProtocolError(f"unknown request type {kind[:40]!r} (expected ground, speech or ping)", rid)


def _finite(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def scene_to_json(scene, source: str) -> dict[str, Any]:
    """What the page draws: every object's box and words, the viewpoint and the bounds."""
    vp = scene.default_viewpoint() if len(scene) else None
    objs = []
    for o in scene.objects:
        objs.append({"id": o.id, "label": o.label, "describe": o.describe(), "color": o.color or "",
                     "center": [_finite(v) for v in o.center], "size": [_finite(v) for v in o.size],
                     "attributes": list(o.attributes), "score": None if o.score is None else _finite(o.score),
                     "front": None if o.front is None else [_finite(v) for v in o.front]})
    return {"scene_id": scene.scene_id, "frame_id": scene.frame_id, "source": source, "objects": objs,
            "viewpoint": None if vp is None else {"position": list(vp.position), "look_at": list(vp.look_at),
                                                 "given": scene.viewpoint is not None}}


def result_to_json(result, scene_id: str, request_id: str) -> dict[str, Any]:
    """``apeiria ground --json`` plus what the page highlights (anchors) and where it came from."""
    from apeiria_ros.markers import anchor_ids

    d = result.to_dict()
    d["anchors"] = anchor_ids(result)
    d["scene_id"] = scene_id
    d["request_id"] = request_id
    return d


def dumps(doc: dict[str, Any]) -> str:
    # allow_nan=False: a NaN from a malformed map must never reach the page as invalid JSON
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, default=str)
