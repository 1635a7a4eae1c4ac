"""Render ``docs/benchmarks.md`` from the bench records in ``benchmarks/results/``.

    python -m benchmarks.render                      # rewrite docs/benchmarks.md from benchmarks/results/*.json
    python -m benchmarks.render --check              # exit 1 when docs/benchmarks.md is not what the JSON gives
    python -m benchmarks.render --results DIR --out FILE

``make bench`` runs it after the benches (``benchmarks.run`` calls :func:`render`); it
also runs alone on the JSON already there. The page is one section per bench with
readable tables: each figure with its unit, the target it is held to (the project's
targets, :data:`TARGETS`) and, where the field reports one, the anchor it compares with
(:data:`ANCHORS`, from the papers' own settings). A value a bench records that no table
below names is still shown, in that bench's "other recorded values" table, so a new key
never goes missing from the page. ``tests/test_benchmarks_render.py`` checks that the
committed page equals what this module makes from the committed JSON.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
DOCS = REPO / "docs" / "benchmarks.md"
COMMAND = "python -m benchmarks.render"
BENCH_COMMAND = "python -m benchmarks.run --out benchmarks/results"

# The project's targets (issue goals, restated in README.md's results table).
TARGETS = {
    "symbolic_p50_ms": "p50 < 2 ms",
    "samples_per_s": ">= 1000 samples/s",
    "neural_p50_ms": "p50 <= 300 ms",
    "neural_parse": ">= 95 %",
    "ros_e2e_p50_ms": "p50 <= 50 ms",
    "ros_keep_up": "process every frame at 15 Hz, no drops",
    "ros_rss": "no growth",
    "real": {"sr3d": "90 %", "sr3d_view_dep": "70 %", "nr3d": "55 %", "scanrefer": "62 %"},
}

# What the field reports (docs: /work/shared/reference/apeiria-facts.md, each paper's own setting).
ANCHORS = {
    "oracle_gap": "APEIRIA (paper): ScanRefer Acc@0.25 58.4 with its segmenter's boxes vs 61.3 with "
                  "ground-truth boxes (a 2.9-point gap)",
    "sr3d": "ReferIt3DNet 40.8, NS3D 62.7, MVT 64.5, ViL3DRel 72.8, 3D-VisTA 76.4, Transcrib3D 98.4",
    "nr3d": "ReferIt3DNet 35.6, MVT 55.1, ViL3DRel 64.4, 3D-VisTA 64.2, SeeGround 46.1, EaSe 52.9, "
            "Transcrib3D 70.2, APEIRIA (paper, zero-shot) 36.5",
    "scanrefer": "Acc@0.25 with ground-truth boxes = exactly right: APEIRIA (paper) 61.3 with oracle "
                 "boxes (58.4 detected), Chat-Scene 55.5, EaSe 49.2 (detected boxes)",
}


# ------------------------------------------------------------------ formatting
def _sig(v: float, sig: int = 3) -> str:
    """``v`` to ``sig`` significant digits, no exponent, no trailing zeros (123456.7 -> '123457', 0.960 -> '0.96')."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    decimals = max(0, sig - 1 - int(math.floor(math.log10(abs(v)))))
    text = f"{v:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt(v: Any, kind: str = "num") -> str:
    """One cell. kinds: num (3 significant digits), ms, pct (share -> %), share (2 decimals), int, text."""
    if v is None:
        return "not measured"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if kind == "pct" and isinstance(v, (int, float)):
        return f"{100 * v:.1f} %"
    if kind == "share" and isinstance(v, (int, float)):
        return f"{v:.3f}"
    if kind == "int" and isinstance(v, (int, float)):
        return f"{int(round(v))}"
    if isinstance(v, float):
        return _sig(v, 4 if abs(v) >= 100 else 3)
    if isinstance(v, list):
        s = ", ".join(fmt(x) for x in v)
        return s if len(s) <= 90 else s[:87] + "..."
    return str(v).replace("|", "/").replace("\n", " ")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + [""]


class Result:
    """A bench's result dict; ``get`` marks what the tables used, ``rest`` is everything else."""

    def __init__(self, result: dict):
        self.result = result
        self.used: set[tuple] = set()

    def get(self, path: str, default: Any = None, mark: bool = True) -> Any:
        node: Any = self.result
        keys = tuple(path.split("/"))
        for k in keys:
            if isinstance(node, dict) and k in node:
                node = node[k]
            elif isinstance(node, list) and k.isdigit() and int(k) < len(node):
                node = node[int(k)]
            else:
                return default
        if mark:
            self.used.add(keys)
        return node

    def has(self, path: str) -> bool:
        return self.get(path, _MISSING, mark=False) is not _MISSING

    def rest(self) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []

        def walk(node: Any, keys: tuple) -> None:
            if any(keys[:i] in self.used for i in range(1, len(keys) + 1)):
                return
            if isinstance(node, dict) and node:
                for k, v in node.items():
                    walk(v, keys + (str(k),))
            elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
                for i, v in enumerate(node):
                    walk(v, keys + (str(i),))
            else:
                out.append(("/".join(keys), node))

        walk(self.result, ())
        return out


_MISSING = object()


