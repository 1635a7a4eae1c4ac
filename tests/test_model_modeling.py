"""ApeiriaForGrounding: object encoder, fast decoder parity, generation, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from apeiria_model.model.config import ApeiriaConfig, ConfigError
from apeiria_model.model.fast_decode import LlamaKVDecoder
from apeiria_model.model.geometry_encoding import BOX_RAW_DIM, box_encoding_dim, encode_boxes, scene_box_array
from apeiria_model.model.modeling import ApeiriaForGrounding, CheckpointError, ObjectEncoder
from apeiria_model.model.tiny import build_tiny_model, tiny_config
from apeiria_model.scene import Scene, SceneObject


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_model()


def test_object_encoder_shapes():
    cfg = tiny_config()
    enc = ObjectEncoder(cfg, hidden=64)
    out = enc(torch.randn(3, 5, cfg.feature_dim), torch.randn(3, 5, BOX_RAW_DIM))
    assert out.shape == (3, 5, 64)
    assert box_encoding_dim("fourier", 6) == BOX_RAW_DIM + 72


def test_box_encoding_distinguishes_positions(office_scene):
    raw = torch.from_numpy(scene_box_array(office_scene))
    enc = encode_boxes(raw, "fourier", 6, 8.0)
    # the two mugs have identical sizes and labels: only position tells them apart
    assert not torch.allclose(enc[1], enc[2])
    d = torch.cdist(enc, enc)
    assert float(d[1, 2]) > 0.1
    cfg = tiny_config()
    torch.manual_seed(0)
    objenc = ObjectEncoder(cfg, hidden=64)
    feats = torch.zeros(1, len(office_scene), cfg.feature_dim)  # same appearance for all
    out = objenc(feats, raw[None])
    assert not torch.allclose(out[0, 1], out[0, 2], atol=1e-4)


def test_boxes_in_observer_frame(office_scene):
    raw = scene_box_array(office_scene)
    # viewpoint looks along +y: red mug (x=-0.4) is left of white mug (x=0.45)
    assert raw[1, 0] < raw[2, 0]
    # chair 4 faces +y (away from the viewer) -> front = (0, 1) in the observer frame
    assert raw[4, 6:9].tolist() == pytest.approx([0.0, 1.0, 1.0])
    assert raw[6, 8] == 0.0  # window: no facing


@pytest.mark.kernels  # KV-cache decode vs full forward to 1e-4
def test_fast_decoder_matches_hf_forward(tiny, office_scene):
    p = tiny.processor.encode_prompt("the red mug", office_scene)
    batch = tiny.processor.collate([p])
    with torch.no_grad():
        _, logits = tiny(**batch)
        emb = tiny._prompt_embeds(p)
    dec = LlamaKVDecoder(tiny.lm)
    cache = dec.new_cache(1, emb.shape[1] + 4)
    first = dec.forward(emb[:, :-2], cache)
    dec.forward(emb[:, -2:-1], cache)
    last = dec.forward(emb[:, -1:], cache)
    assert torch.allclose(first, logits[0, -3], atol=1e-4)
    assert torch.allclose(last, logits[0, -1], atol=1e-4)


@pytest.mark.kernels  # fused per-token step vs the generic block forward to 1e-4
def test_fused_step_matches_block_forward_and_follows_weight_updates(office_scene):
    model = build_tiny_model()
    p = model.processor.encode_prompt("the red mug", office_scene)
    with torch.no_grad():
        emb = model._prompt_embeds(p)
    dec = LlamaKVDecoder(model.lm)
    embed = model.lm.get_input_embeddings()
    toks = torch.tensor([5, 9, 3])

    def both():
        a, b = dec.new_cache(1, emb.shape[1] + 4), dec.new_cache(1, emb.shape[1] + 4)
        dec.forward_hidden(emb, a)
        dec.forward_hidden(emb, b)
        rows = []
        for t in toks:
            fused = dec.step(t.view(1), a)
            generic = dec.forward_hidden(embed(t.view(1, 1)), b, last_only=True)[:, -1]
            rows.append((fused, generic))
        assert a["len"] == b["len"] == emb.shape[1] + len(toks)
        assert torch.allclose(a["k"], b["k"], atol=1e-5) and torch.allclose(a["v"], b["v"], atol=1e-5)
        return rows

    before = both()
    for fused, generic in before:
        assert torch.allclose(fused, generic, atol=1e-4)
    with torch.no_grad():  # an optimizer-style in-place update: the fused copies must follow
        model.lm.model.layers[0].self_attn.k_proj.weight.mul_(1.5)
        model.lm.model.layers[-1].mlp.up_proj.weight.add_(0.05)
    after = both()
    for (fused, generic), (old, _) in zip(after, before):
        assert torch.allclose(fused, generic, atol=1e-4)
        assert not torch.allclose(fused, old, atol=1e-4)


def test_generate_restores_torch_threads(office_scene):
    model = build_tiny_model()
    keep = torch.get_num_threads()
    p = model.processor.encode_prompt("the lamp", office_scene)
    seen = []
    try:
        torch.set_num_threads(2)
        model.generate(p, max_new_tokens=3, on_token=lambda t: seen.append(torch.get_num_threads()))
        assert torch.get_num_threads() == 2
        assert seen and set(seen) == {model.decode_threads}
    finally:
        torch.set_num_threads(keep)


def test_generate_greedy_is_deterministic_and_sampling_varies(tiny, office_scene):
    p = tiny.processor.encode_prompt("the lamp", office_scene)
    a = tiny.generate(p, max_new_tokens=10)
    b = tiny.generate(p, max_new_tokens=10)
    assert a.token_ids == b.token_ids and len(a.token_ids) == 1
    # greedy continuation equals argmax of a full forward over prompt + generated prefix
    if a.token_ids[0]:
        ids = p.input_ids + a.token_ids[0][:1]
        ex = type(p)(ids, p.object_positions, p.features, p.boxes, p.object_ids)
        with torch.no_grad():
            _, logits = tiny(**tiny.processor.collate([ex]))
        assert int(logits[0, len(p.input_ids) - 1].argmax()) == a.token_ids[0][0]
    g = torch.Generator().manual_seed(0)
    s = tiny.generate(p, max_new_tokens=10, temperature=1.5, num_samples=6, generator=g)
    assert len(s.token_ids) == 6 and len({tuple(x) for x in s.token_ids}) > 1


def test_save_load_roundtrip_identical_logits(tiny, office_scene, tmp_path):
    tiny.save_pretrained(tmp_path / "m")
    assert sorted(f.name for f in (tmp_path / "m").iterdir()) == ["MANIFEST.sha256", "config.json", "model.safetensors",
                                                                  "tokenizer.json"]
    back = ApeiriaForGrounding.from_pretrained(tmp_path / "m")
    p = tiny.processor.encode_prompt("the chair", office_scene)
    batch = tiny.processor.collate([p])
    with torch.no_grad():
        _, a = tiny.eval()(**batch)
        _, b = back(**batch)
    assert torch.equal(a, b)


def test_from_pretrained_errors(tmp_path, tiny):
    with pytest.raises(CheckpointError, match="config.json missing"):
        ApeiriaForGrounding.from_pretrained(tmp_path)
    tiny.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="does not match its SHA-256"):  # the manifest save_pretrained wrote
        ApeiriaForGrounding.from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "MANIFEST.sha256").unlink()
    with pytest.raises(CheckpointError, match="cannot read"):
        ApeiriaForGrounding.from_pretrained(tmp_path / "m")


def test_config_validation_and_roundtrip(tmp_path):
    cfg = tiny_config()
    cfg.save(tmp_path / "c.json")
    assert ApeiriaConfig.load(tmp_path / "c.json") == cfg
    with pytest.raises(ConfigError, match="unknown model config key"):
        ApeiriaConfig.from_dict({"hiden": 3})
    with pytest.raises(ConfigError, match="backbone.path is required"):
        ApeiriaConfig.from_dict({"backbone": {"kind": "pretrained"}})
    with pytest.raises(ConfigError, match="feature_source"):
        ApeiriaConfig.from_dict({"feature_source": "magic"})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        ApeiriaConfig.load(tmp_path / "bad.json")
    json.loads(json.dumps(cfg.to_dict()))


def test_scene_features_used_when_present():
    cfg = tiny_config(feature_source="auto")
    m = build_tiny_model(feature_source="auto")
    feat = tuple(float(x) for x in np.linspace(-1, 1, cfg.feature_dim))
    s = Scene("f", (SceneObject(0, "box", (0, 0, 0), (1, 1, 1), features=feat),
                    SceneObject(1, "box", (1, 0, 0), (1, 1, 1))))
    p = m.processor.encode_prompt("box", s)
    assert np.allclose(p.features[0], feat)
    assert not np.allclose(p.features[1], feat)
