"""Markdown tables for docs/results.md, rendered from evaluation / bench JSON files only
(so every number in the doc comes from a file a command wrote).

    python -m apeiria_model.training.results_doc --eval "full curriculum=runs/eval_full.json" \
        --eval "w/o stage 3=runs/eval_s2.json" --bench runs/bench_neural.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _f(v, pct: bool = True) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.1f}" if pct else f"{v:.1f}"


def main_table(rows: list[tuple[str, dict]]) -> str:
    out = ["| model | n | accuracy | Acc@0.25 | Acc@0.5 | F1@0.25 | F1@0.5 | parse rate | fully verified |",
           "|---|---|---|---|---|---|---|---|---|"]
    for label, r in rows:
        m = r.get("model", {})
        out.append(f"| {label} | {r['n_samples']} | {_f(r['accuracy'])} | {_f(r['scanrefer']['acc@0.25']['overall'])} | "
                   f"{_f(r['scanrefer']['acc@0.5']['overall'])} | {_f(r['multi3drefer']['f1@0.25']['overall'])} | "
                   f"{_f(r['multi3drefer']['f1@0.5']['overall'])} | {_f(m.get('trace_parse_rate'))} | "
                   f"{_f(m.get('fully_verified_share'))} |")
    return "\n".join(out)


def ablation_table(rows: list[tuple[str, dict]]) -> str:
    out = ["| configuration | accuracy | Acc@0.25 | F1@0.25 | parse rate | fully verified |", "|---|---|---|---|---|---|"]
    for label, r in rows:
        m = r.get("model", {})
        out.append(f"| {label} | {_f(r['accuracy'])} | {_f(r['scanrefer']['acc@0.25']['overall'])} | "
                   f"{_f(r['multi3drefer']['f1@0.25']['overall'])} | {_f(m.get('trace_parse_rate'))} | "
                   f"{_f(m.get('fully_verified_share'))} |")
    return "\n".join(out)


def bucket_table(rows: list[tuple[str, dict]], key: str, title: str) -> str:
    names = []
    for _, r in rows:
        for k in r.get(key, {}):
            if k not in names:
                names.append(k)
    out = [f"| {title} | " + " | ".join(label for label, _ in rows) + " |",
           "|---|" + "---|" * len(rows)]
    for k in names:
        cells = []
        for _, r in rows:
            b = r.get(key, {}).get(k)
            cells.append("n/a" if b is None else f"{_f(b.get('accuracy'))} (F1@0.25 {_f(b.get('f1@0.25'))}, n={b['n']})")
        out.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def model_table(rows: list[tuple[str, dict]]) -> str:
    out = ["| model | latency p50 ms | p95 ms | generated tokens (mean) | decode tokens/s |", "|---|---|---|---|---|"]
    for label, r in rows:
        m = r.get("model", {})
        lat = r.get("latency_ms", {})
        out.append(f"| {label} | {lat.get('p50', 0):.0f} | {lat.get('p95', 0):.0f} | "
                   f"{m.get('gen_tokens_mean') or 0:.1f} | {m.get('decode_tokens_per_s') or 0:.0f} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", action="append", default=[], metavar="LABEL=FILE")
    ap.add_argument("--bench", metavar="FILE")
    a = ap.parse_args(argv)
    rows = []
    for item in a.eval:
        label, path = item.rsplit("=", 1)
        rows.append((label, json.loads(Path(path).read_text())))
    if rows:
        print(main_table(rows), end="\n\n")
        print(bucket_table(rows, "by_phrasing", "phrasing"), end="\n\n")
        print(bucket_table(rows, "by_depth", "depth"), end="\n\n")
        print(bucket_table(rows, "by_target_kind", "targets"), end="\n\n")
        print(model_table(rows), end="\n\n")
        print(ablation_table(rows), end="\n\n")
    if a.bench:
        print("```json\n" + json.dumps(json.loads(Path(a.bench).read_text()), indent=1) + "\n```")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