def figures(r: Result, rows: list[tuple]) -> list[str]:
    """A ``figure | value | unit | target | anchor`` table; a row is (label, path, kind, unit[, target[, anchor]]).

    ``path`` may be a callable (r -> value). Rows whose value is missing are left out.
    """
    body = []
    for row in rows:
        label, path, kind, unit = row[:4]
        target = row[4] if len(row) > 4 else ""
        anchor = row[5] if len(row) > 5 else ""
        v = path(r) if callable(path) else r.get(path, _MISSING)
        if v is _MISSING:
            continue
        body.append([label, fmt(v, kind), unit, target, anchor])
    if not body:
        return []
    return table(["figure", "value", "unit", "target", "anchor / baseline"], body)


# ------------------------------------------------------------------- benches
def _data(r: Result) -> list[str]:
    out = ["Synthetic rooms and the full dataset (scenes + instructions + stage 1/2/3 records) "
           "from `apeiria_model.data`, wall-clock throughput.", ""]
    out += figures(r, [
        ("rooms generated (layout only)", "rooms/scenes_per_s", "num", "scenes/s"),
        ("... rooms in the run / mean objects a room", lambda r: f"{fmt(r.get('rooms/n_scenes'))} / "
         f"{fmt(r.get('rooms/mean_objects'))}", "text", "rooms / objects"),
        ("... per CPU second", "rooms/scenes_per_cpu_s", "num", "scenes/CPU-s"),
    ])
    cols = [("dataset", "1 process"), ("dataset_2_workers", "2 worker processes")]
    rows_spec = [("scenes", "n_scenes", "int", "scenes", ""), ("worker processes", "workers", "int", "", ""),
                 ("wall time", "wall_s", "num", "s", ""), ("CPU time (this process)", "cpu_s", "num", "s", ""),
                 ("scenes / s", "scenes_per_s", "num", "scenes/s", ""),
                 ("grounding samples / s", "grounding_samples_per_s", "num", "samples/s", TARGETS["samples_per_s"]),
                 ("records / s (all stages)", "records_per_s", "num", "records/s", ""),
                 ("scenes / CPU s", "scenes_per_cpu_s", "num", "scenes/CPU-s", ""),
                 ("grounding samples / CPU s", "grounding_samples_per_cpu_s", "num", "samples/CPU-s", ""),
                 ("records / CPU s", "records_per_cpu_s", "num", "records/CPU-s", "")]
    body = []
    for label, key, kind, unit, target in rows_spec:
        if not any(r.has(f"{c}/{key}") for c, _ in cols):
            continue
        body.append([label] + [fmt(r.get(f"{c}/{key}"), kind) if r.has(f"{c}/{key}") else "" for c, _ in cols]
                    + [unit, target])
    out += table(["dataset generation", *(name for _, name in cols), "unit", "target"], body)
    out += figures(r, [
        ("grounding samples generated (1 process)", "dataset/grounding_samples", "int", "samples"),
        ("records written (1 process)", "dataset/records", "int", "records"),
        ("samples the generator gave up on", "dataset/failed_samples", "int", "samples"),
        ("samples dropped: program and target disagree", "dataset/dropped_mismatch", "int", "samples"),
    ])
    return out


def _executor(r: Result) -> list[str]:
    rows = r.get("results") or []
    out = [f"The program executor on random scenes (`{fmt(r.get('matcher'))}` concept matcher): "
           f"{fmt(rows[0].get('programs')) if rows else '?'} random programs per cell, by scene size and "
           "program depth. Latency per program, p50 / p95, in **ms**."
           + (f" 1-min load average {fmt(r.get('load_average_1min'))}." if r.has("load_average_1min") else ""), ""]
    r.get("benchmark"), r.get("quick")  # the bench's name and mode, already in the heading line
    body = []
    for row in rows:
        def pp(k):
            return f"{fmt(row.get(k, {}).get('p50_ms'))} / {fmt(row.get(k, {}).get('p95_ms'))}"
        body.append([fmt(row.get("objects")), fmt(row.get("depth")), pp("execute"), pp("execute_render_full"),
                     pp("execute_render_compact"), pp("parse_verify_compact")])
    if rows:
        out += table(["objects", "depth", "execute", "execute + full trace", "execute + compact trace",
                      "parse + verify compact trace"], body)
    return out


