"""Streaming perception: RGB-D frames in, a persistent object-centric Scene out.

    pipeline = PerceptionPipeline.from_yaml("config/perception.yaml")
    for frame in frames:
        report = pipeline.process(frame)     # never raises on a bad frame
    scene = pipeline.scene("kitchen")        # Scene JSON v1 objects, score + features

Per frame: validate (projection.validate_frame) -> segment (geometric or learned) ->
fuse into the ObjectMap. Bad frames (NaN pose, wrong sizes, no depth) come back as a
FrameReport with ``error`` set; the map is untouched.
"""

from __future__ import annotations

import collections
import math
import time
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Callable

from apeiria_model.perception.frame import RGBDFrame
from apeiria_model.perception.object_map import MapConfig, ObjectMap
from apeiria_model.perception.projection import (DEFAULT_MAX_DEPTH, DEFAULT_MIN_DEPTH, DEFAULT_WORKSPACE, FrameError,
                                                 validate_frame)
from apeiria_model.perception.segment import Segmenter
from apeiria_model.perception.segmenters.geometric import GeometricConfig, GeometricSegmenter
from apeiria_model.scene.model import Scene

SEGMENTERS = ("geometric", "learned")
REPORT_HISTORY = 1000  # per-frame reports kept by PerceptionPipeline.reports


class ConfigError(ValueError):
    """A perception config file with an unknown key or a bad value (names the key)."""


@dataclass
class LearnedConfig:
    runtime: str = "onnx"                 # onnx | tensorrt | torch
    weights: str | None = None            # safetensors (torch runtime); None = shipped asset
    onnx: str | None = None               # ONNX file (onnx / tensorrt); None = shipped asset
    providers: list[str] | None = None    # ONNX Runtime providers in order; None = TensorRT, CUDA, CPU
    trt_cache_dir: str | None = None      # engine cache; None = ~/.cache/apeiria/tensorrt
    fp16: bool = False                    # TensorRT half precision
    drop_background: float = 0.5          # drop segments classified background at this confidence
    split_overlap: float = 0.0            # split a segment at its proposed seams into groups of parts whose class
                                          # distributions overlap less than this (Bhattacharyya; 0 = off)


@dataclass
class PerceptionConfig:
    segmenter: str = "geometric"
    min_depth: float = DEFAULT_MIN_DEPTH
    max_depth: float = DEFAULT_MAX_DEPTH
    # camera positions beyond +-workspace m (any axis) are a broken pose: frame refused
    workspace: float = DEFAULT_WORKSPACE
    geometric: GeometricConfig = field(default_factory=GeometricConfig)
    learned: LearnedConfig = field(default_factory=LearnedConfig)
    map: MapConfig = field(default_factory=MapConfig)

    @classmethod
    def from_dict(cls, doc: Any) -> "PerceptionConfig":
        if doc is None:
            return cls()
        return _build(cls, doc, "")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "PerceptionConfig":
        import yaml
        try:
            doc = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        try:
            return cls.from_dict(doc)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _share(v: float) -> bool:
    return 0 <= v <= 1


def _non_negative(v: float) -> bool:
    return math.isfinite(v) and v >= 0


