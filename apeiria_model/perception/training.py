"""Train the segment classifier on simulator renders (``apeiria train-perception``).

1. Generate rooms (data.rooms), render camera sweeps (perception.sim), segment every
   frame with the geometric segmenter -- the same segments the classifier will see at
   run time -- and label each segment from the ground-truth instance image: the
   category of the instance covering most of its pixels, "background" when most of
   it is floor / wall, skipped when no label covers ``label_purity`` of it.
2. Train the PointNet-style network (torch, CPU, seeded) with rotation / subset /
   brightness augmentation; rooms are split into train and validation by seed, so the
   validation accuracy is on rooms never seen in training.
3. Save safetensors weights + ONNX export + a JSON report next to them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from apeiria_model.perception.features import segment_tensors
from apeiria_model.perception.segmenters.learned import ASSET_DIR, BACKGROUND


class TrainConfigError(ValueError):
    """Bad train-perception config (names the key)."""


@dataclass
class TrainConfig:
    train_rooms: int = 40            # rooms (seeds 0..n-1 offset by seed) used for training
    val_rooms: int = 8               # further rooms, never trained on, for the reported accuracy
    frames_per_room: int = 12        # frames rendered per room
    trajectories: list[str] = field(default_factory=lambda: ["orbit", "walk"])  # alternated per room
    width: int = 640                 # render size (the segmenter's grid is the same at any size)
    height: int = 480
    noise: bool = True               # simulate sensor noise (SensorNoise defaults)
    label_purity: float = 0.6        # share of a segment one GT label must cover to be its label
    min_points: int = 10             # smaller segments are skipped
    n_points: int = 64               # points per segment fed to the network
    net_width: int = 64              # network width (per-point layers 1x, 2x, 4x)
    feature_dim: int = 64            # object feature size (penultimate layer)
    epochs: int = 45
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    class_weight_power: float = 0.25  # loss weight of a class = count^-power (0 = unweighted)
    seed: int = 0
    threads: int = 2                 # torch CPU threads
    out_dir: str | None = None       # None = apeiria_model/assets/perception
    cache: str | None = None         # npz cache of collected segments (re-training skips rendering)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        import yaml
        try:
            doc = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as e:
            raise TrainConfigError(f"{path}: not valid YAML: {e}") from None
        if not isinstance(doc, dict):
            raise TrainConfigError(f"{path}: must be a mapping")
        known = {f.name: f for f in fields(cls)}
        defaults = cls()
        kw = {}
        for k, v in doc.items():
            if k not in known:
                raise TrainConfigError(f"{path}: unknown key {k!r} (known: {sorted(known)})")
            d = getattr(defaults, k)
            if v is not None and d is not None:
                ok = {bool: lambda x: isinstance(x, bool),
                      int: lambda x: isinstance(x, int) and not isinstance(x, bool),
                      float: lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
                      str: lambda x: isinstance(x, str),
                      list: lambda x: isinstance(x, list) and all(isinstance(i, str) for i in x)}[type(d)](v)
                if not ok:
                    raise TrainConfigError(f"{path}: {k} must be a {type(d).__name__}, got {v!r}")
                if isinstance(d, float):
                    v = float(v)
            kw[k] = v
        cfg = cls(**kw)
        for k in ("train_rooms", "frames_per_room", "epochs", "batch_size", "n_points"):
            if getattr(cfg, k) < 1:
                raise TrainConfigError(f"{path}: {k} must be >= 1")
        return cfg


@dataclass
class SegmentSet:
    points: list[np.ndarray]
    colors: list[np.ndarray]
    labels: list[str]
    rooms: list[int]

    def __len__(self) -> int:
        return len(self.labels)


def label_segment(instance_ids: np.ndarray, pixels: np.ndarray, id_to_label: dict[int, str],
                  purity: float) -> str | None:
    """GT label of a segment from the instance image (see module doc)."""
    ids = instance_ids[pixels[:, 0], pixels[:, 1]]
    labels = np.array([BACKGROUND if i < 0 else id_to_label.get(int(i), BACKGROUND) for i in ids])
    names, counts = np.unique(labels, return_counts=True)
    k = int(np.argmax(counts))
    if counts[k] < purity * len(ids):
        return None
    return str(names[k])


def collect(cfg: TrainConfig, room_seeds: list[int], log: Callable[[str], None] = print) -> SegmentSet:
    """Render + segment + label the given rooms."""
    from apeiria_model.data.rooms import generate_room
    from apeiria_model.perception.frame import CameraIntrinsics
    from apeiria_model.perception.projection import validate_frame
    from apeiria_model.perception.segmenters.geometric import GeometricSegmenter
    from apeiria_model.perception.sim.noise import SensorNoise
    from apeiria_model.perception.sim.renderer import SceneRenderer
    from apeiria_model.perception.sim.trajectory import sweep

    out = SegmentSet([], [], [], [])
    intr = CameraIntrinsics.from_fov(cfg.width, cfg.height)
    for n, seed in enumerate(room_seeds):
        t0 = time.perf_counter()
        room = generate_room(np.random.default_rng(seed), scene_id=f"train_{seed}")
        scene = room.scene
        id_to_label = {o.id: o.label for o in scene.objects}
        renderer = SceneRenderer(scene, intr, SensorNoise(seed=seed) if cfg.noise else None)
        kind = cfg.trajectories[seed % len(cfg.trajectories)]
        segmenter = GeometricSegmenter()
        for i, pose in enumerate(sweep(scene, cfg.frames_per_room, kind)):
            frame = validate_frame(renderer.render(pose, frame_index=i))
            for seg in segmenter.segment(frame):
                if len(seg) < cfg.min_points:
                    continue
                label = label_segment(frame.instance_ids, seg.pixels, id_to_label, cfg.label_purity)
                if label is None:
                    continue
                out.points.append(seg.points.astype(np.float32))
                out.colors.append(seg.colors.astype(np.uint8))
                out.labels.append(label)
                out.rooms.append(seed)
        log(f"room {n + 1}/{len(room_seeds)} (seed {seed}, {room.room_type}): {len(out)} segments so far, "
            f"{time.perf_counter() - t0:.1f} s")
    return out


def _save_cache(path: Path, data: SegmentSet) -> None:
    lens = np.array([len(p) for p in data.points], np.int64)
    np.savez_compressed(path, lens=lens, points=np.concatenate(data.points) if data.points else np.zeros((0, 3)),
                        colors=np.concatenate(data.colors) if data.colors else np.zeros((0, 3), np.uint8),
                        labels=np.array(data.labels), rooms=np.array(data.rooms, np.int64))


def _load_cache(path: Path) -> SegmentSet:
    z = np.load(path, allow_pickle=False)
    splits = np.cumsum(z["lens"])[:-1]
    return SegmentSet(list(np.split(z["points"], splits)), list(np.split(z["colors"], splits)),
                      [str(s) for s in z["labels"]], [int(r) for r in z["rooms"]])


def class_list(labels: list[str]) -> tuple[str, ...]:
    """Every generator category (so the model can name any of them) + background."""
    try:
        from apeiria_model.data.categories import CATEGORIES
        names = set(CATEGORIES)
    except ImportError:  # categories module missing: classes seen in the data
        names = set()
    names |= set(labels)
    names.discard(BACKGROUND)
    return (BACKGROUND,) + tuple(sorted(names))


POOL = 2  # each segment keeps POOL x n_points normalised points; epochs draw n_points of them


def _pool_tensors(data: SegmentSet, idx: np.ndarray, classes: tuple[str, ...], n_points: int,
                  pool: int, seed: int):
    """Normalised inputs computed once: ([B, pool * n_points, 6], [B, 6], [B]). Per-epoch
    augmentation (point subset, rotation, brightness) then runs in torch, not Python."""
    rng = np.random.default_rng(seed)
    m = pool * n_points
    pts = np.empty((len(idx), m, 6), np.float32)
    extra = np.empty((len(idx), 6), np.float32)
    for j, i in enumerate(idx):
        pts[j], extra[j] = segment_tensors(data.points[i], data.colors[i], m, rng if pool > 1 else None)
    lookup = {c: k for k, c in enumerate(classes)}
    y = np.array([lookup[data.labels[i]] for i in idx], np.int64)
    return pts, extra, y


def _augment(pts, n_points: int, gen):
    """Random point subset, rotation about z and brightness scaling (torch tensors)."""
    import torch
    b, m, _ = pts.shape
    sel = torch.argsort(torch.rand(b, m, generator=gen), dim=1)[:, :n_points]
    p = torch.gather(pts, 1, sel[..., None].expand(-1, -1, pts.shape[2])).clone()
    a = torch.rand(b, generator=gen) * (2 * np.pi)
    c, s = torch.cos(a)[:, None], torch.sin(a)[:, None]
    x, y = p[..., 0].clone(), p[..., 1].clone()
    p[..., 0], p[..., 1] = c * x - s * y, s * x + c * y
    scale = 0.8 + 0.4 * torch.rand(b, 1, 1, generator=gen)
    p[..., 3:] = torch.clamp((p[..., 3:] + 0.5) * scale, 0.0, 1.0) - 0.5
    return p


def train(cfg: TrainConfig, log: Callable[[str], None] = print, data: SegmentSet | None = None) -> dict[str, Any]:
    """Collect (or load) data, train, save weights + ONNX + report; returns the report."""
    import torch
    from torch import nn

    from apeiria_model.perception.segmenters.network import NetworkSpec, SegmentClassifier, save_weights
    from apeiria_model.perception.segmenters.onnx_runtime import export_onnx

    t_start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    rng = np.random.default_rng(cfg.seed)
    train_seeds = [cfg.seed * 100_000 + i for i in range(cfg.train_rooms)]
    val_seeds = [cfg.seed * 100_000 + cfg.train_rooms + i for i in range(cfg.val_rooms)]
    if data is None:
        cache = Path(cfg.cache) if cfg.cache else None
        if cache is not None and cache.is_file():
            data = _load_cache(cache)
            log(f"loaded {len(data)} segments from {cache}")
        else:
            data = collect(cfg, train_seeds + val_seeds, log)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                _save_cache(cache, data)
    t_data = time.perf_counter() - t_start
    if len(data) == 0:
        raise RuntimeError("no labelled segments collected: nothing to train on")
    classes = class_list(data.labels)
    rooms = np.array(data.rooms)
    tr_idx = np.flatnonzero(np.isin(rooms, train_seeds))
    va_idx = np.flatnonzero(np.isin(rooms, val_seeds))
    if len(tr_idx) == 0:
        raise RuntimeError("no training segments (all collected rooms are validation rooms)")
    spec = NetworkSpec(classes=classes, n_points=cfg.n_points, width=cfg.net_width, feature_dim=cfg.feature_dim)
    model = SegmentClassifier(spec)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * int(np.ceil(len(tr_idx) / cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(1, steps))
    # Class weights count^-power: 0 = plain frequency-weighted accuracy (what the map's
    # label accuracy measures), 0.5 = rare categories weigh as much as frequent ones.
    counts = np.bincount([classes.index(data.labels[i]) for i in tr_idx], minlength=len(classes)).astype(float)
    weights = np.where(counts > 0, np.maximum(counts, 1) ** -cfg.class_weight_power, 0.0)
    weights = weights / weights[counts > 0].mean()
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32),
                                  label_smoothing=cfg.label_smoothing)
    # Validation uses the deterministic inputs inference uses; training draws from a pool.
    va = _pool_tensors(data, va_idx, classes, cfg.n_points, 1, cfg.seed) if len(va_idx) else None
    tr_pts, tr_extra, tr_y = (torch.from_numpy(a) for a in _pool_tensors(data, tr_idx, classes, cfg.n_points,
                                                                          POOL, cfg.seed))
    gen = torch.Generator().manual_seed(cfg.seed)
    history = []
    for epoch in range(cfg.epochs):
        model.train()
        perm = torch.from_numpy(rng.permutation(len(tr_idx)))
        total, correct, loss_sum = 0, 0, 0.0
        for s in range(0, len(perm), cfg.batch_size):
            b = perm[s:s + cfg.batch_size]
            p = _augment(tr_pts[b], cfg.n_points, gen)
            y = tr_y[b]
            logits, _ = model(p, tr_extra[b])
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(y)
            correct += int((logits.argmax(-1) == y).sum())
            total += len(y)
        entry = {"epoch": epoch + 1, "loss": loss_sum / total, "train_acc": correct / total}
        if va is not None and (epoch % 5 == 4 or epoch == cfg.epochs - 1):
            entry["val_acc"] = _accuracy(model, va)
        history.append(entry)
        log(json.dumps(entry))
    model.eval()
    out_dir = Path(cfg.out_dir) if cfg.out_dir else ASSET_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = out_dir / "segment_classifier.safetensors"
    onnx_path = out_dir / "segment_classifier.onnx"
    save_weights(model, weights_path)
    export_onnx(model, onnx_path)
    report: dict[str, Any] = {
        "config": asdict(cfg), "classes": list(classes), "n_segments": len(data),
        "n_train": int(len(tr_idx)), "n_val": int(len(va_idx)),
        "train_rooms": train_seeds, "val_rooms": val_seeds,
        "label_counts": {str(c): int(n) for c, n in zip(*np.unique(data.labels, return_counts=True))},
        "history": history, "data_seconds": round(t_data, 1),
        "total_seconds": round(time.perf_counter() - t_start, 1),
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    if va is not None:
        report["val_accuracy"] = _accuracy(model, va)
        report["val_accuracy_objects"] = _accuracy(model, va, skip_class=0)
        report["val_confusions"] = _top_confusions(model, va, classes)
    (out_dir / "segment_classifier.json").write_text(json.dumps(report, indent=1))
    from apeiria_model.weights_integrity import write_manifest

    write_manifest(out_dir, ["segment_classifier.json", weights_path.name, onnx_path.name])  # checked at load
    return report


def _predict(model, tensors):
    import torch
    p, e, _ = tensors
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(p[s:s + 512]), torch.from_numpy(e[s:s + 512]))[0]
                               .argmax(-1).numpy() for s in range(0, len(p), 512)])


def _accuracy(model, tensors, skip_class: int | None = None) -> float:
    model.eval()
    pred = _predict(model, tensors)
    y = tensors[2]
    keep = y != skip_class if skip_class is not None else np.ones(len(y), bool)
    return float((pred[keep] == y[keep]).mean()) if keep.any() else float("nan")


def _top_confusions(model, tensors, classes, k: int = 15) -> list[dict]:
    pred = _predict(model, tensors)
    y = tensors[2]
    pairs: dict[tuple[int, int], int] = {}
    for a, b in zip(y, pred):
        if a != b:
            pairs[(int(a), int(b))] = pairs.get((int(a), int(b)), 0) + 1
    top = sorted(pairs.items(), key=lambda kv: -kv[1])[:k]
    return [{"true": classes[a], "pred": classes[b], "count": n} for (a, b), n in top]