def _grounding(r: Result) -> list[str]:
    out = ["`SymbolicReasoner.ground` (parse + execute + trace + verify) with the embedding model loaded "
           "and the scene's labels embedded once.", ""]
    body = []
    for n in (10, 50, 200):
        k = f"latency_{n}obj"
        if not r.has(k):
            continue
        st = r.get(f"{k}/statuses") or {}
        body.append([str(n), fmt(r.get(f"{k}/p50_ms")), fmt(r.get(f"{k}/p95_ms")), fmt(r.get(f"{k}/mean_ms")),
                     fmt(r.get(f"{k}/queries")), ", ".join(f"{s} {c}" for s, c in sorted(st.items())),
                     TARGETS["symbolic_p50_ms"]])
    out += table(["objects", "p50 (ms)", "p95 (ms)", "mean (ms)", "queries", "statuses", "target"], body)
    out += figures(r, [
        ("instruction parser alone, p50", "parse_p50_ms", "num", "ms"),
        ("embedding model load", "model_load_s", "num", "s"),
        ("concept matcher", lambda r: f"{fmt(r.get('matcher'))} (model available: {fmt(r.get('model_available'))})",
         "text", ""),
    ])
    if r.has("calibration"):
        out += ["Open-vocabulary matcher on `language/calibration_pairs.tsv` "
                f"({fmt(r.get('calibration/pairs'))} pairs, threshold {fmt(r.get('calibration/threshold'))}):", ""]
        body = [[name, fmt(r.get(f"{p}/precision"), "share"), fmt(r.get(f"{p}/recall"), "share"),
                 fmt(r.get(f"{p}/f1"), "share")]
                for name, p in (("at the threshold", "calibration"), ("5-fold cross-validated", "calibration/cross_validated"))]
        out += table(["matcher", "precision", "recall", "F1"], body)
    if r.has("generated"):
        out += ["Accuracy on freshly generated grounding records (exact target set, or the answer of a count / "
                "colour question), by phrasing: `train` phrasings (the parser was written against them) and "
                "`heldout` phrasings (never looked at: a generalisation measure).", ""]
        body = []
        for split in ("train", "heldout"):
            p = f"generated/{split}"
            if r.has(p):
                body.append([split, fmt(r.get(f"{p}/n")), fmt(r.get(f"{p}/correct")), fmt(r.get(f"{p}/accuracy"), "pct"),
                             fmt(r.get(f"{p}/parser_agreement"), "pct"), fmt(r.get(f"{p}/same_as_gold_program")),
                             fmt(r.get(f"{p}/program_exact")), fmt(r.get(f"{p}/unparsed"))])
        out += table(["phrasing", "queries", "correct", "accuracy", "parser agreement", "same answer as the gold program",
                      "program text identical", "unparsed"], body)
    return out


def _neural(r: Result) -> list[str]:
    out = [f"`NeuralReasoner.ground` with the {fmt(r.get('checkpoint'))} checkpoint "
           f"({fmt(r.get('params'))} parameters, {fmt(r.get('torch_threads'))} torch threads): "
           f"{fmt(r.get('n_queries'))} instructions on a {fmt(r.get('n_objects'))}-object scene, batch 1, the whole "
           f"chain of thought, decoding `{fmt(r.get('constrained_decoding'))}`-constrained and free, interleaved.", ""]
    out += figures(r, [
        ("latency p50, constrained decoding", "latency_40obj_ms/p50", "num", "ms", TARGETS["neural_p50_ms"]),
        ("latency p95, constrained decoding", "latency_40obj_ms/p95", "num", "ms"),
        ("latency p50, free decoding", "unconstrained/latency_40obj_ms/p50", "num", "ms", TARGETS["neural_p50_ms"]),
        ("latency p95, free decoding", "unconstrained/latency_40obj_ms/p95", "num", "ms"),
        ("constrained / free latency", "constraint_latency_ratio", "num", "ratio"),
        ("generated tokens a query (mean)", "gen_tokens_mean", "num", "tokens"),
        ("decode speed", "decode_tokens_per_s", "num", "tokens/s"),
        ("compute bound at the measured matmul speed", "compute_bound_tokens_per_s", "num", "tokens/s"),
        ("decode speed / compute bound", "decode_fraction_of_bound", "pct", "", ">= 10 %"),
        ("decode, fused step, 1 thread (the default; variants interleaved)", "decode_variants/fused_1thread/tokens_per_s", "num", "tokens/s"),
        ("decode, fused step, torch's threads", "decode_variants/fused_default_threads/tokens_per_s", "num", "tokens/s"),
        ("decode, generic block step, 1 thread", "decode_variants/generic_1thread/tokens_per_s", "num", "tokens/s"),
        ("decode, generic block step, torch's threads (the old path)", "decode_variants/generic_default_threads/tokens_per_s", "num", "tokens/s"),
        ("CPU fp32 matmul", "cpu_matmul_gflops", "num", "GFLOP/s"),
        ("trace parse rate, constrained (these instructions)", "parse_rate", "pct", "", TARGETS["neural_parse"]),
        ("trace parse rate, free", "unconstrained/parse_rate", "pct", "", TARGETS["neural_parse"]),
        ("traces fully verified", "verified_share", "pct", ""),
    ])
    return out


_SEG_ROWS = [
    ("recall@0.25", "recall@0.25", "share", "0.90"),
    ("precision@0.25", "precision@0.25", "share", "0.85"),
    ("recall@0.5", "recall@0.5", "share", ""),
    ("precision@0.5", "precision@0.5", "share", ""),
    ("label accuracy of matched objects, mean over rooms", "label_accuracy", "share", "0.85"),
    ("label accuracy, pooled over matched objects", "label_accuracy_pooled", "share", ""),
    ("ID stability", "id_stability", "share", ""),
    ("map update per frame p50 (ms)", "map_update_p50_ms", "num", "<= 66"),
    ("map update per frame p95 (ms)", "map_update_p95_ms", "num", ""),
    ("... validate p50 (ms)", "stage_p50_ms/validate", "num", ""),
    ("... segment p50 (ms)", "stage_p50_ms/segment", "num", ""),
    ("... ... geometric segments p50 (ms)", "stage_p50_ms/segment.geometric", "num", ""),
    ("... ... classify p50 (ms)", "stage_p50_ms/segment.classify", "num", ""),
    ("... fuse into the map p50 (ms)", "stage_p50_ms/fuse", "num", ""),
]


