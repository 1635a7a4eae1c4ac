"""Greedy decoding of the shipped model: the fast per-token step writes exactly the
tokens a plain reference decoder writes (HF forward with its own KV cache, pointer
mixture, constraint checked token by token in probability order), constraints on and off.

Token ids are compared, not logits, so the test does not depend on one CPU's float kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from apeiria_model.model.trace_constraint import TraceConstraint
from apeiria_model.reasoning.neural import DEFAULT_CHECKPOINT

pytestmark = [pytest.mark.slow,  # ~36 whole-trace decodes, half through the plain reference
              pytest.mark.skipif(not (DEFAULT_CHECKPOINT / "model.safetensors").is_file(),
                                 reason="no shipped checkpoint")]


@pytest.fixture(scope="module")
def model():
    from apeiria_model.model.modeling import ApeiriaForGrounding
    return ApeiriaForGrounding.from_pretrained(DEFAULT_CHECKPOINT)


def _cases():
    from apeiria_model.data.rooms import generate_room
    from benchmarks.bench_neural import instructions, scene_40
    from tests.scenes import office

    scenes = [scene_40(), office(), generate_room(np.random.default_rng(3)).scene]
    out = []
    for k, s in enumerate(scenes):
        for q in instructions(s, 3, seed=k):
            out.append((s, q))
    return out


@torch.inference_mode()
def reference_greedy(model, prompt, constraint, max_new: int) -> list[int]:
    """The decoding before the fast step, written plainly: HF forward + past_key_values."""
    batch = {k: v for k, v in model.processor.collate([prompt]).items()}
    emb = model.embed_inputs(batch["input_ids"], batch["object_features"], batch["object_boxes"],
                             batch["object_positions"])
    lm, ptr, eos = model.base_lm(), model.pointer, model.tokenizer.eos_id
    pieces = model.token_pieces()
    out = lm(inputs_embeds=emb, use_cache=True, output_hidden_states=True)
    keys = tokens = None
    if ptr is not None:
        keys, tokens = model._pointer_keys(out.hidden_states[-1], batch["object_positions"], batch["object_tokens"])

    def next_logits(o):
        h, lg = o.hidden_states[-1][:, -1:], o.logits[:, -1:]
        return (lg if ptr is None else ptr.mix(h, lg, keys, tokens))[0, 0].float()

    logits, past, ids = next_logits(out), out.past_key_values, []
    for _ in range(max_new):
        order = torch.argsort(logits, descending=True, stable=True).tolist()
        tok = order[0]
        if constraint is not None:
            ok = [t for t in order[:64] + order[64:]
                  if (constraint.allows_end() if t == eos else constraint.allows(pieces[t]))]
            tok = ok[0] if ok else tok
            if tok != eos:
                constraint.accept(pieces[tok])
        if tok == eos:
            break
        ids.append(tok)
        out = lm(input_ids=torch.tensor([[tok]]), past_key_values=past, use_cache=True, output_hidden_states=True)
        logits, past = next_logits(out), out.past_key_values
    return ids


@pytest.mark.parametrize("mode", ["off", "format"])
def test_fast_greedy_matches_reference(model, mode):
    cfg = model.config
    n_diff, n_tokens = [], 0
    for scene, q in _cases():
        prompt = model.processor.encode_prompt(q, scene)
        mk = (lambda: None) if mode == "off" else (
            lambda: TraceConstraint(scene.ids, thinking=cfg.thinking, level=mode))
        ref = reference_greedy(model, prompt, mk(), cfg.max_new_tokens)
        c = mk()
        got = model.generate(prompt, constraints=None if c is None else [c]).token_ids[0]
        n_tokens += len(ref)
        if got != ref:
            n_diff.append((q, ref, got))
    assert n_tokens > 100  # the cases really decode whole traces
    assert not n_diff, n_diff[:2]
