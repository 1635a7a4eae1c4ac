"""`apeiria ground`: find what an instruction refers to in a scene, and show why.

    apeiria ground --scene room.json "the mug on the desk closest to the window"
    apeiria ground --scene room.json --json "how many chairs are there"
    apeiria ground --scene room.json --queries queries.txt --json     # JSON Lines, one per query

Exit status 0 whenever the reasoner answered (ok, no_match, unparsed); non-zero with one
line on stderr when an input file cannot be used.
"""

from __future__ import annotations

import argparse
import sys

from apeiria_model.cli.common import die, print_json
from apeiria_model.sanitize import clean_text

REASONERS = ("symbolic", "neural", "hybrid")
MAX_QUERY_FILE_BYTES = 50 * 1024 * 1024


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ground", help="ground an instruction in a scene (prints the trace and the targets)",
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    p.add_argument("instruction", nargs="?", help="the instruction, e.g. \"the chair next to the bed\"")
    p.add_argument("--scene", required=True, metavar="FILE", help="Scene JSON v1 file")
    p.add_argument("--reasoner", default="symbolic", choices=REASONERS, help="which reasoner (default: symbolic)")
    p.add_argument("--queries", metavar="FILE", help="text file, one instruction per line (blank lines and "
                   "lines starting with # are skipped)")
    p.add_argument("--json", action="store_true", help="print JSON (JSON Lines with --queries)")
    p.set_defaults(func=run)


def load_scene_or_die(path: str):
    from apeiria_model.scene.io import SceneValidationError, load_scene

    try:
        return load_scene(path)
    except FileNotFoundError:
        die(f"scene file not found: {path}")
    except IsADirectoryError:
        die(f"scene path is a directory, not a file: {path}")
    except PermissionError:
        die(f"scene file not readable (permission denied): {path}")
    except SceneValidationError as e:
        die(f"invalid scene {path}: {e}")
    except OSError as e:
        die(f"cannot read scene {path}: {e.strerror or e}")


def read_queries_or_die(path: str) -> list[str]:
    from apeiria_model.atomic_io import FileTooLargeError, read_regular_file

    try:
        data = read_regular_file(path, MAX_QUERY_FILE_BYTES)
    except FileTooLargeError:
        die(f"queries file too large: {path} (over {MAX_QUERY_FILE_BYTES // (1024 * 1024)} MiB)")
    except FileNotFoundError:
        die(f"queries file not found: {path}")
    except IsADirectoryError:
        die(f"queries path is a directory, not a file: {path}")
    except PermissionError:
        die(f"queries file not readable (permission denied): {path}")
    except OSError as e:
        die(f"cannot read queries {path}: {e.strerror or e}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        die(f"queries file is not valid UTF-8: {path} (byte {e.start})")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def make_reasoner_or_die(name: str):
    from apeiria_model.reasoning import ReasonerUnavailableError, load_reasoner

    try:
        reasoner = load_reasoner(name)
        if hasattr(reasoner, "warm_up"):
            reasoner.warm_up()  # model loading is not part of any query's latency
        return reasoner
    except ReasonerUnavailableError as e:
        die(str(e))
    except Exception as e:  # a broken model file etc.: still one line, no traceback
        die(f"cannot load the {name} reasoner: {type(e).__name__}: {e}")


def render_text(result) -> str:
    """Readable form: status, program, trace, targets (control characters from the
    instruction or the scene replaced: nothing reaches the terminal raw)."""
    lines = [f"status: {result.status}"]
    if result.program:
        lines.append(f"program: {result.program}")
    if result.trace:
        lines.append("")
        lines.append(result.trace)
        lines.append("")
    if result.answer is not None:
        lines.append(f"answer: {result.answer}")
    if result.targets:
        lines.append("targets:")
        for t in result.targets:
            c = ", ".join(f"{v:.2f}" for v in t.center)
            s = " x ".join(f"{v:.2f}" for v in t.size)
            lines.append(f"  {t.id}: {t.label} at ({c}) size {s} score {t.score:.2f}")
    elif result.status == "ok" and result.answer is None:
        lines.append("targets: none")
    if result.message:
        lines.append(f"note: {result.message}")
    verified = {True: "yes", False: "NO", None: "not checked"}[result.verified]
    lines.append(f"verified: {verified}   reasoner: {result.reasoner}   {result.latency_ms:.1f} ms")
    return clean_text("\n".join(lines), keep_newlines=True)


def run(args) -> int:
    if args.queries is None and args.instruction is None:
        die("give an instruction or --queries FILE")
    if args.queries is not None and args.instruction is not None:
        die("give either an instruction or --queries FILE, not both")
    scene = load_scene_or_die(args.scene)
    queries = read_queries_or_die(args.queries) if args.queries is not None else [args.instruction]
    reasoner = make_reasoner_or_die(args.reasoner)  # loaded once for every query
    for q in queries:
        result = reasoner.ground(q, scene)
        if args.json:
            print_json(result.to_dict())
        else:
            if len(queries) > 1:
                print(f"== {clean_text(q)}")
            print(render_text(result))
            if len(queries) > 1:
                print()
    sys.stdout.flush()
    return 0
