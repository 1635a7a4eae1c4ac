"""README.md's results table (and the bench tables of docs/perception.md and docs/results.md)
match the bench JSON their figures come from (benchmarks/results/*.json).

Each check names a README row (a phrase of its first cell) and, for numbers in the
row's "measured" cell (counted in order, digits only), the bench record and key they
restate. A README number passes when it equals the JSON value (times ``scale``) to the
precision it is printed with. A re-run bench that moves a figure fails this test until
the README says the new number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"

# (row phrase, [(index of the number in the measured cell, bench, key path, scale), ...]);
# a negative scale: the README prints the number with its sign ("-1.8 MB"), digits compared.
CHECKS = [
    ("symbolic grounding p50 / p95, 50 objects",
     [(0, "grounding", "latency_50obj/p50_ms", 1), (1, "grounding", "latency_50obj/p95_ms", 1)]),
    ("symbolic accuracy on freshly generated records",
     [(0, "grounding", "generated/train/accuracy", 100), (1, "grounding", "generated/heldout/accuracy", 100)]),
    ("symbolic on **real** ScanNet",
     [(0, "real", "by_dataset/sr3d/overall/accuracy", 100), (1, "real", "by_dataset/sr3d/view_dep/accuracy", 100),
      (2, "real", "by_dataset/nr3d/overall/accuracy", 100), (3, "real", "by_dataset/scanrefer/overall/accuracy", 100),
      (4, "real", "by_dataset/sr3d/overall/same_class_random", 100),
      (5, "real", "by_dataset/sr3d/view_dep/same_class_random", 100),
      (6, "real", "by_dataset/nr3d/overall/same_class_random", 100),
      (7, "real", "by_dataset/scanrefer/overall/same_class_random", 100)]),
    ("data generation (grounding samples/s)",
     [(0, "data", "dataset/grounding_samples_per_s", 1), (1, "data", "dataset_2_workers/grounding_samples_per_s", 1)]),
    ("perception recall / precision @0.25, learned segmenter",
     [(0, "perception", "segmenters/learned/recall@0.25", 1), (1, "perception", "segmenters/learned/precision@0.25", 1),
      (2, "perception", "seed_spread/recall@0.25/min", 1), (3, "perception", "seed_spread/recall@0.25/max", 1),
      (4, "perception", "seed_spread/precision@0.25/min", 1), (5, "perception", "seed_spread/precision@0.25/max", 1)]),
    ("perception label accuracy of matched objects, 4 bench rooms",
     [(0, "perception", "segmenters/learned/label_accuracy", 1),
      (1, "perception", "segmenters/learned/label_accuracy_pooled", 1)]),
    ("perception map update p50",
     [(0, "perception", "segmenters/learned/map_update_p50_ms", 1)]),
    ("oracle gap, 20 test scenes",
     [(0, "perception", "oracle_gap/program/gt/acc@0.25", 1), (1, "perception", "oracle_gap/program/perceived/acc@0.25", 1),
      (2, "perception", "oracle_gap/instruction/gt/acc@0.25", 1),
      (3, "perception", "oracle_gap/instruction/perceived/acc@0.25", 1)]),
    ("neural grounding p50 / p95, 40 objects",
     [(0, "neural", "latency_40obj_ms/p50", 1), (1, "neural", "latency_40obj_ms/p95", 1)]),
    ("ROS instruction -> result p50 / p95",
     [(0, "ros", "grounding_latency/e2e_p50_ms", 1), (1, "ros", "grounding_latency/e2e_p95_ms", 1)]),
    ("ROS scene builder, 640x480 RGB-D at 15 Hz",
     [(0, "ros", "sensor_pipeline/frames_processed", 1), (1, "ros", "sensor_pipeline/frames_sent", 1),
      (2, "ros", "sensor_pipeline/frames_dropped", 1), (3, "ros", "sensor_pipeline/rss_growth_second_half_mb", -1)]),
    ("ROS flood: 10,000 topic instructions",
     [(0, "ros", "flood/topic/unaccounted", 1), (1, "ros", "flood/service/unanswered", 1),
      (2, "ros", "flood/soak/unaccounted", 1), (3, "ros", "flood/soak/rss_growth_mb", -1)]),
]
# The parenthesised free-decoding figures of the neural latency row.
FREE_DECODING = ("neural grounding p50 / p95, 40 objects",
                 [("unconstrained/latency_40obj_ms/p50", "free: "), ("unconstrained/latency_40obj_ms/p95", " / ")])

NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _rows(path: Path = REPO / "README.md", heading: str = "## Results") -> list[list[str]]:
    """Cells of the table rows under ``heading`` (up to the next heading of the same or a higher level)."""
    text = path.read_text()
    start = text.index(heading)
    level = len(heading) - len(heading.lstrip("#"))
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#") and len(line) - len(line.lstrip("#")) <= level:
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def _row(phrase: str, path: Path = REPO / "README.md", heading: str = "## Results") -> list[str]:
    found = [r for r in _rows(path, heading) if phrase in r[0]]
    assert len(found) == 1, f"{path.name} {heading!r}: {len(found)} table rows contain {phrase!r}"
    return found[0]


def _value(bench: str, path: str):
    rec = json.loads((RESULTS / f"{bench}.json").read_text())
    node = rec["result"]
    for k in path.split("/"):
        node = node[k]
    return node


def _matches(printed: str, value: float) -> bool:
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(float(printed) - value) <= 0.5 * 10 ** -decimals + 1e-9


@pytest.mark.parametrize("phrase,refs", CHECKS, ids=[c[0][:40] for c in CHECKS])
def test_readme_figure_matches_bench_json(phrase, refs):
    measured = _row(phrase)[1]
    numbers = NUMBER.findall(measured)
    for index, bench, path, scale in refs:
        value = _value(bench, path) * abs(scale)
        if scale < 0:  # printed with its sign in the text ("-1.8 MB"): compare magnitudes
            value = abs(value)
        assert index < len(numbers), f"{phrase!r}: measured cell {measured!r} has no number #{index}"
        assert _matches(numbers[index], value), (
            f"README {phrase!r}: {numbers[index]} (number #{index} of {measured!r}) but {bench}.json {path} = {value}")


def test_neural_free_decoding_figures():
    phrase, refs = FREE_DECODING
    what = _row(phrase)[0]
    m = re.search(r"free: (\d+(?:\.\d+)?) / (\d+(?:\.\d+)?)", what)
    assert m, what
    for printed, (path, _) in zip(m.groups(), refs):
        assert _matches(printed, _value("neural", path)), (phrase, printed, path)


def test_every_results_row_is_checked_or_names_its_source():
    checked = {c[0] for c in CHECKS}
    for row in _rows()[1:]:
        if any(p in row[0] for p in checked):
            continue
        assert "source" in row[0] or "not in `benchmarks/results`" in row[0], (
            f"README results row {row[0]!r} is neither checked against benchmarks/results nor names its source")


# Other docs that restate bench figures: (file, heading, row phrase, [(column, number index, bench, key, scale)]).
PERCEPTION = REPO / "docs" / "perception.md"
SEG = "### Both segmenters on the bench rooms"
GAP = "## Oracle gap"
_G, _L = "segmenters/geometric", "segmenters/learned"
DOC_CHECKS = [
    (PERCEPTION, SEG, "recall@0.25", [(1, 0, "perception", f"{_G}/recall@0.25", 1),
                                      (2, 0, "perception", f"{_L}/recall@0.25", 1)]),
    (PERCEPTION, SEG, "precision@0.25", [(1, 0, "perception", f"{_G}/precision@0.25", 1),
                                         (2, 0, "perception", f"{_L}/precision@0.25", 1)]),
    (PERCEPTION, SEG, "recall@0.5 / precision@0.5",
     [(1, 0, "perception", f"{_G}/recall@0.5", 1), (1, 1, "perception", f"{_G}/precision@0.5", 1),
      (2, 0, "perception", f"{_L}/recall@0.5", 1), (2, 1, "perception", f"{_L}/precision@0.5", 1)]),
    (PERCEPTION, SEG, "label accuracy", [(2, 0, "perception", f"{_L}/label_accuracy", 1),
                                         (2, 1, "perception", f"{_L}/label_accuracy_pooled", 1)]),
    (PERCEPTION, SEG, "ID stability", [(1, 0, "perception", f"{_G}/id_stability", 1),
                                       (2, 0, "perception", f"{_L}/id_stability", 1)]),
    (PERCEPTION, SEG, "map update per frame",
     [(1, 0, "perception", f"{_G}/map_update_p50_ms", 1), (1, 1, "perception", f"{_G}/map_update_p95_ms", 1),
      (2, 0, "perception", f"{_L}/map_update_p50_ms", 1), (2, 1, "perception", f"{_L}/map_update_p95_ms", 1)]),
    (PERCEPTION, SEG, "... segment p50",
     [(1, 0, "perception", f"{_G}/stage_p50_ms/segment", 1), (2, 0, "perception", f"{_L}/stage_p50_ms/segment", 1),
      (2, 1, "perception", f"{_L}/stage_p50_ms/segment.geometric", 1),
      (2, 2, "perception", f"{_L}/stage_p50_ms/segment.classify", 1)]),
    (PERCEPTION, SEG, "... fuse", [(1, 0, "perception", f"{_G}/stage_p50_ms/fuse", 1),
                                   (2, 0, "perception", f"{_L}/stage_p50_ms/fuse", 1)]),
    (REPO / "docs" / "results.md", "## Speed", "latency p50 / p95, whole trace",
     [(1, 0, "neural", "latency_40obj_ms/p50", 1), (1, 1, "neural", "latency_40obj_ms/p95", 1),
      (2, 0, "neural", "unconstrained/latency_40obj_ms/p50", 1),
      (2, 1, "neural", "unconstrained/latency_40obj_ms/p95", 1)]),
]
for mode, label in (("program", "gold program"), ("instruction", "instruction")):
    for col, part in ((1, "gt"), (2, "perceived"), (3, "drop")):
        og = f"oracle_gap/{mode}/{part}"
        DOC_CHECKS += [
            (PERCEPTION, GAP, f"{label}: Acc@0.25 / Acc@0.5", [(col, 0, "perception", f"{og}/acc@0.25", 1),
                                                             (col, 1, "perception", f"{og}/acc@0.5", 1)]),
            (PERCEPTION, GAP, f"{label}: F1@0.25", [(col, 0, "perception", f"{og}/f1@0.25", 1)]),
            (PERCEPTION, GAP, f"{label}: QA exact match", [(col, 0, "perception", f"{og}/qa_exact", 1)]),
        ]


@pytest.mark.parametrize("path,heading,phrase,refs", DOC_CHECKS,
                         ids=[f"{c[0].stem}:{c[2][:30]}:{i}" for i, c in enumerate(DOC_CHECKS)])
def test_doc_figure_matches_bench_json(path, heading, phrase, refs):
    row = _row(phrase, path, heading)
    for col, index, bench, key, scale in refs:
        numbers = NUMBER.findall(row[col])
        value = _value(bench, key) * scale
        assert index < len(numbers), f"{path.name} {phrase!r}: cell {row[col]!r} has no number #{index}"
        assert _matches(numbers[index], value), (
            f"{path.name} {phrase!r}: {numbers[index]} (number #{index} of {row[col]!r}) but {bench}.json {key} = {value}")
