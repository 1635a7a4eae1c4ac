"""Checking instructions before any reasoning: empty, oversized, invalid UTF-8.

The instruction topic is read raw (serialized CDR) so that a std_msgs/String carrying
invalid UTF-8 becomes a clear "error" result instead of an exception inside rclpy's
deserializer.
"""

from __future__ import annotations

import struct

from apeiria_model.reasoning.base import MAX_INSTRUCTION_CHARS


class InstructionError(ValueError):
    """An instruction refused before reasoning; the message says exactly why."""


def decode_string_cdr(buf: bytes) -> bytes:
    """The payload bytes of a serialized std_msgs/String (XCDR1 or XCDR2, either endianness)."""
    if len(buf) < 8:
        raise InstructionError(f"serialized String is {len(buf)} bytes, too short for a CDR header")
    rep = struct.unpack(">H", buf[0:2])[0]
    little = bool(rep & 1)
    off = 4
    if rep in (0x0008, 0x0009, 0x000A, 0x000B):  # delimited / parameter-list XCDR2: DHEADER first
        off += 4
    if len(buf) < off + 4:
        raise InstructionError("serialized String is truncated before its length field")
    n = struct.unpack("<I" if little else ">I", buf[off:off + 4])[0]
    data = buf[off + 4:off + 4 + n]
    if n == 0 or len(data) != n:
        raise InstructionError(f"serialized String declares {n} bytes but carries {len(data)}")
    return data[:-1] if data.endswith(b"\x00") else data


def check_instruction(raw: bytes | str, max_chars: int = MAX_INSTRUCTION_CHARS) -> str:
    """The instruction as clean text, or InstructionError naming the problem."""
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) > 4 * max_chars:  # no need to decode 100 KB to know it is too long
            raise InstructionError(f"instruction is {len(raw)} bytes, the limit is {max_chars} characters")
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as e:
            raise InstructionError(f"instruction is not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})") from None
    elif isinstance(raw, str):
        text = raw
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InstructionError(f"instruction is not valid UTF-8 (unpaired surrogate at character {e.start})") from None
    else:
        raise InstructionError(f"instruction must be text, got {type(raw).__name__}")
    if "\x00" in text:
        raise InstructionError("instruction contains a NUL character")
    text = text.strip()
    if not text:
        raise InstructionError("instruction is empty")
    if len(text) > max_chars:
        raise InstructionError(f"instruction is {len(text)} characters, the limit is {max_chars}")
    return text
