"""Native TensorRT engine for the segment classifier, cached on disk.

TensorRT engines are not portable across GPU models or TensorRT versions, so the
cache key is (GPU name, TensorRT version, SHA-256 of the ONNX file, precision, batch
profile). A cached engine whose key differs from the current one is rebuilt from the
ONNX file. All TensorRT / CUDA calls sit behind :class:`TrtBackend` so the cache logic
is testable without a GPU; :class:`NativeTrtBackend` imports ``tensorrt`` lazily and
raises :class:`TensorRTUnavailable` with a clear message when it cannot be used.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from apeiria_model.atomic_io import write_bytes_atomic
from apeiria_model.perception.segmenters.onnx_runtime import INPUT_NAMES, OUTPUT_NAMES, onnx_spec
from apeiria_model.weights_integrity import sha256_file


class TensorRTUnavailable(RuntimeError):
    """TensorRT (or a CUDA GPU) is not usable here; the message says which part is missing."""


@dataclass(frozen=True)
class EngineKey:
    gpu: str
    trt_version: str
    onnx_sha256: str
    fp16: bool
    max_batch: int

    def filename(self) -> str:
        gpu = re.sub(r"[^A-Za-z0-9]+", "-", self.gpu).strip("-").lower() or "gpu"
        prec = "fp16" if self.fp16 else "fp32"
        return f"segclf-{gpu}-trt{self.trt_version}-{self.onnx_sha256[:16]}-{prec}-b{self.max_batch}.engine"


class TrtBackend(Protocol):
    """The TensorRT operations the cache needs (faked in tests)."""

    def gpu_name(self) -> str: ...
    def version(self) -> str: ...
    def build(self, onnx_bytes: bytes, fp16: bool, max_batch: int, n_points: int,
              point_dim: int, extra_dim: int) -> bytes: ...
    def load(self, engine_bytes: bytes) -> Any: ...


class EngineCache:
    """Engine files in ``cache_dir``, each with a JSON sidecar holding its key."""

    def __init__(self, cache_dir: str | Path, backend: TrtBackend):
        self.cache_dir = Path(cache_dir)
        self.backend = backend

    def key_for(self, onnx_path: str | Path, fp16: bool, max_batch: int) -> EngineKey:
        return EngineKey(self.backend.gpu_name(), self.backend.version(), sha256_file(onnx_path), bool(fp16),
                         int(max_batch))

    def get(self, onnx_path: str | Path, fp16: bool = False, max_batch: int = 256) -> tuple[bytes, bool, EngineKey]:
        """(serialized engine, rebuilt?, key): the cached engine if its key matches the
        current GPU / TensorRT / ONNX file, else a fresh build that replaces it."""
        onnx_path = Path(onnx_path)
        key = self.key_for(onnx_path, fp16, max_batch)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        engine_path = self.cache_dir / key.filename()
        meta_path = engine_path.with_suffix(".json")
        if engine_path.is_file() and meta_path.is_file():
            try:
                stored = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                stored = None
            if stored == asdict(key):
                return engine_path.read_bytes(), False, key
        spec = onnx_spec(onnx_path)
        engine = self.backend.build(onnx_path.read_bytes(), fp16, max_batch, spec.n_points, spec.point_dim,
                                    spec.extra_dim)
        if not engine:
            raise TensorRTUnavailable("TensorRT engine build failed (builder returned nothing)")
        write_bytes_atomic(engine_path, bytes(engine))
        write_bytes_atomic(meta_path, json.dumps(asdict(key), indent=1).encode())
        # Engines for other GPUs / versions of the same ONNX stay: a shared cache folder
        # may serve several machines.
        return bytes(engine), True, key


class NativeTrtBackend:
    """The real TensorRT + CUDA (through torch) implementation."""

    def __init__(self):
        try:
            import tensorrt as trt  # noqa: F401
        except ImportError as e:
            raise TensorRTUnavailable(f"TensorRT not available: cannot import tensorrt ({e})") from None
        try:
            import torch
        except ImportError as e:  # pragma: no cover - torch is a base dependency
            raise TensorRTUnavailable(f"TensorRT needs torch for CUDA buffers: {e}") from None
        if not torch.cuda.is_available():
            raise TensorRTUnavailable("TensorRT not available: no CUDA GPU visible to torch")
        self.trt = trt
        self.torch = torch
        self.logger = trt.Logger(trt.Logger.WARNING)

    def gpu_name(self) -> str:
        return self.torch.cuda.get_device_name(0)

    def version(self) -> str:
        return str(self.trt.__version__)

    def build(self, onnx_bytes: bytes, fp16: bool, max_batch: int, n_points: int, point_dim: int,
              extra_dim: int) -> bytes:
        trt = self.trt
        builder = trt.Builder(self.logger)
        flags = 0
        if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # TensorRT < 10
            flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse(onnx_bytes):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise TensorRTUnavailable(f"TensorRT could not parse the ONNX model: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 28)
        if fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        opt = max(1, min(32, max_batch))
        profile.set_shape("points", (1, n_points, point_dim), (opt, n_points, point_dim),
                          (max_batch, n_points, point_dim))
        profile.set_shape("extra", (1, extra_dim), (opt, extra_dim), (max_batch, extra_dim))
        config.add_optimization_profile(profile)
        engine = builder.build_serialized_network(network, config)
        if engine is None:
            raise TensorRTUnavailable("TensorRT engine build failed (see TensorRT log above)")
        return bytes(engine)

    def load(self, engine_bytes: bytes):
        runtime = self.trt.Runtime(self.logger)
        engine = runtime.deserialize_cuda_engine(engine_bytes)
        if engine is None:
            raise TensorRTUnavailable("TensorRT could not deserialize the cached engine")
        return engine


class TensorRTClassifier:
    """Segment classifier on a native TensorRT engine (same API as OnnxClassifier)."""

    def __init__(self, onnx_path: str | Path, cache_dir: str | Path, fp16: bool = False, max_batch: int = 256,
                 backend: TrtBackend | None = None):
        self.backend = backend or NativeTrtBackend()
        self.spec = onnx_spec(onnx_path)
        self.cache = EngineCache(cache_dir, self.backend)
        engine_bytes, self.rebuilt, self.key = self.cache.get(onnx_path, fp16, max_batch)
        self.max_batch = max_batch
        self.engine = self.backend.load(engine_bytes)
        self.context = self.engine.create_execution_context()
        self.providers = [f"TensorRT {self.key.trt_version} ({'fp16' if fp16 else 'fp32'})"]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    def predict(self, points: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        torch = self.backend.torch  # type: ignore[attr-defined]
        n = len(points)
        if n == 0:
            return np.zeros((0, len(self.classes)), np.float32), np.zeros((0, self.spec.feature_dim), np.float32)
        logits_all, feats_all = [], []
        for s in range(0, n, self.max_batch):  # the engine's profile caps the batch size
            p = torch.from_numpy(np.ascontiguousarray(points[s:s + self.max_batch], np.float32)).cuda()
            e = torch.from_numpy(np.ascontiguousarray(extra[s:s + self.max_batch], np.float32)).cuda()
            b = p.shape[0]
            logits = torch.empty((b, len(self.classes)), dtype=torch.float32, device="cuda")
            feats = torch.empty((b, self.spec.feature_dim), dtype=torch.float32, device="cuda")
            ctx = self.context
            ctx.set_input_shape(INPUT_NAMES[0], tuple(p.shape))
            ctx.set_input_shape(INPUT_NAMES[1], tuple(e.shape))
            for name, t in zip(INPUT_NAMES + OUTPUT_NAMES, (p, e, logits, feats)):
                ctx.set_tensor_address(name, t.data_ptr())
            stream = torch.cuda.current_stream()
            if not ctx.execute_async_v3(stream.cuda_stream):
                raise RuntimeError("TensorRT execution failed")
            stream.synchronize()
            logits_all.append(logits.cpu().numpy())
            feats_all.append(feats.cpu().numpy())
        return np.concatenate(logits_all), np.concatenate(feats_all)
