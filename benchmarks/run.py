"""Run every ``benchmarks/bench_*.py`` and record the numbers (``make bench``).

    python -m benchmarks.run --out benchmarks/results [--quick] [--only NAME ...]

Each bench runs in its own Python process (a crash, hang or leak in one cannot take
the others down), calls ``run(quick)`` and must return a JSON-able dict. Results go
to ``OUT/<name>.json`` and ``OUT/summary.json`` (with the machine they ran on), a table
is printed, and ``docs/benchmarks.md`` is regenerated from the records
(``benchmarks/render.py``; ``python -m benchmarks.render`` does that step alone). The exit
status is non-zero when any bench failed. How to add a bench: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
DOCS = REPO / "docs" / "benchmarks.md"
PACKAGES = ("numpy", "scipy", "torch", "transformers", "onnxruntime", "open3d-cpu", "open3d")
COMMAND = "python -m benchmarks.run --out benchmarks/results"


# ------------------------------------------------------------------- discovery
def discover(bench_dir: Path = BENCH_DIR) -> dict[str, Path]:
    """{name: file} for every bench_<name>.py, sorted by name."""
    return {p.stem[len("bench_"):]: p for p in sorted(bench_dir.glob("bench_*.py"))}


def select(available: dict[str, Path], only: list[str] | None) -> dict[str, Path]:
    if not only:
        return available
    wanted = [n.strip().removeprefix("bench_").removesuffix(".py") for arg in only for n in arg.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise SystemExit(f"benchmarks.run: unknown bench {', '.join(unknown)} (have: {', '.join(available) or 'none'})")
    return {n: available[n] for n in wanted}


# ---------------------------------------------------------------- machine info
def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _run_quiet(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_info() -> dict[str, Any]:
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            continue
    commit = _run_quiet(["git", "rev-parse", "HEAD"])
    dirty = _run_quiet(["git", "status", "--porcelain", "--untracked-files=no"])
    gpu = _run_quiet(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]) if shutil.which("nvidia-smi") else None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "mem_gib": _mem_gib(),
        "gpu": gpu.splitlines()[0] if gpu else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "git_commit": commit,
        "git_dirty": bool(dirty) if commit else None,
    }


# ------------------------------------------------------------------ one bench
def _check_json(obj: Any, path: str = "result") -> None:
    """Reject what json.dumps would write as invalid JSON (NaN) or refuse (objects)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"{path} is {obj} (not valid JSON; use null for 'not measured')")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ValueError(f"{path} has a non-string key {k!r}")
            _check_json(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_json(v, f"{path}[{i}]")
    elif not (obj is None or isinstance(obj, (str, int, float, bool))):
        raise ValueError(f"{path} is a {type(obj).__name__}, not JSON")


def child_main(file: str, quick: bool, out: str) -> int:
    """Inside the bench's own process: import, run, write {status, result|error}."""
    sys.path.insert(0, str(REPO))
    record: dict[str, Any]
    t0 = time.perf_counter()
    try:
        spec = importlib.util.spec_from_file_location(f"benchmarks.{Path(file).stem}", file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        if not callable(getattr(module, "run", None)):
            raise TypeError(f"{Path(file).name} has no run(quick) function")
        result = module.run(quick=quick)
        if not isinstance(result, dict):
            raise TypeError(f"run() returned {type(result).__name__}, expected a dict")
        _check_json(result)
        record = {"status": "ok", "result": result}
    except BaseException as e:  # noqa: BLE001 - every failure is reported, none stops the harness
        if isinstance(e, KeyboardInterrupt):
            raise
        record = {"status": "failed", "error": f"{type(e).__name__}: {e}",
                  "traceback": traceback.format_exc()[-4000:]}
    record["duration_s"] = round(time.perf_counter() - t0, 3)
    Path(out).write_text(json.dumps(record))
    return 0


def run_bench(name: str, file: Path, quick: bool, timeout_s: float) -> dict[str, Any]:
    """Run one bench in a child process; always returns a record, never raises."""
    fd, tmp = tempfile.mkstemp(prefix=f"bench_{name}.", suffix=".json")
    os.close(fd)
    cmd = [sys.executable, "-m", "benchmarks.run", "--child", str(file), "--child-out", tmp] + (["--quick"] if quick else [])
    t0 = time.perf_counter()
    load_before = _load_average()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
        text = Path(tmp).read_text()
        record = json.loads(text) if text.strip() else None
        if record is None:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
            record = {"status": "failed", "error": f"bench process exited with code {proc.returncode}: " + " | ".join(tail)}
    except subprocess.TimeoutExpired:
        record = {"status": "failed", "error": f"timed out after {timeout_s:g} s"}
    except (OSError, json.JSONDecodeError) as e:
        record = {"status": "failed", "error": f"could not collect the result: {e}"}
    finally:
        Path(tmp).unlink(missing_ok=True)
    record.setdefault("duration_s", round(time.perf_counter() - t0, 3))
    # Other work on a shared machine skews latencies: keep the load next to the numbers.
    record["load_average_1min"] = {"before": load_before, "after": _load_average()}
    shown = file.relative_to(REPO) if file.resolve().is_relative_to(REPO) else file
    return {"name": name, "file": str(shown), "quick": quick, **record}


# ------------------------------------------------------------------- outputs
def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """[("a.b", 1), ("c[0].d", 2), ...]: nested dicts/lists as keys; lists of plain values kept whole."""
    if isinstance(d, dict):
        out = []
        for k, v in d.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(d, list) and any(isinstance(v, (dict, list)) for v in d):
        out = []
        for i, v in enumerate(d):  # e.g. one entry per scene size: results[0].p50_ms
            out += flatten(v, f"{prefix}[{i}]")
        return out
    return [(prefix, d)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        s = json.dumps(v)
        return s if len(s) <= 60 else s[:57] + "..."
    return "null" if v is None else str(v)


def load_existing(out_dir: Path) -> dict[str, dict]:
    """Per-bench records already in OUT (so `--only x` keeps the others' last numbers)."""
    records = {}
    for p in sorted(out_dir.glob("*.json")):
        if p.name == "summary.json":
            continue
        try:
            rec = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(rec, dict) and rec.get("name") == p.stem and "status" in rec:
            records[p.stem] = rec
    return records


def render_markdown(summary: dict[str, Any]) -> str:
    """docs/benchmarks.md for ``summary`` (the tables are made by benchmarks/render.py)."""
    from benchmarks.render import render

    return render(summary)


def print_table(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="benchmarks", title_justify="left")
    for c in ("bench", "status", "seconds", "first results"):
        t.add_column(c, justify="right" if c == "seconds" else "left")
    for r in records:
        if r["status"] == "ok":
            detail = ", ".join(f"{k}={_fmt(v)}" for k, v in flatten(r["result"])[:4])
        else:
            detail = str(r.get("error", "")).splitlines()[0][:120] if r.get("error") else ""
        t.add_row(r["name"], "ok" if r["status"] == "ok" else "[red]FAILED[/red]", f"{r['duration_s']:.1f}", detail)
    Console().print(t)


# ----------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results", help="result folder (default: benchmarks/results)")
    ap.add_argument("--quick", action="store_true", help="ask every bench for its short version")
    ap.add_argument("--only", action="append", metavar="NAME", help="run only this bench (repeat or comma-separate)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds one bench may take (default 1800)")
    ap.add_argument("--bench-dir", default=str(BENCH_DIR), help=argparse.SUPPRESS)
    ap.add_argument("--docs", default=str(DOCS), help="Markdown file to regenerate (default docs/benchmarks.md)")
    ap.add_argument("--no-docs", action="store_true", help="do not touch the Markdown file")
    ap.add_argument("--render-only", action="store_true",
                    help="run nothing: rebuild summary.json and the Markdown from the per-bench JSON in OUT "
                         "(after a bench was run on its own, e.g. `python benchmarks/bench_x.py`)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main(args.child, args.quick, args.child_out)

    benches = {} if args.render_only else select(discover(Path(args.bench_dir)), args.only)
    out_dir = Path(args.out)
    if not out_dir.is_absolute():
        out_dir = Path.cwd() / out_dir
    machine = machine_info()
    records = []
    for name, file in benches.items():
        print(f"running bench {name} ...", file=sys.stderr, flush=True)
        rec = run_bench(name, file, args.quick, args.timeout)
        rec["machine"] = machine
        _write_json(out_dir / f"{name}.json", rec)
        records.append(rec)
    merged = load_existing(out_dir)  # includes what was just written
    summary = {"generated_by": COMMAND, "machine": machine, "quick": args.quick,
               "ran": [r["name"] for r in records], "failed": [r["name"] for r in records if r["status"] != "ok"],
               "benches": merged}
    _write_json(out_dir / "summary.json", summary)
    if not args.no_docs:
        docs = Path(args.docs)
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_text(render_markdown(summary))
    if records:
        print_table(records)
    elif args.render_only:
        print(f"rendered {len(merged)} bench records", file=sys.stderr)
    else:
        print("no benches found (benchmarks/bench_*.py)", file=sys.stderr)
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