def _perception(r: Result) -> list[str]:
    rooms = r.get("rooms") or []
    segs = list((r.get("segmenters") or {}).keys())
    room_txt = ", ".join(f"{x.get('seed')} {x.get('type')} ({x.get('objects')} objects)" for x in rooms)
    out = [f"{fmt(r.get('frames_per_room'))}-frame {fmt(r.get('image'))} sweeps with sensor noise of generated rooms "
           f"never used in training ({room_txt}). Quality against the ground-truth objects that show at least "
           "200 pixels in some frame, mean over rooms unless pooled; IoU is 3D axis-aligned.", ""]
    tgt = r.get("targets") or {}
    targets = {"recall@0.25": tgt.get("recall@0.25"), "precision@0.25": tgt.get("precision@0.25"),
               "label_accuracy": tgt.get("label_accuracy"), "map_update_p50_ms": tgt.get("p50_ms")}
    body = []
    for label, key, kind, _ in _SEG_ROWS:
        vals = [r.get(f"segmenters/{s}/{key}", _MISSING) for s in segs]
        if all(v is _MISSING for v in vals):
            continue
        t = targets.get(key)
        t_txt = "" if t is None else (f"<= {fmt(t)}" if key.endswith("_ms") else f">= {fmt(t, 'share')}")
        body.append([label] + ["" if v is _MISSING else ("n/a (no labels)" if v is None else fmt(v, kind))
                               for v in vals] + [t_txt])
    for s in segs:
        r.get(f"segmenters/{s}/meets_targets")
    if body:
        out += table(["segmenter", *segs, "target"], body)
    for s in segs:
        m = r.get(f"segmenters/{s}/meets_targets") or {}
        met = [k for k, v in m.items() if v]
        missed = [k for k, v in m.items() if not v]
        out += [f"Targets, {s}: met {', '.join(met) or 'none'}; missed {', '.join(missed) or 'none'}.", ""]
    per_room = {s: r.get(f"segmenters/{s}/per_room") or [] for s in segs}
    if any(per_room.values()):
        body = []
        for i, room in enumerate(rooms):
            row = [f"{room.get('seed')} {room.get('type')}"]
            for s in segs:
                pr = per_room[s][i] if i < len(per_room[s]) else {}
                row.append(f"{fmt(pr.get('recall@0.25'), 'share')} / {fmt(pr.get('precision@0.25'), 'share')} "
                           f"({fmt(pr.get('matched'))} of {fmt(pr.get('n_gt'))}, {fmt(pr.get('n_pred'))} published)")
                if pr.get("label_accuracy") is not None:
                    row[-1] += f", labels {fmt(pr.get('label_accuracy'), 'share')}"
                row[-1] += f", ID stab. {fmt(pr.get('id_stability'), 'share')}"
            body.append(row)
        out += ["Per room, recall / precision @0.25 (matched of visible ground-truth objects, objects published):", ""]
        out += table(["room", *segs], body)
        # the @0.5 figures per room stay in the JSON; mark them read
        for s in segs:
            r.get(f"segmenters/{s}/per_room")
    if r.has("seed_spread"):
        seeds = r.get("seed_spread/ransac_seeds") or []
        body = [[str(sd), fmt(r.get(f"seed_spread/per_seed/{sd}/recall@0.25"), "share"),
                 fmt(r.get(f"seed_spread/per_seed/{sd}/precision@0.25"), "share")] for sd in seeds]
        body.append(["mean (min - max)",
                     f"{fmt(r.get('seed_spread/recall@0.25/mean'), 'share')} ({fmt(r.get('seed_spread/recall@0.25/min'), 'share')} - {fmt(r.get('seed_spread/recall@0.25/max'), 'share')})",
                     f"{fmt(r.get('seed_spread/precision@0.25/mean'), 'share')} ({fmt(r.get('seed_spread/precision@0.25/min'), 'share')} - {fmt(r.get('seed_spread/precision@0.25/max'), 'share')})"])
        out += ["Seed noise: the learned segmenter again with other RANSAC seeds for the wall and floor fits "
                "(mean over the rooms):", ""]
        out += table(["RANSAC seed", "recall@0.25", "precision@0.25"], body)
    if r.has("onnxruntime_cpu_inference"):
        p = "onnxruntime_cpu_inference"
        out += [f"Segment classifier through ONNX Runtime ({fmt(r.get(f'{p}/providers'))}):", ""]
        out += table(["batch", "p50 (ms)", "p95 (ms)"],
                     [["1 segment", fmt(r.get(f"{p}/batch1_p50_ms")), fmt(r.get(f"{p}/batch1_p95_ms"))],
                      ["20 segments", fmt(r.get(f"{p}/batch20_p50_ms")), fmt(r.get(f"{p}/batch20_p95_ms"))]])
    out += figures(r, [
        ("rendering a simulated frame (mean, not part of perception)", "render_ms_per_frame_mean", "num", "ms"),
        ("whole bench", "seconds", "num", "s"),
    ])
    if r.has("oracle_gap"):
        out += _oracle_gap(r)
    return out


