"""Processor: scene + instruction -> token ids with interleaved object slots, and back.

Sequence layout (one training example)::

    <bos> {instruction} \\n objects: {id_0} <obj> {id_1} <obj> ... \\n | {CoT + answer} <eos>
    '---------------------------- prompt (labels masked) -----------' '-- learned --'

Each ``<obj>`` placeholder's embedding is replaced by the object token built from
that object's features and box (``ObjectEncoder``); the ID text just before it lets
the LM copy IDs into its trace. Only CoT + answer tokens (and ``<eos>``) carry loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from apeiria_model.model.config import ApeiriaConfig
from apeiria_model.model.features import ObjectFeatureSource
from apeiria_model.model.geometry_encoding import BOX_RAW_DIM, scene_box_array
from apeiria_model.model.tokenizer import TextTokenizer
from apeiria_model.scene.model import Scene, SceneObject

IGNORE_INDEX = -100


class ProcessorError(ValueError):
    """The input cannot be turned into a model sequence (too many objects, too long...)."""


@dataclass
class EncodedPrompt:
    input_ids: list[int]
    object_positions: list[int]   # index in input_ids of each object's placeholder
    features: np.ndarray          # [N, feature_dim]
    boxes: np.ndarray             # [N, BOX_RAW_DIM]
    object_ids: list[int]         # scene IDs in slot order
    slot_tokens: list[int] | None = None  # vocabulary id of each slot's ID text (-1: not one token)


@dataclass
class TrainExample(EncodedPrompt):
    labels: list[int] = None  # type: ignore[assignment]  # IGNORE_INDEX on the prompt


class ApeiriaProcessor:
    def __init__(self, tokenizer: TextTokenizer, config: ApeiriaConfig,
                 feature_source: ObjectFeatureSource | None = None):
        self.tokenizer = tokenizer
        self.config = config
        self.features = feature_source or ObjectFeatureSource(config.feature_source, config.feature_dim,
                                                                    config.fallback_features)
        self._id_cache: dict[int, list[int]] = {}
        self._objects_ids = tokenizer.encode("\nobjects:")
        self._newline_ids = tokenizer.encode("\n")

    # --- objects -----------------------------------------------------------------------
    def objects_for(self, scene: Scene) -> list[SceneObject]:
        objs = list(scene.objects)
        if len(objs) > self.config.max_objects:
            raise ProcessorError(f"scene has {len(objs)} objects; this model takes at most {self.config.max_objects}")
        return objs

    def _id_tokens(self, oid: int) -> list[int]:
        ids = self._id_cache.get(oid)
        if ids is None:
            ids = self._id_cache[oid] = self.tokenizer.encode(f" {oid}")
        return ids

    # --- prompts -----------------------------------------------------------------------
    def encode_prompt(self, instruction: str, scene: Scene, *, noise_std: float = 0.0, label_dropout: float = 0.0,
                      rng: np.random.Generator | None = None) -> EncodedPrompt:
        if not isinstance(instruction, str):
            raise ProcessorError(f"instruction must be a string, got {type(instruction).__name__}")
        objs = self.objects_for(scene)
        ids = [self.tokenizer.bos_id] + self.tokenizer.encode(" ".join(instruction.split())) + list(self._objects_ids)
        positions = []
        for o in objs:
            ids.extend(self._id_tokens(o.id))
            positions.append(len(ids))
            ids.append(self.tokenizer.obj_id)
        ids.extend(self._newline_ids)
        feats = self.features(objs, noise_std=noise_std, label_dropout=label_dropout, rng=rng)
        boxes = scene_box_array(scene, objs)
        return EncodedPrompt(ids, positions, feats, boxes, [o.id for o in objs], self._slot_tokens(objs))

    def _slot_tokens(self, objs) -> list[int]:
        """What the pointer head can copy per slot: the ID's token when the ID is one token."""
        out = []
        for o in objs:
            ids = self._id_tokens(o.id)
            out.append(ids[0] if len(ids) == 1 else -1)
        return out

    def encode_example(self, instruction: str, scene: Scene, target_text: str, **kw) -> TrainExample:
        p = self.encode_prompt(instruction, scene, **kw)
        target = self.tokenizer.encode(target_text) + [self.tokenizer.eos_id]
        ids = p.input_ids + target
        if len(ids) > self.config.backbone.max_positions:
            raise ProcessorError(f"example is {len(ids)} tokens; backbone.max_positions is "
                                 f"{self.config.backbone.max_positions}")
        labels = [IGNORE_INDEX] * len(p.input_ids) + target
        return TrainExample(ids, p.object_positions, p.features, p.boxes, p.object_ids, p.slot_tokens, labels=labels)

    def decode(self, ids) -> str:
        return self.tokenizer.decode(ids)

    # --- batching ----------------------------------------------------------------------
    def collate(self, examples: list[EncodedPrompt]) -> dict[str, torch.Tensor]:
        """Right-padded batch: input_ids, attention_mask, labels (if any), object tensors."""
        if not examples:
            raise ProcessorError("cannot collate an empty batch")
        b = len(examples)
        t = max(len(e.input_ids) for e in examples)
        n = max(1, max(len(e.object_ids) for e in examples))
        fdim = self.config.feature_dim
        input_ids = torch.full((b, t), self.tokenizer.pad_id, dtype=torch.long)
        attn = torch.zeros((b, t), dtype=torch.long)
        labels = torch.full((b, t), IGNORE_INDEX, dtype=torch.long)
        feats = torch.zeros((b, n, fdim), dtype=torch.float32)
        boxes = torch.zeros((b, n, BOX_RAW_DIM), dtype=torch.float32)
        pos = torch.full((b, n), -1, dtype=torch.long)
        slot_tok = torch.full((b, n), -1, dtype=torch.long)
        for i, e in enumerate(examples):
            L = len(e.input_ids)
            input_ids[i, :L] = torch.tensor(e.input_ids)
            attn[i, :L] = 1
            if getattr(e, "labels", None) is not None:
                labels[i, :L] = torch.tensor(e.labels)
            k = len(e.object_ids)
            if k:
                feats[i, :k] = torch.from_numpy(np.asarray(e.features, np.float32))
                boxes[i, :k] = torch.from_numpy(np.asarray(e.boxes, np.float32))
                pos[i, :k] = torch.tensor(e.object_positions)
                if e.slot_tokens is not None:
                    slot_tok[i, :k] = torch.tensor(e.slot_tokens)
        out = {"input_ids": input_ids, "attention_mask": attn, "object_features": feats,
               "object_boxes": boxes, "object_positions": pos, "object_tokens": slot_tok}
        if any(getattr(e, "labels", None) is not None for e in examples):
            out["labels"] = labels
        return out
