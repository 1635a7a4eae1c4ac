"""docs/benchmarks.md is what benchmarks/render.py makes from the committed JSON (so the two cannot drift)."""

from __future__ import annotations

import json

from benchmarks import render


def test_committed_page_equals_the_rendered_json():
    expected = render.render(render.load_records(render.RESULTS))
    assert render.DOCS.read_text() == expected, (
        "docs/benchmarks.md differs from benchmarks/results/*.json: run `python -m benchmarks.render`")


def test_check_mode(tmp_path):
    out = tmp_path / "b.md"
    assert render.main(["--out", str(out), "--check"]) == 1
    assert render.main(["--out", str(out)]) == 0
    assert render.main(["--out", str(out), "--check"]) == 0


def test_values_no_table_names_stay_on_the_page():
    r = render.Result({"a": {"b": 1, "c": 2}, "rows": [{"x": 1}, {"x": 2}], "d": [1, 2]})
    assert r.get("a/b") == 1 and r.get("rows/1/x") == 2 and r.get("nope") is None
    assert r.has("a/c") and ("a", "c") not in r.used
    assert r.rest() == [("a/c", 2), ("rows/0/x", 1), ("d", [1, 2])]


def test_an_unknown_bench_gets_a_generic_table_and_a_failed_one_its_error():
    page = render.render({"benches": {
        "new": {"name": "new", "file": "benchmarks/bench_new.py", "status": "ok", "duration_s": 1.0,
                "result": {"lat_ms": {"p50": 1.5}, "n": 7}, "machine": {"date": "2026-01-01T00:00:00Z"}},
        "bad": {"name": "bad", "status": "failed", "error": "RuntimeError: no scene\ntrace", "machine": {}},
    }})
    assert "| lat_ms/p50 | 1.5 |" in page and "| n | 7 |" in page
    assert "**FAILED**: `RuntimeError: no scene`" in page


def test_figures_carry_units_targets_and_anchors():
    page = render.DOCS.read_text()
    recs = render.load_records(render.RESULTS)
    if "grounding" in recs:
        g = recs["grounding"]["result"]["latency_50obj"]
        assert f"| 50 | {render.fmt(g['p50_ms'])} | {render.fmt(g['p95_ms'])} |" in page
        assert render.TARGETS["symbolic_p50_ms"] in page
    if "perception" in recs and "oracle_gap" in recs["perception"]["result"]:
        assert render.ANCHORS["oracle_gap"] in page
    if "real" in recs and "by_dataset" in recs["real"]["result"]:
        assert render.ANCHORS["nr3d"] in page
    assert "results[12]" not in page  # no flattened list keys for the known benches


def test_number_format():
    assert render.fmt(0.027) == "0.027" and render.fmt(0.96) == "0.96" and render.fmt(15.0) == "15" and render.fmt(874.2) == "874.2" and render.fmt(23697.1) == "23697"
    assert render.fmt(0.9843, "pct") == "98.4 %" and render.fmt(None) == "not measured"
    assert render.fmt(True) == "yes" and render.fmt(4499) == "4499"
    json.dumps(render.TARGETS)
