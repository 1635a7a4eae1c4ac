"""`apeiria perceive`: build an object-centric scene from a simulated RGB-D sweep.

    apeiria perceive --scene scene.json --frames 30 --out perceived.json
    apeiria perceive --world world.sdf --segmenter learned --json
    apeiria perceive --room 7 --frames 30 --json        # a generated room (seed 7)

Renders a camera sweep with the simulator, runs the perception pipeline (segment ->
classify -> fuse) frame by frame, and writes the perceived Scene JSON v1 (with
``score`` and ``features``). ``--json`` prints a summary: per-frame timing and, as the
source scene is known, recall / precision at IoU 0.25 / 0.5, label accuracy and ID
stability against it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from apeiria_model.cli.common import die, print_json

MAX_FRAMES = 10_000
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "perception.yaml"


def _frames(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 1 <= v <= MAX_FRAMES:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_FRAMES}, got {v}")
    return v


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 640x480, got {text!r}") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise argparse.ArgumentTypeError(f"width and height must be between 16 and 4096, got {text!r}")
    return w, h


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "perceive", help="perceive a scene from a simulated RGB-D sweep (segment + fuse)",
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--scene", metavar="FILE", help="Scene JSON v1 file to render (objects as category shapes)")
    src.add_argument("--world", metavar="FILE.sdf", help="Gazebo SDF world to render")
    src.add_argument("--room", metavar="SEED", type=int, help="a generated room (apeiria_model.data.rooms) by seed")
    p.add_argument("--model-path", metavar="DIR", action="append", default=[],
                   help="folder holding model folders for model:// URIs in --world (repeatable)")
    p.add_argument("--frames", type=_frames, default=30, help="frames in the sweep (default 30)")
    p.add_argument("--trajectory", choices=("orbit", "walk"), default="orbit", help="camera path (default orbit)")
    p.add_argument("--segmenter", choices=("geometric", "learned"), default=None,
                   help="segmenter (default: the config's, geometric)")
    p.add_argument("--runtime", choices=("onnx", "tensorrt", "torch"), default=None,
                   help="learned segmenter runtime (default: the config's, onnx)")
    p.add_argument("--config", metavar="FILE", default=None, help=f"perception config (default {DEFAULT_CONFIG.name})")
    p.add_argument("--size", type=_size, default=(640, 480), metavar="WxH", help="image size (default 640x480)")
    p.add_argument("--no-noise", action="store_true", help="render without sensor noise")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--out", metavar="FILE", help="write the perceived Scene JSON v1 (with features) here")
    p.add_argument("--save-map", metavar="FILE", help="also save the fused object map (for the ROS node)")
    p.add_argument("--json", action="store_true", help="print a JSON summary (timing, metrics) on stdout")
    p.set_defaults(func=run)


def _load_source(args):
    """(scene, renderer) for --scene / --world / --room; dies with one line on bad input."""
    from apeiria_model.perception.frame import CameraIntrinsics
    from apeiria_model.perception.sim.noise import SensorNoise
    from apeiria_model.perception.sim.renderer import SceneRenderer
    from apeiria_model.perception.sim.sdf import SdfError
    from apeiria_model.scene.io import SceneValidationError, load_scene

    intr = CameraIntrinsics.from_fov(*args.size)
    noise = None if args.no_noise else SensorNoise(seed=args.seed)
    try:
        if args.scene is not None:
            scene = load_scene(args.scene)
            return scene, SceneRenderer(scene, intr, noise)
        if args.world is not None:
            r = SceneRenderer.from_sdf(args.world, intr, noise, search_paths=args.model_path)
            return r.scene, r
        from apeiria_model.data.rooms import generate_room
        if args.room < 0:
            die(f"--room must be >= 0, got {args.room}")
        scene = generate_room(np.random.default_rng(args.room), scene_id=f"room_{args.room}").scene
        return scene, SceneRenderer(scene, intr, noise)
    except FileNotFoundError as e:
        die(f"cannot read {e.filename}: no such file")
    except IsADirectoryError as e:
        die(f"cannot read {e.filename}: is a directory")
    except OSError as e:
        die(f"cannot read {getattr(e, 'filename', '') or 'input'}: {e.strerror or e}")
    except (SceneValidationError, SdfError) as e:
        die(str(e))
    except ValueError as e:
        die(f"cannot render: {e}")


def run(args) -> int:
    from apeiria_model.perception.evaluate import run_sweep
    from apeiria_model.perception.pipeline import ConfigError, PerceptionConfig, PerceptionPipeline
    from apeiria_model.perception.segmenters.onnx_runtime import RuntimeUnavailable
    from apeiria_model.perception.segmenters.tensorrt_engine import TensorRTUnavailable
    from apeiria_model.perception.sim.trajectory import sweep
    from apeiria_model.scene.io import save_scene

    cfg_path = Path(args.config) if args.config else DEFAULT_CONFIG
    try:
        config = PerceptionConfig.from_yaml(cfg_path) if cfg_path.is_file() or args.config else PerceptionConfig()
    except OSError as e:
        die(f"cannot read config {cfg_path}: {e.strerror or e}")
    except ConfigError as e:
        die(str(e))
    if args.segmenter:
        config.segmenter = args.segmenter
    if args.runtime:
        config.learned.runtime = args.runtime
    scene, renderer = _load_source(args)
    if not scene.objects:
        die("the scene has no objects to perceive")
    try:
        pipeline = PerceptionPipeline(config=config)
    except (FileNotFoundError, RuntimeUnavailable, TensorRTUnavailable, ValueError) as e:
        die(f"cannot start the {config.segmenter} segmenter: {e}")
    poses = sweep(scene, args.frames, kind=args.trajectory, room=renderer.room)
    frames = (renderer.render(p, stamp=i / 15.0, frame_index=i) for i, p in enumerate(poses))
    perceived, summary = run_sweep(pipeline, frames, gt=scene, scene_id=f"{scene.scene_id}_perceived")
    if args.out:
        try:
            save_scene(perceived, args.out, with_features=True)
        except OSError as e:
            die(f"cannot write {args.out}: {e.strerror or e}")
        summary["out"] = str(args.out)
    if args.save_map:
        try:
            pipeline.save_map(args.save_map)
        except OSError as e:
            die(f"cannot write {args.save_map}: {e.strerror or e}")
    if args.json:
        print_json(summary)
    else:
        m = summary.get("metrics", {})
        t = summary["timing_ms"].get("total", {})
        print(f"{summary['frames_ok']}/{summary['frames']} frames, {len(perceived)} objects; "
              f"recall@0.25 {m.get('recall@0.25', 0):.2f}, precision@0.25 {m.get('precision@0.25', 0):.2f}; "
              f"p50 {t.get('p50_ms') or 0:.1f} ms/frame" + (f"; wrote {args.out}" if args.out else ""))
    return 0