def _oracle_gap(r: Result) -> list[str]:
    g = "oracle_gap"
    if r.get(f"{g}/skipped"):
        return [f"Oracle gap: skipped ({fmt(r.get(f'{g}/skipped'))}).", ""]
    out = ["### Oracle gap: symbolic grounding on perceived vs ground-truth scenes", "",
           f"{fmt(r.get(f'{g}/n_scenes'))} scenes of the generated `{fmt(r.get(f'{g}/split'))}` split, each a "
           f"{fmt(r.get(f'{g}/frames_per_scene'))}-frame sweep through the `{fmt(r.get(f'{g}/segmenter'))}` "
           f"pipeline; every query ({fmt(r.get(f'{g}/instruction/gt/n_queries'))}: "
           f"{fmt(r.get(f'{g}/instruction/gt/n_single'))} single-target, "
           f"{fmt(r.get(f'{g}/instruction/gt/n_grounding'))} grounding, {fmt(r.get(f'{g}/instruction/gt/n_qa'))} "
           "count / colour questions) grounded on both and scored against the ground-truth boxes. "
           "`instruction` = the symbolic reasoner from the text; `program` = the generator's gold program "
           "executed (no parsing: the gap is perception's alone).", ""]
    for mode in ("instruction", "program"):
        for part in ("gt", "perceived", "drop"):
            for k in ("n_queries", "n_single", "n_grounding", "n_qa"):
                r.get(f"{g}/{mode}/{part}/{k}")
    body = []
    metrics = [("acc@0.25", "Acc@0.25 (single-target)"), ("acc@0.5", "Acc@0.5"), ("f1@0.25", "F1@0.25 (grounding)"),
               ("f1@0.5", "F1@0.5"), ("qa_exact", "QA exact match")]
    for mode in ("program", "instruction"):
        for key, label in metrics:
            if not r.has(f"{g}/{mode}/gt/{key}"):
                continue
            body.append([mode, label, fmt(r.get(f"{g}/{mode}/gt/{key}"), "share"),
                         fmt(r.get(f"{g}/{mode}/perceived/{key}"), "share"),
                         fmt(r.get(f"{g}/{mode}/drop/{key}"), "share")])
    out += table(["mode", "metric", "ground-truth scene", "perceived scene", "drop"], body)
    out += [f"Anchor: {ANCHORS['oracle_gap']}.", ""]
    causes = r.get(f"{g}/program/single_target_on_perceived") or {}
    causes_i = r.get(f"{g}/instruction/single_target_on_perceived") or {}
    if causes:
        out += ["Single-target queries on the perceived scenes, by first cause of failure:", ""]
        out += table(["mode", *causes.keys()],
                     [["program", *(fmt(v) for v in causes.values())],
                      ["instruction", *(fmt(causes_i.get(k)) for k in causes)]])
    miss = r.get(f"{g}/program/targets_not_perceived_by_label") or {}
    r.get(f"{g}/instruction/targets_not_perceived_by_label")
    if miss:
        out += ["Targets in view but not perceived, by label (program mode): "
                + ", ".join(f"{k} {v}" for k, v in miss.items()) + ".", ""]
    out += figures(r, [
        ("perception on these scenes: recall@0.25", f"{g}/perception/recall@0.25", "share", ""),
        ("... precision@0.25", f"{g}/perception/precision@0.25", "share", ""),
        ("... label accuracy", f"{g}/perception/label_accuracy", "share", ""),
        ("time perceiving / whole oracle gap", lambda r: f"{fmt(r.get(f'{g}/perceive_seconds'))} / "
         f"{fmt(r.get(f'{g}/seconds'))}", "text", "s"),
    ])
    r.get(f"{g}/scene_ids"), r.get(f"{g}/data")
    return out


