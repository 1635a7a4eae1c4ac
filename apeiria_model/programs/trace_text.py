"""Shared text conventions of traces: constants, quoting, number and box formatting."""

from __future__ import annotations

import re

STYLES = ("full", "compact")
NO_MATCH = "No object matches the description."
NO_ANSWER = "No answer."
MAX_TRACE_CHARS = 200_000       # parse_trace reads at most this much
MAX_ERRORS = 50                 # parse_trace keeps this many problem messages
BOX_TOLERANCE = 0.006           # stated boxes are rounded to 2 decimals
INDENT = "  "


# --- small text helpers ------------------------------------------------------------------
def _num(v: float) -> str:
    x = round(float(v), 2)
    return f"{0.0 if x == 0 else x:.2f}"


def _quote(text: str) -> str:
    """Single-quoted with \\ escapes, one line."""
    body = (str(text).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))
    return f"'{body}'"


_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t"}
_QUOTED = r"'((?:[^'\\]|\\.)*)'"


def _unquote(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), body)


_BARE_CONCEPT = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def _compact_concept(concept: str) -> str:
    """Bare word when possible, else double-quoted with escapes (always one line)."""
    if _BARE_CONCEPT.fullmatch(concept):  # fullmatch: "$" would let a trailing newline pass
        return concept
    body = (concept.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))
    return f'"{body}"'


def _label(text: str) -> str:
    """Labels are decoration in a trace: keep them on one line and free of brackets."""
    return re.sub(r"\s+", " ", str(text)).replace("(", "[").replace(")", "]").strip() or "object"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def box_line(obj) -> str:
    """'Object 4: chair at (-0.30, 0.80, 0.45), size 0.50 x 0.50 x 0.90'."""
    c = ", ".join(_num(v) for v in obj.center)
    s = " x ".join(_num(v) for v in obj.size)
    return f"Object {obj.id}: {_label(obj.label)} at ({c}), size {s}"

