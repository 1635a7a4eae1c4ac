"""Classifier runtimes: ONNX export == PyTorch, provider order, TensorRT engine cache
(TensorRT itself faked: it cannot be installed here), the shipped model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from apeiria_model.perception.features import batch_tensors, segment_tensors
from apeiria_model.perception.segment import Segment
from apeiria_model.perception.segmenters.learned import (BACKGROUND, DEFAULT_ONNX, DEFAULT_WEIGHTS, LearnedSegmenter,
                                                         TorchClassifier, load_classifier)
from apeiria_model.perception.segmenters.network import NetworkSpec, SegmentClassifier, load_weights, save_weights
from apeiria_model.perception.segmenters.onnx_runtime import (OnnxClassifier, RuntimeUnavailable, choose_providers,
                                                              export_onnx, onnx_spec)
from apeiria_model.perception.segmenters.tensorrt_engine import (EngineCache, NativeTrtBackend, TensorRTClassifier,
                                                                 TensorRTUnavailable)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    torch.manual_seed(0)
    model = SegmentClassifier(NetworkSpec(classes=(BACKGROUND, "chair", "mug"), n_points=32, width=16,
                                          feature_dim=8)).eval()
    d = tmp_path_factory.mktemp("model")
    save_weights(model, d / "m.safetensors")
    export_onnx(model, d / "m.onnx")
    return model, d


def _inputs(spec, batch, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, spec.n_points, spec.point_dim)).astype(np.float32),
            rng.standard_normal((batch, spec.extra_dim)).astype(np.float32))


@pytest.mark.kernels  # ONNX Runtime vs PyTorch to 1e-4
def test_onnx_runtime_cpu_matches_pytorch(small_model):
    model, d = small_model
    clf = OnnxClassifier(d / "m.onnx", providers=["CPUExecutionProvider"])
    assert clf.classes == model.spec.classes and clf.providers == ["CPUExecutionProvider"]
    for batch in (1, 7):  # dynamic batch axis
        pts, extra = _inputs(model.spec, batch, seed=batch)
        logits, feats = clf.predict(pts, extra)
        with torch.no_grad():
            ref_l, ref_f = model(torch.from_numpy(pts), torch.from_numpy(extra))
        assert np.abs(logits - ref_l.numpy()).max() < 1e-4
        assert np.abs(feats - ref_f.numpy()).max() < 1e-4
    empty_l, empty_f = clf.predict(*_inputs(model.spec, 0))
    assert empty_l.shape == (0, 3) and empty_f.shape == (0, 8)


def test_safetensors_round_trip_and_spec_in_onnx(small_model):
    model, d = small_model
    again = load_weights(d / "m.safetensors")
    assert again.spec == model.spec and onnx_spec(d / "m.onnx") == model.spec
    pts, extra = _inputs(model.spec, 3)
    with torch.no_grad():
        assert torch.equal(again(torch.from_numpy(pts), torch.from_numpy(extra))[0],
                           model(torch.from_numpy(pts), torch.from_numpy(extra))[0])


def test_provider_order_tensorrt_cuda_cpu():
    all3 = ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"]
    assert choose_providers(available=all3) == ["TensorrtExecutionProvider", "CUDAExecutionProvider",
                                                "CPUExecutionProvider"]
    assert choose_providers(available=["CPUExecutionProvider", "CUDAExecutionProvider"]) == [
        "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(["CUDAExecutionProvider"], available=all3) == ["CUDAExecutionProvider",
                                                                            "CPUExecutionProvider"]
    assert choose_providers(available=["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(RuntimeUnavailable, match="unknown execution provider"):
        choose_providers(["cuda"], available=all3)
    with pytest.raises(RuntimeUnavailable, match="none of"):
        choose_providers(["CUDAExecutionProvider"], available=["AzureExecutionProvider"])


class FakeTrt:
    """Stands in for TensorRT: records builds, 'engines' are bytes naming what built them."""

    def __init__(self, gpu="NVIDIA H100 80GB HBM3", version="10.3.0"):
        self.gpu, self.ver, self.builds = gpu, version, []

    def gpu_name(self):
        return self.gpu

    def version(self):
        return self.ver

    def build(self, onnx_bytes, fp16, max_batch, n_points, point_dim, extra_dim):
        self.builds.append((len(onnx_bytes), fp16, max_batch, n_points))
        return json.dumps({"gpu": self.gpu, "trt": self.ver, "fp16": fp16, "n": len(self.builds)}).encode()

    def load(self, engine_bytes):
        return json.loads(engine_bytes)


def test_engine_cache_reuses_and_rebuilds_on_gpu_version_or_onnx_change(small_model, tmp_path):
    _, d = small_model
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes((d / "m.onnx").read_bytes())
    fake = FakeTrt()
    cache = EngineCache(tmp_path / "cache", fake)
    e1, rebuilt1, k1 = cache.get(onnx_path)
    e2, rebuilt2, _ = cache.get(onnx_path)
    assert rebuilt1 and not rebuilt2 and e1 == e2 and len(fake.builds) == 1
    assert fake.builds[0][3] == 32  # the profile uses the model's point count
    fake.gpu = "NVIDIA A10G"  # another GPU: its own engine
    _, rebuilt, k2 = cache.get(onnx_path)
    assert rebuilt and k2.filename() != k1.filename() and len(fake.builds) == 2
    fake.gpu, fake.ver = "NVIDIA H100 80GB HBM3", "10.4.1"  # TensorRT upgrade
    assert cache.get(onnx_path)[1] and len(fake.builds) == 3
    fake.ver = "10.3.0"
    assert not cache.get(onnx_path)[1]  # the original engine is still cached
    assert cache.get(onnx_path, fp16=True)[1]  # precision is part of the key
    import onnx
    proto = onnx.load(str(onnx_path))  # a retrained / re-exported model: different bytes
    proto.doc_string = "retrained"
    onnx.save_model(proto, str(onnx_path))
    assert cache.get(onnx_path)[1] and len(fake.builds) == 5


def test_engine_cache_rebuilds_when_sidecar_is_corrupt(small_model, tmp_path):
    _, d = small_model
    fake = FakeTrt()
    cache = EngineCache(tmp_path, fake)
    _, _, key = cache.get(d / "m.onnx")
    (tmp_path / key.filename()).with_suffix(".json").write_text("{broken")
    assert cache.get(d / "m.onnx")[1] and len(fake.builds) == 2


def test_native_tensorrt_reports_unavailable_cleanly():
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(TensorRTUnavailable, match="TensorRT not available"):
            NativeTrtBackend()
    else:  # pragma: no cover - only on a machine with TensorRT
        pytest.skip("tensorrt is installed here")


def test_tensorrt_classifier_uses_the_cache(small_model, tmp_path):
    _, d = small_model

    class Engine(dict):
        def create_execution_context(self):
            return "ctx"

    class FakeWithEngine(FakeTrt):
        def load(self, engine_bytes):
            return Engine(json.loads(engine_bytes))

    fake = FakeWithEngine()
    clf = TensorRTClassifier(d / "m.onnx", tmp_path, fp16=True, backend=fake)
    assert clf.rebuilt and clf.engine["fp16"] is True and clf.classes == (BACKGROUND, "chair", "mug")
    again = TensorRTClassifier(d / "m.onnx", tmp_path, fp16=True, backend=fake)
    assert not again.rebuilt and len(fake.builds) == 1


def test_unknown_runtime_is_rejected():
    with pytest.raises(ValueError, match="unknown runtime"):
        load_classifier("openvino")


def test_segment_tensors_are_deterministic_and_normalised():
    pts = np.random.default_rng(0).uniform(0, 1, (500, 3))
    cols = np.full((500, 3), 255, np.uint8)
    a, ea = segment_tensors(pts, cols)
    b, eb = segment_tensors(pts, cols)
    assert np.array_equal(a, b) and np.array_equal(ea, eb)
    assert np.abs(a[:, :3]).max() <= 1.0 + 1e-6 and np.allclose(a[:, 3:], 0.5)
    small, _ = segment_tensors(pts[:3], cols[:3])  # fewer points than the network wants: repeated
    assert small.shape == (128, 6)
    with pytest.raises(ValueError, match="no points"):
        segment_tensors(np.zeros((0, 3)), np.zeros((0, 3)))


@pytest.mark.kernels  # ONNX Runtime vs PyTorch to 1e-4
def test_shipped_model_loads_and_onnx_matches_torch():
    assert DEFAULT_WEIGHTS.stat().st_size < 5_000_000 and DEFAULT_ONNX.stat().st_size < 5_000_000
    ref = TorchClassifier(DEFAULT_WEIGHTS)
    ort_clf = load_classifier("onnx", providers=["CPUExecutionProvider"])
    assert ref.classes == ort_clf.classes and ref.classes[0] == BACKGROUND and "chair" in ref.classes
    rng = np.random.default_rng(3)
    segs = [Segment(np.zeros((n, 2), int), rng.uniform(0, 0.5, (n, 3)), rng.integers(0, 255, (n, 3)).astype(np.uint8))
            for n in (20, 300)]
    pts, extra = batch_tensors(segs, ref.spec.n_points)
    l1, f1 = ref.predict(pts, extra)
    l2, f2 = ort_clf.predict(pts, extra)
    assert np.abs(l1 - l2).max() < 1e-4 and np.abs(f1 - f2).max() < 1e-4
    out = LearnedSegmenter(ref).classify(segs)
    for s in out:
        assert s.label in ref.classes and s.label != BACKGROUND and 0 < s.confidence <= 1
        assert s.features.shape == (ref.spec.feature_dim,)


def test_gpu_check_script_runs_on_cpu(capsys, tmp_path):
    from apeiria_model.perception.segmenters import gpu_check
    assert gpu_check.main(["--batch", "4", "--repeats", "2", "--cache-dir", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "CPUExecutionProvider" in out["available_providers"]
    assert out["runtimes"]["ort-cpu"]["max_abs_diff_logits"] < 1e-4
    if not out.get("torch_cuda"):
        assert "TensorRT not available" in out["runtimes"]["tensorrt-native"]["error"]
