"""Pointer (copy) head for object IDs: mixture maths, masking, decoder parity, round trip,
and a toy copy task it learns where the plain LM head does not (same steps, same seed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from apeiria_model.model.config import ApeiriaConfig, ConfigError
from apeiria_model.model.modeling import ApeiriaForGrounding
from apeiria_model.model.pointer import PointerHead
from apeiria_model.model.tiny import build_tiny_model
from apeiria_model.scene import Scene, SceneObject

LABELS = ("chair", "mug", "lamp", "desk", "sofa", "plant", "bed", "door")


@pytest.fixture(scope="module")
def ptr_model():
    return build_tiny_model(pointer_head=True, pointer_dim=16)


def test_mix_is_a_distribution_and_masks_slots():
    torch.manual_seed(0)
    head = PointerHead(hidden=8, dim=4)
    hidden, vocab = torch.randn(2, 3, 8), torch.randn(2, 3, 10)
    keys = head.keys(torch.randn(2, 4, 8))
    # row 0: slots copy tokens 5, 6, (not copyable), (padding); row 1: nothing copyable
    tokens = torch.tensor([[5, 6, -1, -1], [-1, -1, -1, -1]])
    logp = head.mix(hidden, vocab, keys, tokens)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2, 3), atol=1e-5)
    # nothing to copy -> exactly the vocabulary distribution
    assert torch.allclose(logp[1], torch.log_softmax(vocab[1], -1), atol=1e-5)
    # copyable tokens gain mass over the vocabulary-only share; the others only shrink by g
    g = torch.sigmoid(head.gate(hidden[0]))
    base = g * torch.softmax(vocab[0], -1)
    p = logp[0].exp()
    assert bool((p[:, [5, 6]] > base[:, [5, 6]] + 1e-6).all())
    others = [i for i in range(10) if i not in (5, 6)]
    assert torch.allclose(p[:, others], base[:, others], atol=1e-6)


def test_mix_gradient_reaches_keys_and_gate():
    torch.manual_seed(1)
    head = PointerHead(hidden=8, dim=4)
    slot_h = torch.randn(1, 3, 8, requires_grad=True)
    logp = head.mix(torch.randn(1, 2, 8), torch.randn(1, 2, 10), head.keys(slot_h), torch.tensor([[2, 3, 4]]))
    (-logp[0, :, 3].sum()).backward()
    assert slot_h.grad is not None and float(slot_h.grad.abs().sum()) > 0
    assert float(head.gate.bias.grad.abs()) > 0
    with pytest.raises(ValueError, match="dim"):
        PointerHead(8, 0)


def test_config_rejects_bad_pointer_settings():
    with pytest.raises(ConfigError, match="pointer_dim"):
        ApeiriaConfig.from_dict({"pointer_head": True, "pointer_dim": 0})
    with pytest.raises(ConfigError, match="pointer_head"):
        ApeiriaConfig.from_dict({"pointer_head": "yes"})
    assert ApeiriaConfig.from_dict({}).pointer_head is False  # older checkpoints load unchanged


def test_slot_tokens_are_the_id_tokens(ptr_model, office_scene):
    p = ptr_model.processor.encode_prompt("the red mug", office_scene)
    assert len(p.slot_tokens) == len(office_scene)
    for oid, t in zip(p.object_ids, p.slot_tokens):
        assert ptr_model.tokenizer.encode(f" {oid}") == [t]
    batch = ptr_model.processor.collate([p, ptr_model.processor.encode_prompt("x", Scene("e", ()))])
    assert batch["object_tokens"][1].eq(-1).all()


def test_forward_needs_object_tokens(ptr_model, office_scene):
    batch = ptr_model.processor.collate([ptr_model.processor.encode_prompt("the lamp", office_scene)])
    batch.pop("object_tokens")
    with pytest.raises(ValueError, match="object_tokens"):
        ptr_model(**batch)


@pytest.mark.kernels  # a log-probability to 1e-4
def test_absent_ids_get_no_copy_mass(ptr_model, office_scene):
    """An ID token of an object the scene lacks keeps only its (gated) vocabulary share."""
    p = ptr_model.processor.encode_prompt("the lamp", office_scene)
    batch = ptr_model.processor.collate([p])
    with torch.no_grad():
        out = ptr_model.lm(inputs_embeds=ptr_model.embed_inputs(batch["input_ids"], batch["object_features"],
                                                                batch["object_boxes"], batch["object_positions"]),
                           output_hidden_states=True)
        _, logp = ptr_model.eval()(**batch)
        h = out.hidden_states[-1][0, -1]
        g = torch.sigmoid(ptr_model.pointer.gate(h))
    absent = ptr_model.tokenizer.encode(" 50")
    assert len(absent) == 1 and not office_scene.has(50)
    expect = math.log(float(g * torch.softmax(out.logits[0, -1], -1)[absent[0]]) + 1e-9)
    assert float(logp[0, -1, absent[0]]) == pytest.approx(expect, abs=1e-4)


@pytest.mark.kernels  # KV-cache decode vs full forward to 1e-4
def test_decoders_match_forward_with_pointer(ptr_model, office_scene):
    """The lean KV-cache loop and the HF-forward loop give the full forward's numbers."""
    p = ptr_model.processor.encode_prompt("the red mug", office_scene)
    g = ptr_model.generate(p, max_new_tokens=6)
    seq = p.input_ids + g.token_ids[0]
    ex = type(p)(seq, p.object_positions, p.features, p.boxes, p.object_ids, p.slot_tokens)
    with torch.no_grad():
        _, full = ptr_model.eval()(**ptr_model.processor.collate([ex]))
    torch.set_grad_enabled(False)  # generate() decodes in inference mode; so does this check
    try:
        _check_decoders(ptr_model, p, g, full)
    finally:
        torch.set_grad_enabled(True)


