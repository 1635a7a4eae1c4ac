"""Processor: prompt layout, object slots, label masking, batching, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from apeiria_model.model.processor import IGNORE_INDEX, ProcessorError
from apeiria_model.model.tiny import build_tiny_model
from apeiria_model.model.tokenizer import BPETokenizer
from apeiria_model.scene import Scene, SceneObject


@pytest.fixture(scope="module")
def model():
    return build_tiny_model()


def test_prompt_layout_and_object_slots(model, office_scene):
    proc, tok = model.processor, model.tokenizer
    p = proc.encode_prompt("the red  mug\n on the desk", office_scene)
    assert p.input_ids[0] == tok.bos_id
    assert len(p.object_positions) == len(office_scene) == p.features.shape[0] == p.boxes.shape[0]
    assert all(p.input_ids[i] == tok.obj_id for i in p.object_positions)
    assert p.input_ids.count(tok.obj_id) == len(office_scene)
    assert p.object_ids == office_scene.ids
    text = tok.decode(p.input_ids)
    assert text.startswith("the red mug on the desk\nobjects:")  # whitespace normalised
    # the ID text sits right before each slot
    for oid, pos in zip(p.object_ids, p.object_positions):
        before = tok.decode(p.input_ids[pos - 3:pos])
        assert before.rstrip().endswith(str(oid))


def test_label_masking_covers_only_target(model, office_scene):
    proc, tok = model.processor, model.tokenizer
    target = "<think> plan: find all mug </think> <answer> 1 </answer>"
    ex = proc.encode_example("the red mug", office_scene, target)
    prompt = proc.encode_prompt("the red mug", office_scene)
    n = len(prompt.input_ids)
    assert ex.input_ids[:n] == prompt.input_ids
    assert all(l == IGNORE_INDEX for l in ex.labels[:n])
    learned = [l for l in ex.labels if l != IGNORE_INDEX]
    assert learned[-1] == tok.eos_id
    assert tok.decode(learned[:-1]) == target
    assert ex.labels[n:] == ex.input_ids[n:]


def test_collate_pads_and_keeps_slots(model, office_scene):
    proc = model.processor
    small = Scene("s", office_scene.objects[:2])
    a = proc.encode_example("lamp", office_scene, "<answer> 3 </answer>")
    b = proc.encode_example("the mug", small, "<answer> none </answer>")
    batch = proc.collate([a, b])
    assert batch["input_ids"].shape[0] == 2
    assert batch["object_positions"].shape == (2, len(office_scene))
    assert int((batch["object_positions"][1] >= 0).sum()) == 2
    assert int(batch["attention_mask"][1].sum()) == len(b.input_ids)
    assert batch["labels"][1, len(b.input_ids):].eq(IGNORE_INDEX).all()
    with pytest.raises(ProcessorError, match="empty batch"):
        proc.collate([])


def test_too_many_objects_and_bad_instruction(model):
    objs = tuple(SceneObject(i, "box", (i * 0.1, 0, 0), (0.1, 0.1, 0.1)) for i in range(model.config.max_objects + 1))
    with pytest.raises(ProcessorError, match="at most"):
        model.processor.encode_prompt("a box", Scene("big", objs))
    with pytest.raises(ProcessorError, match="must be a string"):
        model.processor.encode_prompt(None, Scene("e", ()))  # type: ignore[arg-type]


def test_empty_scene_prompt(model):
    p = model.processor.encode_prompt("anything", Scene("empty", ()))
    assert p.object_positions == [] and p.features.shape == (0, model.config.feature_dim)
    batch = model.processor.collate([p])
    assert batch["object_positions"].eq(-1).all()


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=80))
def test_tokenizer_roundtrip_any_text(text):
    tok = _TOK
    assert tok.decode(tok.encode(text)) == text


_TOK = BPETokenizer.train(["the red mug on the desk", "Object 3 (chair)", "ünïcödé ☃ 日本"] * 3, vocab_size=800)


def test_numbers_are_single_tokens():
    for n in (0, 7, 42, 63, 255):
        assert len(_TOK.encode(f" {n}")) == 1, n


def test_tokenizer_load_errors(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="cannot load tokenizer"):
        BPETokenizer.load(tmp_path)
