"""Pointer (copy) head for object IDs: "list the chairs" becomes a lookup, not a memorised map.

Without it the LM must emit the vocabulary token " 7" for object 7 from its output
embedding alone, i.e. learn, for every ID, a mapping from "the slot I attend to" to
that ID's row of the output matrix. With it, the next-token distribution is a
pointer-generator mixture (See et al., 2017)::

    p(v) = g * softmax(vocab_logits)(v) + (1 - g) * sum_k [tok_k == v] * softmax_k(q(h) . k(o_k) / sqrt(d))

* ``h``: the LM's final hidden state at the current position; ``o_k``: its final hidden
  state at object k's ``<obj>`` slot (the slot sees the instruction, which precedes the
  objects, so the key can already say "I am a chair the instruction is about");
* ``tok_k``: the vocabulary id of object k's ID text (" 7"); slots whose ID is not one
  token, and padded slots, are masked out of the copy softmax, so an ID absent from the
  scene can get probability only from the vocabulary side (it must keep that: step
  numbers " 1", " 2" are the same tokens);
* ``g = sigmoid(w . h + b)``: how much of the mass the vocabulary keeps at this position.

The head returns log-probabilities (valid logits for argmax, temperature sampling and
cross-entropy: ``log_softmax`` of them is themselves).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

# probability floor before the log: keeps log(0) out of the loss and sampling
_EPS = 1e-9


class PointerHead(nn.Module):
    def __init__(self, hidden: int, dim: int = 128, gate_bias: float = 2.0):
        super().__init__()
        if dim <= 0:
            raise ValueError("pointer dim must be > 0")
        self.query = nn.Linear(hidden, dim)
        self.key = nn.Linear(hidden, dim)
        self.gate = nn.Linear(hidden, 1)
        # start vocabulary-heavy (g ~ 0.88) so a model initialised from a checkpoint
        # without the head keeps writing the format it learned while the copy path warms up
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, float(gate_bias))
        self.scale = 1.0 / math.sqrt(dim)

    def keys(self, slot_hidden: torch.Tensor) -> torch.Tensor:
        """[B, N, H] object-slot states -> [B, N, dim] keys (computed once per prompt)."""
        return self.key(slot_hidden)

    def mix(self, hidden: torch.Tensor, vocab_logits: torch.Tensor, keys: torch.Tensor,
            slot_tokens: torch.Tensor) -> torch.Tensor:
        """Mixture log-probabilities.

        hidden [B, T, H], vocab_logits [B, T, V], keys [B, N, dim], slot_tokens [B, N]
        (vocabulary id per slot, -1 = not copyable). Returns [B, T, V] log-probabilities.
        """
        vocab_logits = vocab_logits.float()
        b, t, v = vocab_logits.shape
        valid = slot_tokens >= 0                                     # [B, N]
        log_vocab = torch.log_softmax(vocab_logits, dim=-1)
        if keys.shape[1] == 0 or not bool(valid.any()):
            return log_vocab
        scores = torch.einsum("btd,bnd->btn", self.query(hidden).float(), keys.float()) * self.scale
        scores = scores.masked_fill(~valid[:, None, :], -math.inf)
        any_valid = valid.any(-1)                                    # rows with nothing to copy
        p_copy = torch.softmax(scores.masked_fill(~any_valid[:, None, None], 0.0), dim=-1)
        g = torch.sigmoid(self.gate(hidden).float())                # [B, T, 1]
        g = torch.where(any_valid[:, None, None], g, torch.ones_like(g))
        index = slot_tokens.clamp(min=0)[:, None, :].expand(b, t, -1)
        copy = torch.zeros_like(log_vocab).scatter_add(-1, index, (p_copy * valid[:, None, :]) * (1.0 - g))
        probs = g * log_vocab.exp() + copy
        return torch.log(probs + _EPS)

    def step_mixer(self, keys: torch.Tensor, slot_tokens: torch.Tensor):
        """``mix`` for one position per row, with everything that depends only on the prompt
        (masks, scatter index, keys in float) computed once: returns ``f(hidden [B, H],
        vocab_logits [B, V]) -> [B, V]`` log-probabilities, the values ``mix`` gives."""
        valid = slot_tokens >= 0                                     # [B, N]
        if keys.shape[1] == 0 or not bool(valid.any()):
            return lambda hidden, vocab_logits: torch.log_softmax(vocab_logits.float(), dim=-1)
        keys_t = keys.float()
        refused = ~valid[:, None, :]
        any_valid = valid.any(-1)
        no_copy_rows = ~any_valid[:, None, None]
        all_rows = bool(any_valid.all())
        valid_f = valid[:, None, :]
        index = slot_tokens.clamp(min=0)[:, None, :]
        wq, bq, wg, bg, scale = self.query.weight, self.query.bias, self.gate.weight, self.gate.bias, self.scale
        F_linear = torch.nn.functional.linear

        def mixer(hidden: torch.Tensor, vocab_logits: torch.Tensor) -> torch.Tensor:
            h = hidden[:, None]
            log_vocab = torch.log_softmax(vocab_logits[:, None].float(), dim=-1)
            scores = torch.einsum("btd,bnd->btn", F_linear(h, wq, bq).float(), keys_t) * scale
            scores = scores.masked_fill(refused, -math.inf)
            if not all_rows:
                scores = scores.masked_fill(no_copy_rows, 0.0)
            p_copy = torch.softmax(scores, dim=-1)
            g = torch.sigmoid(F_linear(h, wg, bg).float())
            if not all_rows:
                g = torch.where(any_valid[:, None, None], g, torch.ones_like(g))
            copy = torch.zeros_like(log_vocab).scatter_add(-1, index, (p_copy * valid_f) * (1.0 - g))
            return torch.log(g * log_vocab.exp() + copy + _EPS)[:, 0]

        return mixer
