"""ApeiriaForGrounding: object tokens + a causal LM that writes the trace and the answer.

* :class:`ObjectEncoder` -- MLP over [appearance features ++ box encoding] -> LM width.
* :class:`ApeiriaForGrounding` -- replaces each ``<obj>`` placeholder embedding by its
  object token and runs the LM on ``inputs_embeds``; ``generate`` decodes greedily or
  by sampling with a KV cache (a lean loop for the small Llama, HF forward otherwise);
  ``save_pretrained`` / ``from_pretrained`` use safetensors + config.json + tokenizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from apeiria_model.model.backbones import build_lm, hidden_size_of
from apeiria_model.model.config import BACKBONE_SMALL, ApeiriaConfig, ConfigError
from apeiria_model.model.fast_decode import LlamaKVDecoder
from apeiria_model.model.geometry_encoding import box_encoding_dim, encode_boxes
from apeiria_model.model.pointer import PointerHead
from apeiria_model.model.processor import IGNORE_INDEX, ApeiriaProcessor, EncodedPrompt
from apeiria_model.model.tokenizer import BPETokenizer, PretrainedTokenizer, token_pieces

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class CheckpointError(RuntimeError):
    """A model folder is missing, incomplete or does not match its config."""


class ObjectEncoder(nn.Module):
    """One object -> one LM-width embedding, from its features and its box."""

    def __init__(self, cfg: ApeiriaConfig, hidden: int, embed_rms: float = 0.02):
        super().__init__()
        self.cfg = cfg
        in_dim = cfg.feature_dim + box_encoding_dim(cfg.box_encoding, cfg.box_bands)
        self.mlp = nn.Sequential(nn.Linear(in_dim, cfg.object_mlp_hidden), nn.GELU(),
                                 nn.Linear(cfg.object_mlp_hidden, cfg.object_mlp_hidden), nn.GELU(),
                                 nn.Linear(cfg.object_mlp_hidden, hidden))
        self.norm = nn.LayerNorm(hidden)
        # match the LM's token-embedding scale so object tokens are neither drowned nor dominant
        self.out_scale = nn.Parameter(torch.tensor(float(embed_rms)))

    def forward(self, features: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        enc = encode_boxes(boxes, self.cfg.box_encoding, self.cfg.box_bands, self.cfg.box_scale)
        return self.norm(self.mlp(torch.cat([features, enc], dim=-1))) * self.out_scale


@dataclass
class Generation:
    token_ids: list[list[int]]   # generated ids per sample (eos excluded)
    texts: list[str]
    finished: list[bool]         # ended with <eos> (else hit max_new_tokens)


class ApeiriaForGrounding(nn.Module):
    def __init__(self, config: ApeiriaConfig, lm, tokenizer):
        super().__init__()
        self.config = config
        self.lm = lm
        self.tokenizer = tokenizer
        hidden = hidden_size_of(lm)
        emb = lm.get_input_embeddings().weight
        rms = float(emb.detach().float().pow(2).mean().sqrt()) if emb.numel() else 0.02
        scale = getattr(lm.get_input_embeddings(), "embed_scale", None)  # Gemma scales embeddings
        if scale is not None:
            rms *= float(scale)
        self.object_encoder = ObjectEncoder(config, hidden, rms)
        self.pointer = PointerHead(hidden, config.pointer_dim) if config.pointer_head else None
        self._processor: ApeiriaProcessor | None = None
        self._fast: LlamaKVDecoder | None = None
        self._pieces: list[str] | None = None   # token_pieces(), built on first constrained decode
        # intra-op threads while generating (restored after): a token's matmuls are far too
        # small to share between threads, and on a busy CPU the hand-offs cost more than the
        # maths (docs/model.md, "Decoding speed"); 0 keeps torch's setting
        self.decode_threads = 1
        # per-token step of the small Llama: LlamaKVDecoder.step (fused) or its generic block
        # forward_hidden (the pre-fusion path, kept for the benchmark's comparison)
        self.fused_step = True

    # --- construction ------------------------------------------------------------------
    @classmethod
    def build(cls, config: ApeiriaConfig, tokenizer=None) -> "ApeiriaForGrounding":
        config.validate()
        if tokenizer is None:
            if config.backbone.kind == BACKBONE_SMALL:
                raise ConfigError("the small backbone needs a trained tokenizer (BPETokenizer.train)")
            from apeiria_model.model.backbones import resolve_pretrained_path
            folder, gguf = resolve_pretrained_path(config)
            tokenizer = PretrainedTokenizer.load(folder, gguf)
        if config.backbone.kind == BACKBONE_SMALL:
            config.vocab_size = tokenizer.vocab_size
        lm = build_lm(config, tokenizer.vocab_size)
        return cls(config, lm, tokenizer)

    def enable_pointer_head(self, dim: int | None = None) -> None:
        """Add a fresh pointer head to a model built without one (e.g. continuing an older
        checkpoint); its gate starts vocabulary-heavy, so the model's behaviour changes little."""
        if self.pointer is not None:
            return
        self.config.pointer_head = True
        if dim is not None:
            self.config.pointer_dim = int(dim)
        self.config.validate()
        p = self.object_encoder.out_scale
        self.pointer = PointerHead(hidden_size_of(self.lm), self.config.pointer_dim).to(p.device)
        self._fast = None

    @property
    def processor(self) -> ApeiriaProcessor:
        if self._processor is None:
            self._processor = ApeiriaProcessor(self.tokenizer, self.config)
        return self._processor

    def base_lm(self):
        """The underlying HF model (unwrapped from peft when LoRA is on)."""
        return self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm

    # --- forward -----------------------------------------------------------------------
    def embed_inputs(self, input_ids, object_features, object_boxes, object_positions) -> torch.Tensor:
        emb = self.lm.get_input_embeddings()(input_ids)
        valid = object_positions >= 0
        if bool(valid.any()):
            obj = self.object_encoder(object_features.to(emb.dtype), object_boxes.to(emb.dtype))
            rows = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None].expand_as(object_positions)
            emb = emb.index_put((rows[valid], object_positions[valid]), obj[valid].to(emb.dtype))
        return emb

    @property
    def device(self) -> torch.device:
        return self.object_encoder.out_scale.device

    def forward(self, input_ids, attention_mask, object_features, object_boxes, object_positions, labels=None,
                object_tokens=None):
        """(loss or None, logits [B, T, V]). With the pointer head the logits are the
        mixture's log-probabilities and ``object_tokens`` (the collated batch's) is required."""
        emb = self.embed_inputs(input_ids, object_features, object_boxes, object_positions)
        if self.pointer is None:
            out = self.lm(inputs_embeds=emb, attention_mask=attention_mask, use_cache=False)
            logits = out.logits
        else:
            if object_tokens is None:
                raise ValueError("this model has a pointer head: pass the batch's object_tokens")
            out = self.lm(inputs_embeds=emb, attention_mask=attention_mask, use_cache=False,
                          output_hidden_states=True)
            hidden = out.hidden_states[-1]
            keys, tokens = self._pointer_keys(hidden, object_positions, object_tokens)
            logits = self.pointer.mix(hidden, out.logits, keys, tokens)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
                                   labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX)
        return loss, logits

    def _pointer_keys(self, hidden, object_positions, object_tokens):
        """Pointer keys from the hidden states at the object slots; padded slots get token -1."""
        valid = object_positions >= 0
        idx = object_positions.clamp(min=0)[..., None].expand(-1, -1, hidden.shape[-1])
        slot_hidden = hidden.gather(1, idx)
        return self.pointer.keys(slot_hidden), object_tokens.masked_fill(~valid, -1)

    # --- generation --------------------------------------------------------------------
    def _prompt_batch(self, prompt: EncodedPrompt) -> dict[str, torch.Tensor]:
        dev = self.device
        return {k: v.to(dev) for k, v in self.processor.collate([prompt]).items()}

    def _prompt_embeds(self, prompt: EncodedPrompt) -> torch.Tensor:
        batch = self._prompt_batch(prompt)
        return self.embed_inputs(batch["input_ids"], batch["object_features"], batch["object_boxes"],
                                 batch["object_positions"])

    @torch.inference_mode()
    def generate(self, prompt: EncodedPrompt, max_new_tokens: int | None = None, temperature: float = 0.0,
                 num_samples: int = 1, top_k: int = 0, generator: torch.Generator | None = None,
                 on_token: Callable[[int], None] | None = None, constraints: list | None = None) -> Generation:
        """Decode ``num_samples`` continuations of one prompt (greedy when temperature == 0).

        ``on_token`` is called with each new token id of the first sample as soon as it is
        chosen (not with the end-of-sequence token): live progress for long generations.
        ``constraints`` (one :class:`~apeiria_model.model.trace_constraint.TraceConstraint`
        per sample, or None) restrict each sample to well-formed traces: a token the
        constraint rejects is replaced by the most likely (greedy) or a resampled (sampling)
        token it allows.
        """
        if constraints is not None and len(constraints) != num_samples:
            raise ValueError(f"need one constraint per sample: {len(constraints)} for {num_samples}")
        max_new = int(max_new_tokens or self.config.max_new_tokens)
        was_training = self.training
        self.eval()
        threads = torch.get_num_threads()
        if self.decode_threads and self.decode_threads != threads:
            torch.set_num_threads(self.decode_threads)
        try:
            batch = self._prompt_batch(prompt)
            emb = self.embed_inputs(batch["input_ids"], batch["object_features"], batch["object_boxes"],
                                    batch["object_positions"])
            step = self._decoder_steps(emb, num_samples, max_new, batch["object_positions"], batch["object_tokens"])
            logits = next(step)
            eos = self.tokenizer.eos_id
            out = [[] for _ in range(num_samples)]
            done = [False] * num_samples
            on_cpu = logits.device.type == "cpu"
            for _ in range(max_new):
                row_logits = logits if on_cpu else logits.cpu()
                tok = _pick(row_logits, temperature, top_k, generator)  # CPU sampler / generator
                ids = tok.tolist()
                if constraints is not None:
                    ids = self._constrain(ids, row_logits, constraints, done, temperature, top_k, generator)
                    tok = torch.tensor(ids)
                if on_token is not None and not done[0] and ids[0] != eos:
                    on_token(ids[0])
                for i, t in enumerate(ids):
                    if not done[i]:
                        if t == eos:
                            done[i] = True
                        else:
                            out[i].append(t)
                if all(done):
                    break
                logits = step.send(tok if on_cpu else tok.to(emb.device))
            step.close()
        finally:
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            self.train(was_training)
        texts = [self.tokenizer.decode(ids) for ids in out]
        return Generation(out, texts, list(done))

    def token_pieces(self) -> list[str]:
        """The text each token id adds when decoded after other text (for constraints)."""
        if self._pieces is None:
            self._pieces = token_pieces(self.tokenizer)
        return self._pieces

    def _constrain(self, ids: list[int], logits: torch.Tensor, constraints: list, done: list[bool],
                   temperature: float, top_k: int, generator) -> list[int]:
        """Replace each row's token its constraint rejects; then advance the constraints."""
        eos, pieces = self.tokenizer.eos_id, self.token_pieces()
        ids = list(ids)
        for i, c in enumerate(constraints):
            if done[i] or c is None:
                continue
            t = ids[i]
            if not _allowed(c, t, eos, pieces):
                row = logits[i].float()
                if temperature > 0:  # resample among the allowed: mask what was refused, a few tries
                    row = row.clone()
                    for _ in range(4):
                        row[t] = -math.inf
                        t = int(_pick(row[None], temperature, top_k, generator)[0])
                        if _allowed(c, t, eos, pieces):
                            break
                    else:
                        found = _first_allowed(c, row, eos, pieces, t)
                        t = t if found is None else found
                else:
                    found = _first_allowed(c, row, eos, pieces, t)
                    t = t if found is None else found  # nothing allowed: the constraint steps aside
                ids[i] = t
            if t != eos:
                c.accept(pieces[t])
        return ids

    def _decoder_steps(self, prompt_emb: torch.Tensor, n: int, max_new: int, object_positions=None,
                       object_tokens=None):
        """Coroutine: yields next-token logits [n, V]; receives the chosen tokens [n].
        With the pointer head the yielded logits are the mixture's log-probabilities."""
        base = self.base_lm()
        ptr = self.pointer
        keys = tokens = None

        def mixed(hidden_last, logits_last):  # [n, H], [n, V] -> [n, V]
            if ptr is None:
                return logits_last
            return ptr.mix(hidden_last[:, None], logits_last[:, None], keys, tokens)[:, 0]

        if not self.config.lora.enabled and LlamaKVDecoder.supports(base):
            if self._fast is None or self._fast.lm is not base:
                self._fast = LlamaKVDecoder(base)
            dec = self._fast
            cache = dec.new_cache(1, prompt_emb.shape[1] + max_new + 1, prompt_emb.dtype, prompt_emb.device)
            hidden = dec.forward_hidden(prompt_emb, cache, last_only=ptr is None)
            if ptr is not None:
                keys, tokens = self._pointer_keys(hidden, object_positions, object_tokens)
            last = hidden[:, -1]
            logits = mixed(last, dec.head(last))  # the one prompt row, before it is fanned out
            step_mix = None
            if ptr is not None:
                keys, tokens = keys.expand(n, -1, -1), tokens.expand(n, -1)
                step_mix = ptr.step_mixer(keys, tokens)  # prompt-only parts computed once
            if n > 1:
                cache = dec.expand(cache, n)
                logits = logits.expand(n, -1)
            head_w, head_b = dec.head.weight, dec.head.bias
            embed = base.get_input_embeddings()
            fused = self.fused_step
            while True:
                tok = yield logits
                if fused:
                    last = dec.step(tok.view(n), cache)
                    vocab = F.linear(last, head_w, head_b)
                    logits = vocab if step_mix is None else step_mix(last, vocab)
                else:  # the generic block forward, one token at a time (kept to measure against)
                    last = dec.forward_hidden(embed(tok.view(n, 1)), cache, last_only=True)[:, -1]
                    logits = mixed(last, dec.head(last))
        else:
            want_hidden = ptr is not None
            out = self.lm(inputs_embeds=prompt_emb.expand(n, -1, -1), use_cache=True, output_hidden_states=want_hidden)
            if ptr is not None:
                keys, tokens = self._pointer_keys(out.hidden_states[-1], object_positions.expand(n, -1),
                                                  object_tokens.expand(n, -1))
            past = out.past_key_values
            logits = mixed(out.hidden_states[-1][:, -1] if want_hidden else None, out.logits[:, -1])
            while True:
                tok = yield logits
                out = self.lm(input_ids=tok.view(n, 1), past_key_values=past, use_cache=True,
                              output_hidden_states=want_hidden)
                past = out.past_key_values
                logits = mixed(out.hidden_states[-1][:, -1] if want_hidden else None, out.logits[:, -1])

    # --- persistence -------------------------------------------------------------------
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """What a checkpoint stores: everything for the small model; with LoRA only the
        adapters and the object encoder (the base weights come from backbone.path)."""
        sd = self.state_dict()
        if self.config.lora.enabled:
            names = {n for n, p in self.named_parameters() if p.requires_grad}
            sd = {k: v for k, v in sd.items() if k in names or k.startswith("object_encoder.")}
        out, seen = {}, set()
        for k, v in sd.items():
            ptr = (v.data_ptr(), tuple(v.shape))
            if ptr in seen:  # tied weights (lm_head = embeddings) are stored once
                continue
            seen.add(ptr)
            out[k] = v.detach().contiguous().cpu()
        return out

    def save_pretrained(self, directory: str | Path) -> None:
        from safetensors.torch import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.config.save(d / CONFIG_FILE)
        save_file(self.trainable_state_dict(), str(d / WEIGHTS_FILE), metadata={"format": "pt"})
        self.tokenizer.save(d)
        from apeiria_model.weights_integrity import write_manifest

        write_manifest(d)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "ApeiriaForGrounding":
        from safetensors.torch import load_file

        from apeiria_model.weights_integrity import WeightsIntegrityError, check_finite, verify_manifest

        d = Path(directory)
        for f in (CONFIG_FILE, WEIGHTS_FILE):
            if not (d / f).is_file():
                raise CheckpointError(f"{d} is not an apeiria model folder: {f} missing")
        try:  # before anything is parsed or allocated: the files are the ones shipped
            verify_manifest(d)
        except WeightsIntegrityError as e:
            raise CheckpointError(str(e)) from None
        config = ApeiriaConfig.load(d / CONFIG_FILE)
        tok = BPETokenizer.load(d) if config.backbone.kind == BACKBONE_SMALL else PretrainedTokenizer(
            __import__("transformers").AutoTokenizer.from_pretrained(str(d)))
        model = cls(config, build_lm(config, tok.vocab_size), tok)
        try:
            state = load_file(str(d / WEIGHTS_FILE))
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f"cannot read {d / WEIGHTS_FILE}: {e}") from e
        try:
            check_finite(state, str(d / WEIGHTS_FILE))
        except WeightsIntegrityError as e:
            raise CheckpointError(str(e)) from None
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected:
            raise CheckpointError(f"{d / WEIGHTS_FILE} has weights this config does not build: {unexpected[:5]}")
        expected = set(model.trainable_state_dict())
        lost = sorted(set(missing) & expected)
        if lost:
            raise CheckpointError(f"{d / WEIGHTS_FILE} lacks weights: {lost[:5]}")
        model.eval()
        return model

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


def _allowed(c, tok: int, eos: int, pieces: list[str]) -> bool:
    return c.allows_end() if tok == eos else c.allows(pieces[tok])


def _first_allowed(c, row: torch.Tensor, eos: int, pieces: list[str], skip: int) -> int | None:
    """The most likely token ``c`` allows (``skip`` is known to be rejected), or None.
    Candidates are tried in probability order, the top 64 first: that is nearly always
    enough, and sorting the whole vocabulary each token would cost more than decoding."""
    k = min(64, row.shape[-1])
    for cand in torch.topk(row, k).indices.tolist():
        if cand != skip and _allowed(c, cand, eos, pieces):
            return cand
    if k < row.shape[-1]:
        for cand in torch.argsort(row, descending=True)[k:].tolist():
            if _allowed(c, cand, eos, pieces):
                return cand
    return None


def _pick(logits: torch.Tensor, temperature: float, top_k: int, generator) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
