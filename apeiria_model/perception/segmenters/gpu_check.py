"""GPU check for the learned segmenter: `python -m apeiria_model.perception.segmenters.gpu_check`.

Reports the ONNX Runtime providers, then for each runtime that can start here
(ONNX Runtime with TensorRT / CUDA / CPU providers, native TensorRT engine, torch CUDA)
times the shipped classifier on a batch of segments and checks its outputs against
the PyTorch CPU reference. Builds (or reuses) the cached TensorRT engine. Prints one
JSON document; runtimes that cannot start are listed with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _time(fn, repeats: int) -> dict:
    fn()  # warm-up (engine build, CUDA context, kernel selection)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return {"p50_ms": float(np.percentile(ts, 50)), "p95_ms": float(np.percentile(ts, 95))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32, help="segments per inference call (default 32)")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--cache-dir", default=None, help="TensorRT engine cache (default: a temp folder)")
    ap.add_argument("--fp16", action="store_true")
    args = ap.parse_args(argv)

    import onnxruntime as ort

    from apeiria_model.perception.segmenters.learned import DEFAULT_ONNX, DEFAULT_WEIGHTS, TorchClassifier
    from apeiria_model.perception.segmenters.onnx_runtime import OnnxClassifier

    cache = Path(args.cache_dir or tempfile.mkdtemp(prefix="apeiria_trt_"))
    ref = TorchClassifier(DEFAULT_WEIGHTS)
    rng = np.random.default_rng(0)
    spec = ref.spec
    pts = rng.standard_normal((args.batch, spec.n_points, spec.point_dim)).astype(np.float32) * 0.5
    extra = np.abs(rng.standard_normal((args.batch, spec.extra_dim))).astype(np.float32)
    ref_logits, ref_feats = ref.predict(pts, extra)
    out: dict = {"available_providers": ort.get_available_providers(), "batch": args.batch, "runtimes": {}}
    try:
        import torch
        out["torch_cuda"] = bool(torch.cuda.is_available())
        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        out["torch_cuda"] = False

    def check(name, make):
        try:
            t0 = time.perf_counter()
            clf = make()
            start_s = time.perf_counter() - t0
            logits, feats = clf.predict(pts, extra)
            entry = {"start_seconds": round(start_s, 3), "providers": getattr(clf, "providers", None),
                     "max_abs_diff_logits": float(np.abs(logits - ref_logits).max()),
                     "max_abs_diff_features": float(np.abs(feats - ref_feats).max()),
                     **_time(lambda: clf.predict(pts, extra), args.repeats)}
            if hasattr(clf, "rebuilt"):
                entry["engine_rebuilt"] = clf.rebuilt
                entry["engine_key"] = clf.key.filename()
            out["runtimes"][name] = entry
        except Exception as e:  # report every failure, keep checking the others
            out["runtimes"][name] = {"error": f"{type(e).__name__}: {e}"}

    check("torch-cpu", lambda: ref)
    check("ort-cpu", lambda: OnnxClassifier(DEFAULT_ONNX, providers=["CPUExecutionProvider"]))
    if "CUDAExecutionProvider" in out["available_providers"]:
        check("ort-cuda", lambda: OnnxClassifier(DEFAULT_ONNX, providers=["CUDAExecutionProvider"]))
    if "TensorrtExecutionProvider" in out["available_providers"]:
        check("ort-tensorrt", lambda: OnnxClassifier(DEFAULT_ONNX, providers=["TensorrtExecutionProvider"],
                                                     trt_cache_dir=cache / "ort", fp16=args.fp16))
    from apeiria_model.perception.segmenters.tensorrt_engine import TensorRTClassifier
    check("tensorrt-native", lambda: TensorRTClassifier(DEFAULT_ONNX, cache / "native", fp16=args.fp16))
    if "tensorrt-native" in out["runtimes"] and "error" not in out["runtimes"]["tensorrt-native"]:
        # Second start must reuse the cached engine.
        check("tensorrt-native-cached", lambda: TensorRTClassifier(DEFAULT_ONNX, cache / "native", fp16=args.fp16))
    if out.get("torch_cuda"):
        def torch_cuda():
            import torch

            class _Cuda:
                providers = ["torch-cuda"]
                model = ref.model.to("cuda")

                def predict(self, p, e):
                    with torch.no_grad():
                        lo, fe = self.model(torch.from_numpy(p).cuda(), torch.from_numpy(e).cuda())
                    return lo.cpu().numpy(), fe.cpu().numpy()
            return _Cuda()
        check("torch-cuda", torch_cuda)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
