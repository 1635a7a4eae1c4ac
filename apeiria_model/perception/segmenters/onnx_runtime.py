"""ONNX export of the segment classifier and ONNX Runtime inference.

Execution providers are tried TensorRT -> CUDA -> CPU (whatever this onnxruntime build
offers, see ``onnxruntime.get_available_providers()``), or in the order the caller
configures. The TensorRT provider caches its engines on disk (``trt_cache_dir``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
INPUT_NAMES = ("points", "extra")
OUTPUT_NAMES = ("logits", "features")


class RuntimeUnavailable(RuntimeError):
    """The requested inference runtime or provider cannot be used here (message says why)."""


def choose_providers(preferred: Sequence[str] | None = None,
                     available: Sequence[str] | None = None) -> list[str]:
    """The providers to hand to InferenceSession: ``preferred`` (default TensorRT, CUDA,
    CPU) filtered to those available, CPU always last as the fallback."""
    if available is None:
        import onnxruntime as ort
        available = ort.get_available_providers()
    order = list(preferred) if preferred else list(PROVIDER_ORDER)
    unknown = [p for p in order if not p.endswith("ExecutionProvider")]
    if unknown:
        raise RuntimeUnavailable(f"unknown execution provider name(s) {unknown}; use e.g. {list(PROVIDER_ORDER)}")
    chosen = [p for p in order if p in available]
    if "CPUExecutionProvider" in available and "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    if not chosen:
        raise RuntimeUnavailable(f"none of {order} is available (available: {list(available)})")
    return chosen


def export_onnx(model, path: str | Path, opset: int = 18) -> Path:
    """Export a SegmentClassifier to ONNX with a dynamic batch axis; the network spec
    (class names, sizes) goes into the model's metadata."""
    import onnx
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = model.spec
    model = model.eval()
    pts = torch.zeros(2, spec.n_points, spec.point_dim)
    extra = torch.zeros(2, spec.extra_dim)
    batch = torch.export.Dim("batch", min=1, max=4096)
    prog = torch.onnx.export(model, (pts, extra), dynamo=True, opset_version=opset,
                             input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                             dynamic_shapes={"points": {0: batch}, "extra": {0: batch}},
                             optimize=True, verify=False, report=False)
    proto = prog.model_proto
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = "spec", spec.to_json()
    onnx.checker.check_model(proto)
    tmp = path.with_suffix(".onnx.tmp")
    onnx.save_model(proto, str(tmp), save_as_external_data=False)
    tmp.replace(path)
    return path


def onnx_spec(path: str | Path):
    """The NetworkSpec stored in an exported model's metadata."""
    import onnx

    from apeiria_model.perception.segmenters.network import NetworkSpec
    proto = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    if "spec" not in meta:
        raise ValueError(f"{path}: ONNX model has no 'spec' metadata (not exported by apeiria)")
    return NetworkSpec.from_json(meta["spec"])


class OnnxClassifier:
    """Segment classifier on ONNX Runtime."""

    def __init__(self, path: str | Path, providers: Sequence[str] | None = None,
                 trt_cache_dir: str | Path | None = None, fp16: bool = False, threads: int = 0):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.path}")
        self.spec = onnx_spec(self.path)
        names = choose_providers(providers)
        opts = []
        for name in names:
            if name == "TensorrtExecutionProvider":
                o = {"trt_fp16_enable": bool(fp16)}
                if trt_cache_dir is not None:
                    Path(trt_cache_dir).mkdir(parents=True, exist_ok=True)
                    o.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(trt_cache_dir))
                opts.append((name, o))
            else:
                opts.append(name)
        so = ort.SessionOptions()
        # The model is tiny: one thread, and no spin-waiting thread pool, which on a
        # 2-core robot computer steals the CPU the rest of the pipeline needs.
        so.intra_op_num_threads = threads if threads > 0 else 1
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.path), sess_options=so, providers=opts)
        self.providers = self.session.get_providers()

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    def predict(self, points: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(points) == 0:
            return np.zeros((0, len(self.classes)), np.float32), np.zeros((0, self.spec.feature_dim), np.float32)
        out = self.session.run(list(OUTPUT_NAMES), {"points": np.ascontiguousarray(points, np.float32),
                                                    "extra": np.ascontiguousarray(extra, np.float32)})
        return out[0], out[1]

    def describe(self) -> str:
        return json.dumps({"runtime": "onnxruntime", "providers": self.providers, "model": str(self.path)})