# Range checks after type checks: (key, test, what it must be), per config section.
_LIMITS: dict[type, tuple[tuple[str, Callable[[Any], bool], str], ...]] = {
    MapConfig: (
        ("voxel_size", lambda v: v > 0, "> 0"),
        ("small_part_ratio", _share, "in [0, 1]"),
        ("contained_shared", _share, "in [0, 1]"),
        ("on_top_quantile", lambda v: 0 < v <= 1, "in (0, 1]"),
        ("exclusive_share", _share, "in [0, 1]"),
        ("contained_min_thickness", _non_negative, "a finite number >= 0"),
        ("single_view_min_area", _non_negative, "a finite number >= 0"),
        ("single_view_max_thickness", _non_negative, "a finite number >= 0"),
        ("publish_merge_flat_gap", lambda v: v < 0 or math.isfinite(v), "a finite number (< 0 = off)"),
        ("color_gain", lambda v: math.isfinite(v) and v > 0, "a finite number > 0"),
        ("carve_keep", lambda v: 0 <= v < 1, "in [0, 1)"),
        ("split_min_views", lambda v: v >= 0, ">= 0 (0 = off)"),
        ("split_min_share", _share, "in [0, 1]"),
        ("split_history", lambda v: v >= 1, ">= 1"),
        ("split_min_voxels", lambda v: v >= 1, ">= 1"),
    ),
    GeometricConfig: (
        ("wall_hung_merge_depth", lambda v: v >= 0, ">= 0 (.inf = no limit)"),
        ("part_brightness_break", lambda v: v >= 1, ">= 1 (.inf = off)"),
        ("part_min_pixels", lambda v: v >= 1, ">= 1"),
        ("grid_width", lambda v: v >= 8, ">= 8"),
    ),
    LearnedConfig: (
        ("split_overlap", _share, "in [0, 1] (0 = off)"),
    ),
}


