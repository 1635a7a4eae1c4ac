"""A lean incremental decoder for the small Llama backbone (CPU latency path).

At 4 layers x 256 wide a token costs ~8 MFLOP; HF's generic forward spends far more
time in Python bookkeeping than in maths (~3.8 ms/token measured here). This module
runs the *same weights* (read from the HF ``LlamaForCausalLM``) with a preallocated
KV cache and a minimal op sequence, so greedy decoding approaches the matmul cost.
Its logits match the HF forward (checked in tests/test_model_modeling.py).

:meth:`LlamaKVDecoder.step` is the per-token path of generation: one token per row in,
the final hidden state out, with q/k/v and gate/up fused into one matmul each, the rotary
table precomputed for every position and no ``nn.Module`` calls (see docs/model.md,
"Decoding speed", for what each piece measured).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class LlamaKVDecoder:
    """Stateless helper bound to one HF Llama model; ``cache`` objects hold the state."""

    def __init__(self, lm):
        self.lm = lm
        base = lm.model
        self.layers = base.layers
        self.norm = base.norm
        self.head = lm.lm_head
        cfg = lm.config
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.eps = cfg.rms_norm_eps
        self.inv_freq = base.rotary_emb.inv_freq.detach().float()
        self.max_pos = cfg.max_position_embeddings
        self.embed = base.embed_tokens
        self._fused = None       # per-layer fused weights for step(); rebuilt when a weight changes
        self._fused_version = None
        self._rope_table = None  # (cos, sin) [max_pos, head_dim]

    @staticmethod
    def supports(lm) -> bool:
        return type(lm).__name__ == "LlamaForCausalLM" and hasattr(lm.model, "rotary_emb")

    def new_cache(self, batch: int, max_len: int, dtype=torch.float32, device=None):
        shape = (len(self.layers), batch, self.n_kv, max_len, self.head_dim)
        # the fused step weights are checked against the parameters once per cache, not per token
        return {"k": torch.zeros(shape, dtype=dtype, device=device), "v": torch.zeros(shape, dtype=dtype, device=device),
                "len": 0, "fused": self._fused_weights()}

    def _rms(self, x, w):
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * w

    def _rope(self, positions: torch.Tensor):
        if self.inv_freq.device != positions.device:
            self.inv_freq = self.inv_freq.to(positions.device)
        ang = positions.float()[:, None] * self.inv_freq[None, :]
        emb = torch.cat([ang, ang], dim=-1)
        return emb.cos()[None, None], emb.sin()[None, None]

    @staticmethod
    def _rotate(x, cos, sin):
        h = x.shape[-1] // 2
        rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
        return x * cos + rot * sin

    @torch.inference_mode()
    def forward(self, embeds: torch.Tensor, cache) -> torch.Tensor:
        """Run ``embeds`` [B, T, H] after the cached prefix; returns last-position logits [B, V]."""
        return self.head(self.forward_hidden(embeds, cache, last_only=True)[:, -1])

    @torch.inference_mode()
    def forward_hidden(self, embeds: torch.Tensor, cache, last_only: bool = False) -> torch.Tensor:
        """Like :meth:`forward` but returns the final (normed) hidden states [B, T, H]
        (only the last position, [B, 1, H], with ``last_only``): the pointer head needs them."""
        b, t, _ = embeds.shape
        start = cache["len"]
        if start + t > cache["k"].shape[3]:
            raise ValueError("KV cache is full: raise max_new_tokens budget or shorten the prompt")
        cos, sin = self._rope(torch.arange(start, start + t, device=embeds.device))
        x = embeds
        rep = self.n_heads // self.n_kv
        for i, layer in enumerate(self.layers):
            att = layer.self_attn
            h = self._rms(x, layer.input_layernorm.weight)
            q = att.q_proj(h).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
            k = att.k_proj(h).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
            v = att.v_proj(h).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
            q, k = self._rotate(q, cos, sin), self._rotate(k, cos, sin)
            cache["k"][i, :, :, start:start + t] = k
            cache["v"][i, :, :, start:start + t] = v
            kk = cache["k"][i, :, :, :start + t]
            vv = cache["v"][i, :, :, :start + t]
            if rep > 1:
                kk = kk.repeat_interleave(rep, dim=1)
                vv = vv.repeat_interleave(rep, dim=1)
            # causal within the new block; everything cached before it is visible
            o = F.scaled_dot_product_attention(q, kk, vv, is_causal=False,
                                               attn_mask=None if t == 1 else _block_mask(start, t, embeds.device))
            x = x + att.o_proj(o.transpose(1, 2).reshape(b, t, -1))
            h = self._rms(x, layer.post_attention_layernorm.weight)
            mlp = layer.mlp
            x = x + mlp.down_proj(F.silu(mlp.gate_proj(h)) * mlp.up_proj(h))
        cache["len"] = start + t
        return self._rms(x[:, -1:] if last_only else x, self.norm.weight)

    # --- the per-token step ------------------------------------------------------------
    def _params_version(self) -> tuple:
        """In-place updates (optimizer steps, load_state_dict) bump a tensor's ``_version``."""
        return tuple(p._version for p in self.lm.parameters()) + tuple(id(p) for p in self.lm.parameters())

    def _fused_weights(self):
        version = self._params_version()
        if self._fused is None or version != self._fused_version:
            layers = []
            with torch.no_grad():
                for layer in self.layers:
                    att, mlp = layer.self_attn, layer.mlp
                    qkv_b = None
                    if att.q_proj.bias is not None:
                        qkv_b = torch.cat([att.q_proj.bias, att.k_proj.bias, att.v_proj.bias]).detach()
                    layers.append((
                        layer.input_layernorm.weight.detach(),
                        torch.cat([att.q_proj.weight, att.k_proj.weight, att.v_proj.weight]).detach(), qkv_b,
                        att.o_proj.weight.detach(), None if att.o_proj.bias is None else att.o_proj.bias.detach(),
                        layer.post_attention_layernorm.weight.detach(),
                        torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach(),
                        None if mlp.gate_proj.bias is None else torch.cat([mlp.gate_proj.bias, mlp.up_proj.bias]).detach(),
                        mlp.down_proj.weight.detach(), None if mlp.down_proj.bias is None else mlp.down_proj.bias.detach(),
                    ))
            self._fused, self._fused_version = layers, version
        return self._fused

    def _rope_rows(self, pos: int, device):
        tab = self._rope_table
        if tab is None or tab[0].device != device:
            # the same ops as _rope, for every position at once: each row equals _rope's
            cos, sin = self._rope(torch.arange(self.max_pos, device=device))
            self._rope_table = tab = (cos[0, 0], sin[0, 0])
        return tab[0][pos], tab[1][pos]

    @torch.inference_mode()
    def step(self, tok: torch.Tensor, cache) -> torch.Tensor:
        """One new token per row (``tok`` [B]) after the cached prefix: the final normed
        hidden state [B, H]. Same maths as ``forward_hidden`` with t == 1."""
        b = tok.shape[0]
        pos = cache["len"]
        if pos + 1 > cache["k"].shape[3]:
            raise ValueError("KV cache is full: raise max_new_tokens budget or shorten the prompt")
        if pos >= self.max_pos:
            raise ValueError("position beyond the model's context")
        cos, sin = self._rope_rows(pos, tok.device)
        nh, nkv, hd, eps = self.n_heads, self.n_kv, self.head_dim, self.eps
        half = hd // 2
        nq, nk = nh * hd, nkv * hd
        rep = nh // nkv
        ck, cv = cache["k"], cache["v"]
        x = F.embedding(tok.view(b, 1), self.embed.weight)  # [B, 1, H]
        for i, (ln1, wqkv, bqkv, wo, bo, ln2, wgu, bgu, wd, bd) in enumerate(cache["fused"]):
            h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * ln1
            qkv = F.linear(h, wqkv, bqkv)
            q = qkv[..., :nq].view(b, 1, nh, hd).transpose(1, 2)
            k = qkv[..., nq:nq + nk].view(b, 1, nkv, hd).transpose(1, 2)
            v = qkv[..., nq + nk:].view(b, 1, nkv, hd).transpose(1, 2)
            q = q * cos + torch.cat([-q[..., half:], q[..., :half]], dim=-1) * sin
            k = k * cos + torch.cat([-k[..., half:], k[..., :half]], dim=-1) * sin
            ck[i, :, :, pos:pos + 1] = k
            cv[i, :, :, pos:pos + 1] = v
            kk, vv = ck[i, :, :, :pos + 1], cv[i, :, :, :pos + 1]
            if rep > 1:
                kk, vv = kk.repeat_interleave(rep, dim=1), vv.repeat_interleave(rep, dim=1)
            o = F.scaled_dot_product_attention(q, kk, vv)
            x = x + F.linear(o.transpose(1, 2).reshape(b, 1, -1), wo, bo)
            h = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * ln2
            gu = F.linear(h, wgu, bgu)
            g, u = gu.chunk(2, dim=-1)
            x = x + F.linear(F.silu(g) * u, wd, bd)
        cache["len"] = pos + 1
        x = x[:, 0]
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.norm.weight

    def expand(self, cache, n: int):
        """Repeat a batch-1 cache ``n`` times (group sampling from one prompt)."""
        return {"k": cache["k"].repeat(1, n, 1, 1, 1), "v": cache["v"].repeat(1, n, 1, 1, 1), "len": cache["len"],
                "fused": cache["fused"]}


def _block_mask(start: int, t: int, device=None) -> torch.Tensor:
    q = torch.arange(start, start + t, device=device)[:, None]
    k = torch.arange(start + t, device=device)[None, :]
    return k <= q
