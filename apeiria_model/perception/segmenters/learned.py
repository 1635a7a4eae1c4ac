"""Learned segmenter: geometric segments, each classified by the trained PointNet-style
network (category + confidence + feature vector). Segments the network calls
background (wall remnants, clutter) with enough confidence are dropped.

Runtimes: "onnx" (ONNX Runtime; TensorRT -> CUDA -> CPU providers), "tensorrt"
(native engine, cached per GPU / TensorRT version) or "torch" (the safetensors weights).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from apeiria_model.perception.features import batch_tensors
from apeiria_model.perception.frame import RGBDFrame
from apeiria_model.perception.segment import Segment
from apeiria_model.perception.segmenters.geometric import GeometricSegmenter

ASSET_DIR = Path(__file__).resolve().parents[2] / "assets" / "perception"
DEFAULT_WEIGHTS = ASSET_DIR / "segment_classifier.safetensors"
DEFAULT_ONNX = ASSET_DIR / "segment_classifier.onnx"
BACKGROUND = "background"
RUNTIMES = ("onnx", "tensorrt", "torch")


class Classifier(Protocol):
    classes: tuple[str, ...]

    def predict(self, points: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class TorchClassifier:
    """The safetensors weights run by PyTorch on the CPU (reference implementation)."""

    def __init__(self, path: str | Path = DEFAULT_WEIGHTS):
        from apeiria_model.perception.segmenters.network import load_weights
        if not Path(path).is_file():
            raise FileNotFoundError(f"classifier weights not found: {path}")
        self.model = load_weights(path)
        self.spec = self.model.spec
        self.providers = ["torch-cpu"]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    def predict(self, points: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch
        with torch.no_grad():
            logits, feats = self.model(torch.from_numpy(np.asarray(points, np.float32)),
                                       torch.from_numpy(np.asarray(extra, np.float32)))
        return logits.numpy(), feats.numpy()


def load_classifier(runtime: str = "onnx", weights: str | Path | None = None, onnx_path: str | Path | None = None,
                    providers: Sequence[str] | None = None, trt_cache_dir: str | Path | None = None,
                    fp16: bool = False) -> Classifier:
    """Build the classifier for a runtime name (see RUNTIMES)."""
    if runtime == "torch":
        return TorchClassifier(weights or DEFAULT_WEIGHTS)
    if runtime == "onnx":
        from apeiria_model.perception.segmenters.onnx_runtime import OnnxClassifier
        return OnnxClassifier(onnx_path or DEFAULT_ONNX, providers=providers, trt_cache_dir=trt_cache_dir,
                              fp16=fp16)
    if runtime == "tensorrt":
        from apeiria_model.perception.segmenters.tensorrt_engine import TensorRTClassifier
        cache = trt_cache_dir or (Path.home() / ".cache" / "apeiria" / "tensorrt")
        return TensorRTClassifier(onnx_path or DEFAULT_ONNX, cache, fp16=fp16)
    raise ValueError(f"unknown runtime {runtime!r}; choose one of {RUNTIMES}")


def _overlap_groups(link: np.ndarray) -> np.ndarray:
    """Connected components (group index per node, 0 = the first node's) of a symmetric
    boolean adjacency matrix."""
    from scipy.sparse.csgraph import connected_components
    _, groups = connected_components(link, directed=False)
    return groups


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class LearnedSegmenter:
    name = "learned"

    def __init__(self, classifier: Classifier, base: GeometricSegmenter | None = None,
                 drop_background: float = 0.5, floor_height: float = 0.0, split_overlap: float = 0.0):
        self.classifier = classifier
        self.base = base or GeometricSegmenter()
        self.drop_background = drop_background
        self.split_overlap = split_overlap
        self.base.propose_parts = split_overlap > 0
        self.floor_height = floor_height
        self.last_timings: dict[str, float] = {}

    def _predict(self, segments: list[Segment]) -> tuple[np.ndarray, np.ndarray]:
        n_points = getattr(getattr(self.classifier, "spec", None), "n_points", 128)
        pts, extra = batch_tensors(segments, n_points, self.floor_height)
        logits, feats = self.classifier.predict(pts, extra)
        return softmax(np.asarray(logits, np.float64)), np.asarray(feats)

    def split_disagreeing(self, segments: list[Segment]) -> list[Segment]:
        """Split segments at their proposed seams (``Segment.parts``) where the classifier
        sees different things in the parts: parts whose class distributions overlap
        (Bhattacharyya coefficient) at least ``split_overlap`` stay together, and a
        segment whose parts fall into two or more such groups becomes one segment per
        group (a speaker against a table: one segment at depth and colour alone). The
        overlap, not a confident label, decides: the classifier is unsure between
        look-alikes (speaker / kettle, table / desk) yet sure the parts differ."""
        cand = [s for s in segments if s.parts is not None]
        if not cand or self.split_overlap <= 0:
            return segments
        subs, owner = [], []
        for i, seg in enumerate(cand):
            for j in range(int(seg.parts.max()) + 1):
                subs.append(seg.subset(seg.parts == j, seg.segment_id))
                owner.append(i)
        probs, _ = self._predict(subs)
        owner = np.asarray(owner)
        replace: dict[int, list[Segment]] = {}
        next_id = max(s.segment_id for s in segments) + 1
        for i, seg in enumerate(cand):
            p = np.sqrt(probs[owner == i])
            groups = _overlap_groups(p @ p.T >= self.split_overlap)
            if groups.max() == 0:
                continue
            sizes = np.bincount(groups[seg.parts], minlength=groups.max() + 1)
            out = []
            for g in np.argsort(-sizes, kind="stable"):
                out.append(seg.subset(groups[seg.parts] == g, seg.segment_id if not out else next_id))
                next_id += len(out) > 1
            replace[id(seg)] = out
        if not replace:
            return segments
        return [piece for s in segments for piece in replace.get(id(s), [s])]

    def classify(self, segments: list[Segment]) -> list[Segment]:
        """Fill label / confidence / features in place; return the non-background ones."""
        if not segments:
            return []
        segments = self.split_disagreeing(segments)
        probs, feats = self._predict(segments)
        classes = self.classifier.classes
        kept = []
        for seg, p, f in zip(segments, probs, feats):
            k = int(np.argmax(p))
            seg.label, seg.confidence, seg.features = classes[k], float(p[k]), np.asarray(f, np.float32)
            if seg.label == BACKGROUND:
                if seg.confidence >= self.drop_background:
                    continue
                # Unsure background: keep as its best object class instead.
                q = p.copy()
                q[k] = 0.0
                j = int(np.argmax(q))
                seg.label, seg.confidence = classes[j], float(p[j])
            kept.append(seg)
        return kept

    def segment(self, frame: RGBDFrame) -> list[Segment]:
        t0 = time.perf_counter()
        segments = self.base.segment(frame)
        t1 = time.perf_counter()
        out = self.classify(segments)
        # The pipeline reports these as separate stages of its "segment" time.
        self.last_timings = {"geometric": (t1 - t0) * 1e3, "classify": (time.perf_counter() - t1) * 1e3}
        return out