def _build(cls, doc: Any, prefix: str):
    if not isinstance(doc, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping, got {type(doc).__name__}")
    kinds = {f.name: f for f in fields(cls)}
    defaults = cls()
    kw = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if key not in kinds:
            raise ConfigError(f"unknown key {path!r} (known: {sorted(kinds)})")
        default = getattr(defaults, key)
        if is_dataclass(default):
            kw[key] = _build(type(default), value or {}, path + ".")
            continue
        if value is None or default is None:
            kw[key] = value
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{path} must be true or false, got {value!r}")
            kw[key] = value
        elif isinstance(default, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{path} must be a number, got {value!r}")
            if isinstance(default, int) and not isinstance(value, int):
                raise ConfigError(f"{path} must be an integer, got {value!r}")
            kw[key] = type(default)(value)
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise ConfigError(f"{path} must be a string, got {value!r}")
            kw[key] = value
        else:
            kw[key] = value
    obj = cls(**kw)
    if cls is PerceptionConfig:
        if obj.segmenter not in SEGMENTERS:
            raise ConfigError(f"segmenter must be one of {SEGMENTERS}, got {obj.segmenter!r}")
        if not (0 <= obj.min_depth < obj.max_depth):
            raise ConfigError(f"need 0 <= min_depth < max_depth, got {obj.min_depth}, {obj.max_depth}")
        if not (0 < obj.workspace <= 50_000):  # poses beyond it + max_depth must stay valid Scene coordinates
            raise ConfigError(f"workspace must be in (0, 50000] m, got {obj.workspace!r}")
    for key, ok, rule in _LIMITS.get(cls, ()):
        value = getattr(obj, key)
        if not ok(value):  # every rule is a comparison, so NaN fails it
            raise ConfigError(f"{prefix}{key} must be {rule}, got {value!r}")
    return obj


@dataclass
class FrameReport:
    frame_index: int
    ok: bool
    error: str | None = None
    segments: int = 0
    objects: int = 0            # objects in the map (published or not)
    published: int = 0          # objects in scene()
    created: int = 0
    merged: int = 0
    removed: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_segmenter(config: PerceptionConfig) -> Segmenter:
    geo = GeometricSegmenter(config.geometric)
    if config.segmenter == "geometric":
        return geo
    from apeiria_model.perception.segmenters.learned import LearnedSegmenter, load_classifier
    lc = config.learned
    clf = load_classifier(lc.runtime, lc.weights, lc.onnx, lc.providers, lc.trt_cache_dir, lc.fp16)
    return LearnedSegmenter(clf, geo, drop_background=lc.drop_background, floor_height=config.map.floor_height,
                            split_overlap=lc.split_overlap)


class PerceptionPipeline:
    def __init__(self, segmenter: Segmenter | str | None = None, config: PerceptionConfig | None = None):
        self.config = config or PerceptionConfig()
        if isinstance(segmenter, str):
            if segmenter not in SEGMENTERS:
                raise ConfigError(f"segmenter must be one of {SEGMENTERS}, got {segmenter!r}")
            self.config.segmenter = segmenter
            segmenter = None
        self.segmenter = segmenter if segmenter is not None else build_segmenter(self.config)
        self.map = ObjectMap(self.config.map)
        self.frames = 0
        self.frames_rejected = 0  # frames validate_frame refused (bad pose, intrinsics, images)
        # The last REPORT_HISTORY frames only: a node runs for hours at 15 Hz.
        self.reports: collections.deque[FrameReport] = collections.deque(maxlen=REPORT_HISTORY)

    @classmethod
    def from_yaml(cls, path: str | Path, segmenter: str | None = None) -> "PerceptionPipeline":
        return cls(segmenter, PerceptionConfig.from_yaml(path))

    def process(self, frame: RGBDFrame) -> FrameReport:
        """Fuse one frame. Never raises for bad input: the report carries the error."""
        self.frames += 1
        rep = FrameReport(frame_index=self.frames, ok=False)
        t0 = time.perf_counter()
        try:
            f = validate_frame(frame, self.config.min_depth, self.config.max_depth, self.config.workspace)
        except FrameError as e:  # the map is never touched by a rejected frame
            self.frames_rejected += 1
            rep.error = str(e)
            rep.objects = len(self.map)
            rep.timings_ms["total"] = (time.perf_counter() - t0) * 1e3
            self.reports.append(rep)
            return rep
        t1 = time.perf_counter()
        try:
            segments = self.segmenter.segment(f)
        except Exception as e:  # noqa: BLE001 - a segmenter bug on one frame must not stop a node's stream
            rep.error = f"segmentation failed: {type(e).__name__}: {e}"
            rep.objects = len(self.map)
            rep.timings_ms["total"] = (time.perf_counter() - t0) * 1e3
            self.reports.append(rep)
            return rep
        t2 = time.perf_counter()
        stats = self.map.update(segments, f)
        t3 = time.perf_counter()
        rep.ok = True
        rep.segments = len(segments)
        rep.objects = len(self.map)
        rep.published = len(self.map.published())
        rep.created, rep.merged, rep.removed = stats.created, stats.merged, stats.removed
        rep.timings_ms = {"validate": (t1 - t0) * 1e3, "segment": (t2 - t1) * 1e3,
                          "fuse": (t3 - t2) * 1e3, "total": (t3 - t0) * 1e3}
        for k, v in getattr(self.segmenter, "last_timings", {}).items():
            rep.timings_ms[f"segment.{k}"] = v
        self.reports.append(rep)
        return rep

    def scene(self, scene_id: str = "perceived", frame_id: str = "map") -> Scene:
        """The map as a Scene that passes the Scene rules (scene/io.py): an object that
        would break them (it cannot, from validated frames) is left out, not published."""
        from apeiria_model.scene.io import SceneValidationError, object_from_dict, validate_scene

        scene = self.map.to_scene(scene_id, frame_id)
        try:
            return validate_scene(scene)
        except SceneValidationError:
            keep = []
            for o in scene.objects:
                try:
                    object_from_dict({"id": o.id, "label": o.label, "center": o.center, "size": o.size,
                                      "color": o.color, "attributes": o.attributes, "front": o.front,
                                      "score": o.score, "features": o.features})
                except SceneValidationError:
                    continue
                keep.append(o)
            return validate_scene(scene.with_objects(keep))

    def reset(self) -> None:
        """Forget everything (a new environment): map, remembered walls, reports."""
        self.map = ObjectMap(self.config.map)
        base = getattr(self.segmenter, "base", self.segmenter)
        if hasattr(base, "reset"):
            base.reset()
        self.frames = 0
        self.frames_rejected = 0
        self.reports.clear()

    def save_map(self, path: str | Path) -> None:
        self.map.save(path)

    def load_map(self, path: str | Path) -> None:
        self.map = ObjectMap.load(path)