def _ros(r: Result) -> list[str]:
    out = ["Real DDS on loopback, each node its own process."]
    if r.has("note"):
        out[0] += f" Note: {fmt(r.get('note'))}."
    out.append("")
    g = "grounding_latency"
    if r.has(g):
        st = r.get(f"{g}/statuses") or {}
        out += [f"Instruction published -> `GroundingResult` received, symbolic reasoner, "
                f"{fmt(r.get(f'{g}/objects'))}-object map, {fmt(r.get(f'{g}/queries'))} instructions one at a time "
                f"({', '.join(f'{s} {c}' for s, c in sorted(st.items()))}):", ""]
        out += figures(r, [
            ("end to end p50", f"{g}/e2e_p50_ms", "num", "ms", TARGETS["ros_e2e_p50_ms"]),
            ("end to end p95", f"{g}/e2e_p95_ms", "num", "ms"),
            ("end to end max", f"{g}/e2e_max_ms", "num", "ms"),
            ("the reasoner's own time p50", f"{g}/reasoner_p50_ms", "num", "ms"),
            ("the reasoner's own time p95", f"{g}/reasoner_p95_ms", "num", "ms"),
        ])
    s = "sensor_pipeline"
    if r.has(s):
        out += [f"Scene builder fed {fmt(r.get(f'{s}/resolution'))} at {fmt(r.get(f'{s}/target_rate_hz'))} Hz "
                f"for {fmt(r.get(f'{s}/duration_s'))} s by the simulator node:", ""]
        out += figures(r, [
            ("frames sent / received / processed", lambda r: f"{fmt(r.get(f'{s}/frames_sent'))} / "
             f"{fmt(r.get(f'{s}/frames_received'))} / {fmt(r.get(f'{s}/frames_processed'))}", "text", "frames",
             TARGETS["ros_keep_up"]),
            ("rates sent / received / processed", lambda r: f"{fmt(r.get(f'{s}/sent_hz'))} / "
             f"{fmt(r.get(f'{s}/received_hz'))} / {fmt(r.get(f'{s}/processed_hz'))}", "text", "Hz"),
            ("frames dropped / rejected", lambda r: f"{fmt(r.get(f'{s}/frames_dropped'))} / "
             f"{fmt(r.get(f'{s}/frames_rejected'))}", "text", "frames"),
            ("share of frames processed", f"{s}/processed_fraction", "pct", ""),
            ("worker queue depth, max (queue size)", lambda r: f"{fmt(r.get(f'{s}/max_queue_depth'))} "
             f"({fmt(r.get(f'{s}/queue_size'))})", "text", "frames"),
            ("perception per frame p50 / p95, last 20 s", lambda r: f"{fmt(r.get(f'{s}/perception_ms_p50_last_20s'))}"
             f" / {fmt(r.get(f'{s}/perception_ms_p95_last_20s'))}", "text", "ms"),
            ("RSS at start / end", lambda r: f"{fmt(r.get(f'{s}/rss_start_mb'))} / {fmt(r.get(f'{s}/rss_end_mb'))}",
             "text", "MB"),
            ("RSS growth over the second half", f"{s}/rss_growth_second_half_mb", "num", "MB", TARGETS["ros_rss"]),
            ("objects in the map at the end", f"{s}/map_objects", "int", "objects"),
            ("last problem reported", lambda r: fmt(r.get(f"{s}/last_problem")) or "none", "text", ""),
        ])
        trace = r.get(f"{s}/rss_trace_mb")
        if isinstance(trace, list) and trace:
            out += [f"RSS trace (MB, evenly spaced over the run): {', '.join(fmt(x) for x in trace)}.", ""]
    f = "flood"
    if r.has(f):
        def statuses(path):
            return ", ".join(f"{k} {v}" for k, v in sorted((r.get(path) or {}).items())) or "none"
        out += ["Flood accounting: every request must get exactly one result (served, or refused as `busy`):", ""]
        out += figures(r, [
            ("topic: instructions sent (rate)", lambda r: f"{fmt(r.get(f'{f}/topic/sent'))} "
             f"({fmt(r.get(f'{f}/topic/rate_hz'))} Hz)", "text", "requests"),
            ("topic: results by status", lambda r: statuses(f"{f}/topic/by_status"), "text", ""),
            ("topic: unaccounted / duplicated", lambda r: f"{fmt(r.get(f'{f}/topic/unaccounted'))} / "
             f"{fmt(r.get(f'{f}/topic/duplicates'))}", "text", "requests", "0 / 0"),
            ("service: concurrent calls / answered", lambda r: f"{fmt(r.get(f'{f}/service/calls'))} / "
             f"{fmt(r.get(f'{f}/service/answered'))}", "text", "calls"),
            ("service: answers by status", lambda r: statuses(f"{f}/service/by_status"), "text", ""),
            ("service: unanswered", f"{f}/service/unanswered", "int", "calls", "0"),
            ("soak: duration / requests / unaccounted", lambda r: f"{fmt(r.get(f'{f}/soak/duration_s'))} s / "
             f"{fmt(r.get(f'{f}/soak/requests'))} / {fmt(r.get(f'{f}/soak/unaccounted'))}", "text", ""),
            ("soak: grounding node RSS start / end", lambda r: f"{fmt(r.get(f'{f}/soak/rss_start_mb'))} / "
             f"{fmt(r.get(f'{f}/soak/rss_end_mb'))}", "text", "MB"),
            ("soak: RSS growth", f"{f}/soak/rss_growth_mb", "num", "MB", "< 50"),
        ])
    return out


def _verified(r: Result) -> list[str]:
    sets = r.get("sets") or {}
    out = [f"How far `verified: true` can be trusted: the same queries through each reasoner "
           f"({fmt(r.get('n_scenes_generated'))} generated rooms, seed {fmt(r.get('seed'))}, test split; "
           "the shipped human-phrased set). verified = steps re-execute AND the program answers the question; "
           "verified but wrong = answers vouched for that are wrong (the target: 0).", ""]
    rows = []
    for name, by in sets.items():
        for reasoner, st in by.items():
            checks = ", ".join(f"{k} {v}" for k, v in sorted((st.get("failed_checks") or {}).items())) or "none"
            rows.append([name, reasoner, fmt(st.get("n"), "int"), fmt(st.get("accuracy"), "pct"),
                         fmt(st.get("verified"), "pct"), fmt(st.get("verified_wrong"), "int"), checks,
                         fmt(st.get("p50_ms"))])
    return out + table(["set", "reasoner", "queries", "accuracy", "verified", "verified but wrong",
                        "not verified, by check", "p50 ms"], rows)


def _sim(r: Result) -> list[str]:
    scenes = r.get("scenes") or {}
    out = [f"The RGB-D simulator (Open3D raycasting), {fmt(r.get('image'))}, {fmt(r.get('frames_per_scene'))} frames "
           f"a scene; 1-min load average {fmt(r.get('load_avg_1min_before'))} before, "
           f"{fmt(r.get('load_avg_1min_after'))} after. Wall-clock ms unless marked CPU.", ""]
    cols = [("triangles", "triangles", None), ("build (ms)", "build_ms", None),
            ("render p50 / p95 (ms)", "render_ms", ("p50", "p95")), ("render CPU p50 (ms)", "render_cpu_ms", ("p50",)),
            ("rays p50", "rays_ms", ("p50",)), ("cast p50", "cast_ms", ("p50",)), ("shade p50", "shade_ms", ("p50",)),
            ("render + noise p50 / p95 (ms)", "render_with_noise_ms", ("p50", "p95")), ("fps p50", "fps_p50", None),
            ("visible objects (mean)", "mean_visible_objects", None)]
    body = []
    for name in scenes:
        row = [fmt(r.get(f"scenes/{name}/objects"))]
        for _, key, sub in cols:
            if sub is None:
                row.append(fmt(r.get(f"scenes/{name}/{key}")))
            else:
                row.append(" / ".join(fmt(r.get(f"scenes/{name}/{key}/{x}")) for x in sub))
                for x in ("mean", "n"):
                    r.get(f"scenes/{name}/{key}/{x}")
        body.append(row)
    if body:
        out += table(["objects", *(c for c, _, _ in cols)], body)
    return out


