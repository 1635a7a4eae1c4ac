"""Neural grounding: latency of the whole trace on a 40-object scene, decode speed, parse rate.

``run(quick)`` returns:

- ``latency_40obj_ms``: p50 / p95 of ``NeuralReasoner.ground`` on a 40-object scene
  (object encoding + prefill + greedy decoding of the whole compact CoT + answer +
  trace parsing + verification), batch 1, model and sentence encoder already loaded;
- ``decode_tokens_per_s``: generated tokens / ``generate`` time (batch 1, KV cache, prefill
  included),
  next to ``compute_bound_tokens_per_s`` = measured CPU matmul FLOP/s / (2 x params);
- ``gen_tokens_mean``, ``parse_rate`` (generations whose trace parses with no error),
  ``verified_share`` (every step re-checks against the scene);
- ``unconstrained``: the same latency and parse rate with constrained decoding off
  (``model/trace_constraint.py``), measured on the same queries interleaved with the
  constrained calls, and ``constraint_latency_ratio`` = constrained p50 / unconstrained p50;
- ``decode_fraction_of_bound``: ``decode_tokens_per_s`` / ``compute_bound_tokens_per_s``;
- ``decode_variants``: decode tok/s of the per-token step variants (``fused`` =
  ``LlamaKVDecoder.step``, ``generic`` = its block forward one token at a time) with one
  intra-op thread and with torch's default, timed interleaved on the same prompts in this
  run (the shipped default is ``fused_1thread``), plus whether each wrote the default's tokens;
- ``checkpoint``: which model ran (the shipped one, or ``untrained`` when none ships).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PATTERNS = ["the {a} near the {b}", "find the {a} closest to the {b}", "the {a} on the {b}",
            "the {a} to the left of the {b}", "how many {a}s are there", "the {a} between the {b} and the {c}",
            "the {a} farthest from the {b}", "what colour is the {a} next to the {b}"]


def scene_40(seed: int = 0):
    """40 objects: generated rooms placed side by side (ids renumbered), cut at 40."""
    from apeiria_model.data.rooms import generate_room
    from apeiria_model.scene import Scene, SceneObject

    rng = np.random.default_rng(seed)
    objs: list = []
    offset = 0.0
    while len(objs) < 40:
        room = generate_room(rng).scene
        lo, hi = room.bounds()
        for o in room.objects:
            if len(objs) == 40:
                break
            c = (o.center[0] - lo[0] + offset, o.center[1], o.center[2])
            objs.append(SceneObject(len(objs), o.label, c, o.size, o.color, o.attributes, o.front))
        offset += float(hi[0] - lo[0]) + 1.0
    return Scene("bench-40", tuple(objs))


def instructions(scene, n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    labels = scene.labels()
    out = []
    for i in range(n):
        a, b, c = rng.choice(labels, 3, replace=len(labels) < 3)
        out.append(PATTERNS[i % len(PATTERNS)].format(a=a, b=b, c=c))
    return out


def cpu_matmul_flops(size: int = 512, reps: int = 20) -> float:
    import torch
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2.0 * size ** 3 * reps / (time.perf_counter() - t)


VARIANTS = {"fused_1thread": (True, 1), "fused_default_threads": (True, 0),
            "generic_1thread": (False, 1), "generic_default_threads": (False, 0)}


def decode_variants(model, prompts) -> dict:
    """Decode tok/s per step variant, interleaved prompt by prompt (ratios inside one run)."""
    import torch

    keep = (model.fused_step, model.decode_threads)
    spent = {k: [0, 0.0] for k in VARIANTS}
    same = {k: True for k in VARIANTS}
    try:
        for p in prompts:
            ref = None
            for name, (fused, threads) in VARIANTS.items():
                model.fused_step, model.decode_threads = fused, threads
                t = time.perf_counter()
                ids = model.generate(p).token_ids[0]
                spent[name][1] += time.perf_counter() - t
                spent[name][0] += len(ids)
                ref = ids if ref is None else ref
                same[name] = same[name] and ids == ref
    finally:
        model.fused_step, model.decode_threads = keep
    out = {name: {"tokens_per_s": n / max(dt, 1e-9), "same_tokens": same[name]} for name, (n, dt) in spent.items()}
    out["default_threads"] = torch.get_num_threads()
    return out


def load_model():
    from apeiria_model.model.modeling import ApeiriaForGrounding
    from apeiria_model.reasoning.neural import DEFAULT_CHECKPOINT

    if (DEFAULT_CHECKPOINT / "model.safetensors").is_file():
        return ApeiriaForGrounding.from_pretrained(DEFAULT_CHECKPOINT), "shipped"
    import torch
    from apeiria_model.model.config import ApeiriaConfig
    from apeiria_model.model.tokenizer import BPETokenizer
    from apeiria_model.training.config import load_model_config, repo_root
    torch.manual_seed(0)
    cfg: ApeiriaConfig = load_model_config(repo_root() / "config" / "model_small.yaml")
    tok = BPETokenizer.train(["<think> Plan: Execution: Step </think> <answer> IDs: </answer>"] * 4, 2048)
    return ApeiriaForGrounding.build(cfg, tok), "untrained"


def run(quick: bool = False) -> dict:
    import torch

    from apeiria_model.reasoning.neural import NeuralReasoner

    model, which = load_model()
    reasoner = NeuralReasoner(model=model)  # the checkpoint's decoding: constrained ("format")
    free = NeuralReasoner(model=model, constrained="off")
    scene = scene_40()
    queries = instructions(scene, 6 if quick else 40)
    reasoner.warm_up()
    reasoner.ground(queries[0], scene)  # embeds this scene's phrases once (a map is queried many times)

    lat, toks, dec_s, parsed, verified = [], [], [], [], []
    free_lat, free_parsed = [], []
    for q in queries:
        t0 = time.perf_counter()
        r = reasoner.ground(q, scene)
        lat.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        free.ground(q, scene)
        free_lat.append((time.perf_counter() - t0) * 1000)
        fo = free.generate(q, scene)
        free_parsed.append(bool(fo.parsed.has_answer and not fo.parsed.errors))
        # decode speed: a separate timed generate over the same prompt
        p = model.processor.encode_prompt(q, scene)
        t1 = time.perf_counter()
        g = model.generate(p)
        dec_s.append(time.perf_counter() - t1)
        toks.append(len(g.token_ids[0]))
        out = reasoner.generate(q, scene)
        parsed.append(bool(out.parsed.has_answer and not out.parsed.errors))
        verified.append(bool(r.verified))
        del out
    variants = decode_variants(model, [model.processor.encode_prompt(q, scene) for q in queries[:3 if quick else 8]])
    params = model.num_parameters()
    flops = cpu_matmul_flops()
    lat.sort()
    free_lat.sort()
    total_tokens = sum(toks)
    return {
        "checkpoint": which,
        "params": params,
        "torch_threads": torch.get_num_threads(),
        "n_queries": len(queries),
        "n_objects": len(scene),
        "latency_40obj_ms": {"p50": statistics.median(lat), "p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))]},
        "gen_tokens_mean": total_tokens / len(toks),
        "decode_tokens_per_s": total_tokens / max(sum(dec_s), 1e-9),
        "decode_fraction_of_bound": total_tokens / max(sum(dec_s), 1e-9) / (flops / (2.0 * params)),
        "decode_variants": variants,
        "cpu_matmul_gflops": flops / 1e9,
        "compute_bound_tokens_per_s": flops / (2.0 * params),
        "parse_rate": float(np.mean(parsed)),
        "verified_share": float(np.mean(verified)),
        "constrained_decoding": model.config.constrained_decoding,
        "unconstrained": {"latency_40obj_ms": {"p50": statistics.median(free_lat),
                                               "p95": free_lat[min(len(free_lat) - 1, int(0.95 * len(free_lat)))]},
                          "parse_rate": float(np.mean(free_parsed))},
        "constraint_latency_ratio": statistics.median(lat) / max(statistics.median(free_lat), 1e-9),
    }


if __name__ == "__main__":
    import json
    print(json.dumps(run(quick=True), indent=2))