def _check_decoders(ptr_model, p, g, full):
    batch = ptr_model._prompt_batch(p)
    emb = ptr_model.embed_inputs(batch["input_ids"], batch["object_features"], batch["object_boxes"],
                                 batch["object_positions"])
    for force_hf in (False, True):
        ptr_model.config.lora.enabled = force_hf  # routes _decoder_steps to the HF-forward loop
        try:
            step = ptr_model._decoder_steps(emb, 1, 8, batch["object_positions"], batch["object_tokens"])
            logits = next(step)
            for k, tok in enumerate(g.token_ids[0][:3]):
                assert torch.allclose(logits[0], full[0, len(p.input_ids) - 1 + k], atol=1e-4)
                logits = step.send(torch.tensor([tok]))
            step.close()
        finally:
            ptr_model.config.lora.enabled = False


def test_sampling_several_continuations_with_pointer(ptr_model, office_scene):
    """GRPO samples a group of continuations of one prompt: every row of the fanned-out
    decode must match the one-sample decode's first-step distribution (regression: the
    copy keys were fanned out before the single prompt row was scored)."""
    p = ptr_model.processor.encode_prompt("the red mug", office_scene)
    batch = ptr_model._prompt_batch(p)
    for force_hf in (False, True):
        ptr_model.config.lora.enabled = force_hf
        try:
            with torch.no_grad():
                emb = ptr_model.embed_inputs(batch["input_ids"], batch["object_features"], batch["object_boxes"],
                                             batch["object_positions"])
                one = next(ptr_model._decoder_steps(emb, 1, 4, batch["object_positions"], batch["object_tokens"]))
                many = next(ptr_model._decoder_steps(emb, 5, 4, batch["object_positions"],
                                                     batch["object_tokens"]))
            assert many.shape[0] == 5
            assert torch.allclose(many, one.expand(5, -1), atol=1e-5), force_hf
            gen = torch.Generator().manual_seed(0)
            g = ptr_model.generate(p, max_new_tokens=6, temperature=1.5, num_samples=5, generator=gen)
            assert len(g.token_ids) == 5
        finally:
            ptr_model.config.lora.enabled = False


def test_roundtrip_keeps_pointer(ptr_model, office_scene, tmp_path):
    ptr_model.save_pretrained(tmp_path / "m")
    back = ApeiriaForGrounding.from_pretrained(tmp_path / "m")
    assert back.pointer is not None and back.config.pointer_dim == 16
    batch = ptr_model.processor.collate([ptr_model.processor.encode_prompt("the chair", office_scene)])
    with torch.no_grad():
        assert torch.equal(ptr_model.eval()(**batch)[1], back(**batch)[1])


def _copy_task(model, rng, n):
    """'the mug' -> ' mug: <id>' in a five-object scene that holds one mug, IDs drawn from
    0..63 afresh for every scene. Which slot is the target is easy (the mug's label is in its
    slot features); what is hard is writing its ID: the ID is a different token in every
    scene, so only a head that copies it from the slot can get it right. (A task whose target
    also changes label per example mixes in cross-modal label matching, whose learning speed
    in a 300-step toy training rides on the float kernels of the CPU.)"""
    exs = []
    mug = LABELS.index("mug")
    others = [k for k in range(len(LABELS)) if k != mug]
    for _ in range(n):
        labels = [mug, *rng.choice(others, 4, replace=False)]
        rng.shuffle(labels)
        ids = rng.choice(64, 5, replace=False)
        objs = tuple(SceneObject(int(i), LABELS[lab], (float(k), 0.0, 0.5), (0.5, 0.5, 0.5))
                     for k, (i, lab) in enumerate(zip(ids, labels)))
        exs.append(model.processor.encode_example("the mug", Scene("toy", objs), f" mug: {ids[labels.index(mug)]}"))
    return exs


def _train_and_score(pointer: bool, seed: int, steps: int = 150) -> float:
    model = build_tiny_model(seed=seed, pointer_head=pointer, pointer_dim=32)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        loss, _ = model(**model.processor.collate(_copy_task(model, rng, 16)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = _copy_task(model, np.random.default_rng(99), 64)
    batch = model.processor.collate(test)
    with torch.no_grad():
        _, logits = model.eval()(**batch)
    hits = 0
    for i, e in enumerate(test):
        pos = len(e.input_ids) - 3  # predicts the ID token (the target is ' <id>' <eos>)
        hits += int(logits[i, pos].argmax()) == e.input_ids[pos + 1]
    return hits / len(test)


@pytest.mark.slow  # four 150-step toy trainings (~30 s on one core)
@pytest.mark.kernels  # a training with an accuracy threshold: run under every kernel set (make test-kernels)
@pytest.mark.parametrize("seed", [0, 1])
def test_pointer_learns_toy_copy_task_where_plain_head_does_not(seed):
    """Measured under the AVX2 and default kernels, seeds 0-2: the pointer head is at 1.0
    from step 50 on, the plain head at <= 0.03 through step 300 (chance: 1/64 IDs). The
    thresholds sit far from both, so the claim does not ride on one CPU's float kernels."""
    torch.set_num_threads(1)
    with_ptr, without = _train_and_score(True, seed), _train_and_score(False, seed)
    assert with_ptr >= 0.9, with_ptr
    assert without <= 0.25, without