def _speech(r: Result) -> list[str]:
    modes = r.get("modes") or {}
    out = [f"Offline speech recognition (pocketsphinx) of synthesised instructions ({fmt(r.get('voice'))}), "
           "by recogniser mode.", ""]
    body = []
    for m in modes:
        p = f"modes/{m}"
        body.append([m, fmt(r.get(f"{p}/utterances")), fmt(r.get(f"{p}/word_error_rate"), "share"),
                     fmt(r.get(f"{p}/exact_transcripts")), fmt(r.get(f"{p}/decode_ms_p50")),
                     fmt(r.get(f"{p}/decode_ms_max")), fmt(r.get(f"{p}/real_time_factor_p50")),
                     fmt(r.get(f"{p}/setup_s_first_scene"))])
    if body:
        out += table(["mode", "utterances", "word error rate", "exact transcripts", "decode p50 (ms)",
                      "decode max (ms)", "real-time factor p50", "setup, first scene (s)"], body)
    ex_rows = []
    for m in modes:
        for ex in r.get(f"modes/{m}/examples") or []:
            ex_rows.append([m, fmt(ex.get("said")), fmt(ex.get("heard"))])
    if ex_rows:
        out += ["Examples:", ""] + table(["mode", "said", "heard"], ex_rows)
    return out


_REAL_DATASETS = (("sr3d", "Sr3D"), ("nr3d", "Nr3D"), ("scanrefer", "ScanRefer"))
_REAL_GROUPS = ("unique", "multiple", "easy", "hard", "view_dep", "view_indep")


def _real(r: Result) -> list[str]:
    if r.has("skipped"):
        return [f"Skipped: {fmt(r.get('skipped'))}.", ""]
    out = [f"`SymbolicReasoner` (answer mode `{fmt(r.get('answer_mode'))}`) on real ScanNet train scenes with "
           f"ground-truth boxes and real referring expressions, the `{fmt(r.get('part'))}` part (never tuned on), "
           f"at most {fmt(r.get('per_dataset_cap'))} queries a dataset ({fmt(r.get('n_queries'))} queries over "
           f"{fmt(r.get('n_scenes'))} scenes). Accuracy = exactly the target; the baseline is the same-class "
           "random pick (1 / number of objects with the target's label). The anchors are what the field reports, "
           "each in its own setting (ReferIt3D protocol for Sr3D / Nr3D: pick the target among the ground-truth "
           "objects).", ""]
    tr = TARGETS["real"]
    body = []
    for key, name in _REAL_DATASETS:
        p = f"by_dataset/{key}"
        if not r.has(p):
            continue
        body.append([name, fmt(r.get(f"{p}/overall/n") if r.has(f"{p}/overall") else r.get(f"{p}/n")),
                     fmt(_acc(r, p), "pct"), fmt(_base(r, p), "pct"), tr.get(key, ""), ANCHORS.get(key, "")])
        if key == "sr3d" and r.has(f"{p}/view_dep"):
            q = f"{p}/view_dep"
            body.append(["Sr3D, view-dependent", fmt(r.get(f"{q}/n")), fmt(r.get(f"{q}/accuracy"), "pct"),
                         fmt(r.get(f"{q}/same_class_random"), "pct"), tr["sr3d_view_dep"], ""])
    if r.has("overall"):
        body.append(["all", fmt(r.get("overall/n")), fmt(r.get("overall/accuracy"), "pct"),
                     fmt(r.get("overall/same_class_random"), "pct"), "", ""])
        r.get("overall/statuses")
    out += table(["dataset", "queries", "accuracy", "same-class random", "target", "anchors (accuracy, %)"], body)
    gbody = []
    for key, name in _REAL_DATASETS:
        row = [name]
        for gname in _REAL_GROUPS:
            q = f"by_dataset/{key}/{gname}"
            if r.get(q) is None:
                row.append("")
                continue
            row.append(f"{fmt(r.get(f'{q}/accuracy'), 'pct')} vs {fmt(r.get(f'{q}/same_class_random'), 'pct')} "
                       f"(n {fmt(r.get(f'{q}/n'))})")
            r.get(f"{q}/statuses")
        gbody.append(row)
    if any(any(c for c in row[1:]) for row in gbody):
        out += ["By group (accuracy vs same-class random, n):", ""]
        out += table(["dataset", *_REAL_GROUPS], gbody)
    sbody = []
    for key, name in _REAL_DATASETS:
        st = r.get(f"by_dataset/{key}/statuses") or r.get(f"by_dataset/{key}/overall/statuses") or {}
        if st:
            sbody.append([name, ", ".join(f"{s} {c}" for s, c in sorted(st.items()))])
    if sbody:
        out += table(["dataset", "statuses"], sbody)
    out += figures(r, [
        ("latency p50 / p95 / max", lambda r: " / ".join(fmt(r.get(f"latency_ms/{k}")) for k in ("p50", "p95", "max")),
         "text", "ms"),
        ("model load and warm-up", "model_load_s", "num", "s"),
    ])
    return out


