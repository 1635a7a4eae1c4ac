"""Text that is safe to print: no control characters reach a terminal.

Every string that comes from outside (a scene label, an instruction, a SceneMap field)
may hold ESC / BEL / other C0-C1 controls (terminal escape injection), bidi overrides
(text that displays differently from what it is) or lone surrogates (which make
``print`` raise ``UnicodeEncodeError``). :func:`clean_text` replaces them; the scene
validator applies it to every string it accepts, and the CLI applies it to what it
prints.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"

# Lone surrogates (a valid pair never survives decoding into a Python str).
_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 and C1 controls, DEL, and the bidi embedding / override / isolate characters.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n\r]")
_TABS_CR = re.compile("[\t\r]")


def clean_text(text: str, keep_newlines: bool = False) -> str:
    """``text`` with lone surrogates and control characters replaced by U+FFFD.

    Tabs and line breaks become a space (single-line fields), or only tabs and carriage
    returns do when ``keep_newlines`` (multi-line output such as a trace).
    """
    text = _SURROGATES.sub(REPLACEMENT, text)
    text = _CONTROLS.sub(REPLACEMENT, text)
    return (_TABS_CR if keep_newlines else _LINE_BREAKS).sub(" ", text)


def clean_surrogates(text: str) -> str:
    """Only the lone surrogates replaced (for JSON output, which escapes controls itself)."""
    return _SURROGATES.sub(REPLACEMENT, text)


def is_clean(text: str) -> bool:
    return clean_text(text) == text
