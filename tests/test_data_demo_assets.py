"""Shipped demo scenes and instructions: valid, rebuilt byte for byte, answers still hold."""

from __future__ import annotations

import collections

import pytest

from apeiria_model.data.demo_assets import (ASSET_DIR, DEMO_SCENES, QUERIES_FILE, build_demo_scene,
                                            load_demo_queries, load_demo_scene, queries_text, scene_text)
from apeiria_model.programs.executor import Executor
from apeiria_model.programs.grammar import parse_program


@pytest.mark.parametrize("file_name", sorted(DEMO_SCENES))
def test_demo_scene_is_valid_and_reproducible(file_name):
    scene = load_demo_scene(file_name)  # validates as Scene JSON v1
    assert 15 <= len(scene) <= 30
    assert scene.viewpoint is not None
    counts = collections.Counter(o.label for o in scene.objects)
    assert sum(1 for n in counts.values() if n >= 2) >= 3  # same-class distractors
    assert (ASSET_DIR / file_name).read_text(encoding="utf-8") == scene_text(build_demo_scene(file_name))


def test_demo_queries_hold():
    queries = load_demo_queries()
    assert 8 <= len(queries) <= 12
    ex = Executor()
    ops = set()
    for q in queries:
        scene = load_demo_scene(q.scene_file)
        assert ex.execute(parse_program(q.program), scene).value == q.answer, q
        ops.update(w for w in ("relate(", "relate_anchor(", "relate_multi(", "superlative(", "count(", "query(")
                   if w in q.program)
    assert ops == {"relate(", "relate_anchor(", "relate_multi(", "superlative(", "count(", "query("}
    assert any(q.answer == [] for q in queries)  # a zero-target request
    scenes = {f: load_demo_scene(f) for f in DEMO_SCENES}
    assert (ASSET_DIR / QUERIES_FILE).read_text(encoding="utf-8") == queries_text(scenes)


def test_malformed_queries_file(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text("demo_office.json the mug\n")
    with pytest.raises(ValueError, match="q.txt:1"):
        load_demo_queries(p)
    p.write_text("demo_office.json | the mug\n#   answer: [1,\n")
    with pytest.raises(ValueError, match="not JSON"):
        load_demo_queries(p)