def _acc(r: Result, p: str):
    return r.get(f"{p}/overall/accuracy") if r.has(f"{p}/overall") else r.get(f"{p}/accuracy")


def _base(r: Result, p: str):
    return r.get(f"{p}/overall/same_class_random") if r.has(f"{p}/overall") else r.get(f"{p}/same_class_random")


BENCHES: dict[str, tuple[str, Callable[[Result], list[str]]]] = {
    "data": ("Data generation", _data),
    "executor": ("Program executor", _executor),
    "grounding": ("Symbolic grounding", _grounding),
    "neural": ("Neural reasoner", _neural),
    "perception": ("Perception", _perception),
    "real": ("Real data (ScanNet + Sr3D / Nr3D / ScanRefer)", _real),
    "ros": ("ROS 2 nodes", _ros),
    "sim": ("RGB-D simulator", _sim),
    "speech": ("Speech", _speech),
    "verified": ("Trust in `verified`", _verified),
}


# ----------------------------------------------------------------------- page
def _machine_line(rec: dict) -> str:
    m = rec.get("machine") or {}
    parts = [str(m.get("date")),
             f"commit {str(m.get('git_commit') or '?')[:10]}{' (dirty)' if m.get('git_dirty') else ''}",
             f"{m.get('cpu_model') or 'unknown CPU'} ({m.get('cpus_usable')} usable cores)",
             f"GPU {m['gpu']}" if m.get("gpu") else "no GPU",
             f"Python {m.get('python')}", "quick mode" if rec.get("quick") else "full mode",
             f"{rec.get('duration_s')} s"]
    la = rec.get("load_average_1min")
    if isinstance(la, dict):
        parts.append(f"1-min load average {la.get('before')} before, {la.get('after')} after")
    return f"`{rec.get('file', '')}`: " + ", ".join(parts)


def render_bench(name: str, rec: dict) -> list[str]:
    title, fn = BENCHES.get(name, (name, None))
    lines = [f"## {name}: {title}" if title != name else f"## {name}", "", _machine_line(rec), ""]
    if rec.get("status") != "ok":
        err = str(rec.get("error") or "unknown error").splitlines()[0]
        return lines + [f"**FAILED**: `{err}`", ""]
    r = Result(rec.get("result") or {})
    if fn is not None:
        lines += fn(r)
    rest = r.rest()
    if rest:
        lines += (["Other recorded values:", ""] if fn is not None else [])
        lines += table(["key", "value"], [[k, fmt(v)] for k, v in rest])
    return lines


def render(summary_or_records: dict[str, Any]) -> str:
    """The Markdown page for ``{"benches": {name: record}}`` (a summary) or ``{name: record}``."""
    benches = summary_or_records.get("benches", summary_or_records) if "benches" in summary_or_records \
        else summary_or_records
    lines = [
        "# Benchmarks",
        "",
        f"<!-- Generated by `{COMMAND}` from benchmarks/results/*.json (`make bench` runs the benches, then this). "
        "Do not edit by hand. -->",
        "",
        f"Every figure below was measured by the bench named in its section (`{BENCH_COMMAND}`, `make bench`), on "
        "the machine listed with it; this page is generated from the JSON records in `benchmarks/results/` by "
        f"`{COMMAND}`. Targets are the project's goals; anchors are what published systems report in their own "
        "settings, for scale, not as like-for-like comparisons. Latencies are wall-clock on a 2-core machine shared "
        "with other work, so the load average is given with each bench.",
        "",
    ]
    if benches:
        lines += ["| bench | what it measures | status | measured |", "|---|---|---|---|"]
        for name, rec in benches.items():
            title = BENCHES.get(name, (name, None))[0]
            when = str((rec.get("machine") or {}).get("date") or "?")[:10]
            lines.append(f"| [{name}](#{_anchor(name, title)}) | {title} | {rec.get('status')} | {when} |")
        lines.append("")
    for name, rec in benches.items():
        lines += render_bench(name, rec)
    if not benches:
        lines += ["No benchmark results yet.", ""]
    return "\n".join(lines)


def _anchor(name: str, title: str) -> str:
    text = f"{name}: {title}" if title != name else name
    keep = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return keep.replace(" ", "-")


def load_records(results_dir: Path = RESULTS) -> dict[str, dict]:
    """{name: record} from ``results_dir/<name>.json`` (summary.json is not needed), sorted by name."""
    from benchmarks.run import load_existing

    return load_existing(Path(results_dir))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"{COMMAND}", description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=str(RESULTS), help="folder with <bench>.json (default benchmarks/results)")
    ap.add_argument("--out", default=str(DOCS), help="Markdown file to write (default docs/benchmarks.md)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file differs")
    args = ap.parse_args(argv)
    text = render(load_records(Path(args.results)))
    out = Path(args.out)
    if args.check:
        same = out.is_file() and out.read_text() == text
        print(f"{out}: {'up to date' if same else 'differs from what ' + COMMAND + ' makes'}", file=sys.stderr)
        return 0 if same else 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
