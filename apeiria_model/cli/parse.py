"""`apeiria parse`: show the program an instruction becomes (no scene needed).

    apeiria parse "the mug on the desk closest to the window"
    apeiria parse --json "the second chair from the left"
    apeiria parse --vocabulary "coffee table,sofa" "the table near the couch"
"""

from __future__ import annotations

import argparse

from apeiria_model.cli.common import print_json
from apeiria_model.sanitize import clean_text


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "parse", help="turn an instruction into a program (prints the DSL)",
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    p.add_argument("instruction", help="the instruction")
    p.add_argument("--vocabulary", metavar="LABELS", help="comma-separated scene labels (better head nouns, typos)")
    p.add_argument("--json", action="store_true", help="print {\"program\", \"target_concept\"} as JSON")
    p.set_defaults(func=run)


def _say(text: str) -> None:
    """print, with control characters and lone surrogates from the instruction replaced."""
    print(clean_text(text, keep_newlines=True))


def run(args) -> int:
    from apeiria_model.language.instruction_parser import parse_instruction

    vocab = [v.strip() for v in args.vocabulary.split(",") if v.strip()] if args.vocabulary else None
    out = parse_instruction(args.instruction, vocabulary=vocab)
    if args.json:
        print_json(out.to_dict())
        return 0
    if out.ok:
        _say(out.program_text)
        _say(f"target: {out.target_concept or 'any object'}" + ("  (all matches)" if out.multi else ""))
    else:
        _say(f"unparsed: {out.reason}")
    if out.corrections:
        _say("corrected: " + ", ".join(f"{a} -> {b}" for a, b in out.corrections))
    if out.ignored:
        _say("ignored: " + " ".join(out.ignored))
    return 0
