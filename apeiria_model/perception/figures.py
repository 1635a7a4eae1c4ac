"""Pictures for docs/perception.md: one rendered frame with its segments, and the
perceived map drawn over the ground truth from above.

    .venv/bin/python -m apeiria_model.perception.figures --out docs/images --room 1001
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _palette(n: int) -> np.ndarray:
    return np.random.default_rng(7).integers(60, 255, (max(n, 1), 3)).astype(np.uint8)


def frame_figure(frame, segments, path: Path) -> Path:
    """colour | depth | segments (learned labels written on them when present)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = frame.depth.shape
    seg_img = np.zeros((h, w, 3), np.uint8)
    pal = _palette(len(segments))
    for k, s in enumerate(segments):
        r, c = s.pixels[:, 0], s.pixels[:, 1]
        for dr in range(4):  # segments live on a stride-4 grid: paint the blocks
            for dc in range(4):
                seg_img[np.clip(r + dr, 0, h - 1), np.clip(c + dc, 0, w - 1)] = pal[k]
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.6), dpi=80)
    axes[0].imshow(frame.color)
    axes[0].set_title("simulated colour")
    d = np.where(frame.depth > 0, frame.depth, np.nan)
    axes[1].imshow(d, cmap="viridis")
    axes[1].set_title("depth (m), noise + dropouts")
    axes[2].imshow(seg_img)
    axes[2].set_title(f"{len(segments)} segments" + (" + labels" if any(s.label for s in segments) else ""))
    for s in segments:
        if s.label:
            r, c = np.median(s.pixels, axis=0)
            axes[2].text(c, r, s.label, fontsize=7, color="white", ha="center",
                         bbox=dict(facecolor="black", alpha=0.5, pad=1, lw=0))
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def make_figures(out_dir: str | Path, room_seed: int = 1001, n_frames: int = 30, segmenter: str = "learned") -> dict:
    from apeiria_model.data.rooms import generate_room
    from apeiria_model.perception.evaluate import run_sweep
    from apeiria_model.perception.frame import CameraIntrinsics
    from apeiria_model.perception.pipeline import PerceptionConfig, PerceptionPipeline
    from apeiria_model.perception.projection import validate_frame
    from apeiria_model.perception.sim.noise import SensorNoise
    from apeiria_model.perception.sim.renderer import SceneRenderer
    from apeiria_model.perception.sim.topdown import draw_topdown
    from apeiria_model.perception.sim.trajectory import sweep

    out = Path(out_dir)
    room = generate_room(np.random.default_rng(room_seed), scene_id=f"room_{room_seed}")
    renderer = SceneRenderer(room.scene, CameraIntrinsics.from_fov(640, 480), SensorNoise(seed=room_seed))
    poses = sweep(room.scene, n_frames, "orbit")
    frames = [renderer.render(p, stamp=i / 15.0, frame_index=i) for i, p in enumerate(poses)]
    cfg = PerceptionConfig.from_yaml(Path(__file__).resolve().parents[2] / "config" / "perception.yaml")
    cfg.segmenter = segmenter
    pipe = PerceptionPipeline(config=cfg)
    scene, summary = run_sweep(pipe, frames, gt=room.scene, scene_id=f"room_{room_seed}_perceived",
                               per_frame=False)
    # The frame picture: the segmenter's view of one frame mid-sweep (walls already known).
    k = n_frames // 3
    probe = PerceptionPipeline(config=cfg)
    for f in frames[:k]:
        probe.segmenter.segment(validate_frame(f))
    f = validate_frame(frames[k])
    frame_png = frame_figure(f, probe.segmenter.segment(f), out / "perception_frame.png")
    map_png = draw_topdown(room.scene, out / "perception_map.png", other_scene=scene, cameras=poses,
                           labels=("ground truth", f"perceived ({segmenter})"),
                           title=f"{room.room_type} (room {room_seed}): {len(scene)} perceived / "
                                 f"{len(room.scene)} true objects, {n_frames} frames")
    return {"frame": str(frame_png), "map": str(map_png), "metrics": summary.get("metrics")}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/images")
    ap.add_argument("--room", type=int, default=1001)
    ap.add_argument("--segmenter", default="learned", choices=("geometric", "learned"))
    a = ap.parse_args()
    print(json.dumps(make_figures(a.out, a.room, segmenter=a.segmenter), indent=1))
