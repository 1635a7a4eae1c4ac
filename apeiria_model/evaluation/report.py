"""Human-readable tables of an evaluation report (``EvalReport.to_dict()``)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100.0 * v:.1f}"


def _ms(v: Any) -> str:
    return "-" if v is None else f"{v:.1f}"


def _table(title: str, columns: list[str]) -> Table:
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    return t


def _groups_table(title: str, section: dict[str, Any], metric_keys: list[str]) -> Table | None:
    """One row per group of a benchmark section ({"n": {g: n}, metric: {g: v}})."""
    groups = [g for g, n in section["n"].items() if n]
    if not groups:
        return None
    t = _table(title, ["group", "n"] + [f"{k} %" for k in metric_keys])
    for g in groups:
        t.add_row(g, str(section["n"][g]), *[_pct(section[k][g]) for k in metric_keys])
    return t


def _breakdown_table(title: str, groups: dict[str, dict[str, Any]], thresholds: list[str]) -> Table | None:
    if not groups:
        return None
    cols = ["accuracy"] + [f"acc@{k}" for k in thresholds] + [f"f1@{k}" for k in thresholds]
    t = _table(title, ["group", "n"] + [f"{c} %" for c in cols])
    for g, st in groups.items():
        t.add_row(g, str(st["n"]), *[_pct(st.get(c)) for c in cols])
    return t


def report_tables(d: dict[str, Any]) -> list[Table]:
    """The tables :func:`print_report` shows, for callers that lay them out themselves."""
    keys = [f"{k:g}" for k in d.get("iou_thresholds", [0.25, 0.5])]
    head = _table(f"apeiria eval: {d['reasoner']}" + (f" on {d['dataset']}" if d.get("dataset") else ""), ["", "value"])
    head.add_row("queries", str(d["n_samples"]))
    if d.get("n_skipped"):
        head.add_row("skipped (no scene / unknown id)", str(d["n_skipped"]))
    head.add_row("status", ", ".join(f"{k} {v}" for k, v in d["status_counts"].items() if v) or "-")
    head.add_row("accuracy (exact ids / answer) %", _pct(d["accuracy"]))
    lat = d["latency_ms"]
    head.add_row("latency ms p50 / p95 / max", f"{_ms(lat['p50'])} / {_ms(lat['p95'])} / {_ms(lat['max'])}")
    tr = d["trace"]
    if tr["n_traces"]:
        head.add_row("trace steps verified %", f"{_pct(tr['step_accuracy'])} of {tr['n_steps']} steps")
        head.add_row("traces fully verified %", f"{_pct(tr['fully_verified'])} of {tr['n_traces']}")
    if tr.get("verified") is not None:
        checks = ", ".join(f"{k} {v}" for k, v in tr["failed_checks"].items()) or "none"
        head.add_row("results verified % (steps + answers the question)", _pct(tr["verified"]))
        head.add_row("verified but wrong (QA)", f"{tr['verified_wrong']} ({tr['verified_wrong_qa']})")
        head.add_row("not verified, by failed check", checks)
    if d["qa"]["n"]:
        head.add_row("QA exact match %", f"{_pct(d['qa']['exact_match'])} of {d['qa']['n']}")
    tables = [head]
    for t in (
        _groups_table("ScanRefer (single-target queries)", d["scanrefer"], [f"acc@{k}" for k in keys]),
        _groups_table("Multi3DRefer", d["multi3drefer"], [f"f1@{k}" for k in keys]),
        _groups_table("ReferIt3D (target id among scene objects)", d["referit3d"], ["accuracy"]),
        _breakdown_table("By program depth", d["by_depth"], keys),
        _breakdown_table("By depth (steps)", d["by_depth_exact"], keys),
        _breakdown_table("By phrasing", d["by_phrasing"], keys),
        _breakdown_table("By target kind", d["by_target_kind"], keys),
    ):
        if t is not None:
            tables.append(t)
    return tables


def print_report(report_dict: dict[str, Any], console: Console | None = None) -> None:
    """Print the metric tables of ``EvalReport.to_dict()``; percentages, '-' = no queries."""
    console = console or Console()
    for t in report_tables(report_dict):
        console.print(t)
        console.print()


# ------------------------------------------------------------ apeiria eval --real
def _statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "-"


def real_report_tables(d: dict[str, Any]) -> list[Table]:
    """The tables :func:`print_real_report` shows (``RealReport.to_dict()``)."""
    head = _table(f"apeiria eval --real: {d['reasoner']}" + (f" on {d['dataset']}" if d.get("dataset") else ""),
                  ["", "value"])
    head.add_row("part", str(d["part"]))
    head.add_row("scenes / queries", f"{d['n_scenes']} / {d['n_queries']}")
    head.add_row("accuracy (exactly the target) %", _pct(d["overall"]["accuracy"]))
    head.add_row("same-class random %", _pct(d["overall"]["same_class_random"]))
    head.add_row("status", _statuses(d["overall"]["statuses"]))
    lat = d["latency_ms"]
    head.add_row("latency ms p50 / p95 / max", f"{_ms(lat['p50'])} / {_ms(lat['p95'])} / {_ms(lat['max'])}")
    tables = [head]
    if d["by_dataset"]:
        t = _table("By dataset", ["dataset / group", "n", "accuracy %", "same-class random %", "statuses"])
        t.columns[-1].justify = "left"
        for ds, groups in d["by_dataset"].items():
            for g, st in groups.items():
                t.add_row(ds if g == "overall" else f"  {g}", str(st["n"]), _pct(st["accuracy"]),
                          _pct(st["same_class_random"]), _statuses(st["statuses"]))
        tables.append(t)
    return tables


def print_real_report(report_dict: dict[str, Any], console: Console | None = None) -> None:
    """Print the tables of ``RealReport.to_dict()``; percentages, '-' = no queries."""
    console = console or Console()
    for t in real_report_tables(report_dict):
        console.print(t)
        console.print()
