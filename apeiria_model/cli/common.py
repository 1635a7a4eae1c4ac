"""Helpers shared by CLI subcommands: fail with one clear line, never a traceback."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn


class CliError(Exception):
    """An unusable input (file missing, invalid scene...): exit non-zero with one line."""


def die(message: str, code: int = 2) -> NoReturn:
    from apeiria_model.sanitize import clean_text

    print(f"apeiria: error: {clean_text(str(message))}", file=sys.stderr)
    raise SystemExit(code)


def print_json(obj: Any, pretty: bool = False) -> None:
    from apeiria_model.sanitize import clean_surrogates

    # JSON escapes control characters itself; lone surrogates would make the write raise.
    sys.stdout.write(clean_surrogates(json.dumps(obj, indent=2 if pretty else None, ensure_ascii=False)) + "\n")
    sys.stdout.flush()
