"""`apeiria render`: simulated RGB-D frames of a scene or a Gazebo SDF world.

    apeiria render --scene scene.json --frames 30 --trajectory orbit --out frames/
    apeiria render --world world.sdf [--model-path DIR] --frames 10 --noise --out frames/

Writes DIR/frame_XXXX_color.png (RGB), DIR/frame_XXXX_depth.png (16-bit, millimetres,
0 = no depth), DIR/frame_XXXX_instances.png (16-bit, object id + 1, 0 = background),
DIR/poses.json (intrinsics + camera-to-world poses in the optical-frame convention),
DIR/topdown.png (scene + camera path from above) and, for SDF worlds, DIR/scene.json
(the objects read from the world).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from apeiria_model.cli.common import die

MAX_FRAMES = 10_000
MAX_SIDE = 4096


def _positive_int(limit: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not 1 <= v <= limit:
            raise argparse.ArgumentTypeError(f"must be between 1 and {limit}, got {v}")
        return v
    return parse


def _hfov(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of degrees, got {text!r}") from None
    if not 1.0 <= v <= 170.0:
        raise argparse.ArgumentTypeError(f"must be between 1 and 170 degrees, got {v}")
    return v


def _room(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected W,D or W,D,H in metres, got {text!r}") from None
    if len(vals) not in (2, 3) or not all(np.isfinite(v) and v > 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected 2 or 3 positive numbers W,D[,H], got {text!r}")
    return vals


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "render", help="render simulated RGB-D frames of a scene or an SDF world",
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--scene", metavar="FILE", help="Scene JSON v1 file (objects drawn as category shapes)")
    src.add_argument("--world", metavar="FILE", help="Gazebo SDF world (its own meshes)")
    p.add_argument("--model-path", metavar="DIR", action="append", default=[],
                   help="folder holding model folders for model:// URIs (repeatable; GZ_SIM_RESOURCE_PATH "
                        "and GAZEBO_MODEL_PATH are searched too)")
    p.add_argument("--frames", type=_positive_int(MAX_FRAMES), default=30, help="number of frames (default 30)")
    p.add_argument("--trajectory", choices=("orbit", "walk"), default="orbit", help="camera path (default orbit)")
    p.add_argument("--width", type=_positive_int(MAX_SIDE), default=640, help="image width (default 640)")
    p.add_argument("--height", type=_positive_int(MAX_SIDE), default=480, help="image height (default 480)")
    p.add_argument("--hfov", type=_hfov, default=69.0, help="horizontal field of view, degrees (default 69)")
    p.add_argument("--eye-height", type=float, default=1.5, help="camera height above the floor, m (default 1.5)")
    p.add_argument("--room", type=_room, metavar="W,D[,H]",
                   help="room size when known (spans [0,W] x [0,D], like generated scenes); default: inferred")
    p.add_argument("--max-range", type=float, default=10.0, help="depth beyond this reads 0, m (default 10)")
    p.add_argument("--no-walls", action="store_true", help="floor only, no walls")
    p.add_argument("--noise", action="store_true", help="add depth-camera noise (range noise, dropouts, blur)")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--out", metavar="DIR", required=True, help="output folder (created)")
    p.set_defaults(func=run)


def _write_png(path: Path, array: np.ndarray) -> None:
    """RGB uint8 or single-channel uint16 (Pillow stores the latter as 16-bit greyscale)."""
    from PIL import Image

    Image.fromarray(array).save(path)


def run(args) -> int:
    from apeiria_model.perception.frame import CameraIntrinsics
    from apeiria_model.perception.sim import Room, SceneRenderer, SensorNoise, sweep
    from apeiria_model.perception.sim.sdf import SdfError
    from apeiria_model.perception.sim.topdown import draw_topdown
    from apeiria_model.scene.io import SceneValidationError, load_scene, save_scene

    if not np.isfinite(args.eye_height) or not 0.05 <= args.eye_height <= 10:
        die(f"--eye-height must be between 0.05 and 10 m, got {args.eye_height}")
    if not np.isfinite(args.max_range) or not 0.1 <= args.max_range <= 65.0:
        die(f"--max-range must be between 0.1 and 65 m (16-bit millimetre depth), got {args.max_range}")
    if args.seed < 0:
        die(f"--seed must be >= 0, got {args.seed}")
    intr = CameraIntrinsics.from_fov(args.width, args.height, args.hfov)
    noise = SensorNoise(seed=args.seed) if args.noise else None
    room_arg = True
    if args.room is not None:
        room_arg = Room.from_size(*args.room) if len(args.room) == 3 else Room.from_size(args.room[0], args.room[1])
    try:
        if args.scene is not None:
            scene = load_scene(args.scene)
            renderer = SceneRenderer(scene, intr, noise, room=room_arg, walls=not args.no_walls,
                                     max_range=args.max_range)
            source = {"scene": str(args.scene)}
        else:
            renderer = SceneRenderer.from_sdf(args.world, intr, noise, search_paths=args.model_path,
                                              max_range=args.max_range)
            scene = renderer.scene
            if args.room is not None:
                renderer = SceneRenderer(scene, intr, noise, meshes=[m for m in renderer.meshes if m.instance_id >= 0],
                                         room=room_arg, walls=not args.no_walls, max_range=args.max_range)
            source = {"world": str(args.world)}
    except FileNotFoundError as e:
        die(f"cannot read {e.filename}: no such file")
    except IsADirectoryError as e:
        die(f"cannot read {e.filename}: is a directory")
    except OSError as e:
        die(f"cannot read {getattr(e, 'filename', '') or 'input'}: {e.strerror or e}")
    except (SceneValidationError, SdfError) as e:
        die(str(e))
    except ValueError as e:  # e.g. an object box the shapes cannot use
        die(f"cannot render: {e}")

    if scene.objects and max(scene.ids) >= 65535:
        die(f"object ids must be < 65535 to fit the 16-bit instance images (max id {max(scene.ids)})")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        die(f"cannot create {out}: {e.strerror or e}")

    poses = sweep(scene, args.frames, kind=args.trajectory, height=args.eye_height, room=renderer.room)
    frames_doc = []
    for i, pose in enumerate(poses):
        frame = renderer.render(pose, stamp=i / 15.0, frame_index=i)
        stem = f"frame_{i:04d}"
        depth_mm = np.clip(np.rint(frame.depth * 1000.0), 0, 65535).astype(np.uint16)
        inst = (frame.instance_ids.astype(np.int64) + 1).astype(np.uint16)
        try:
            _write_png(out / f"{stem}_color.png", frame.color)
            _write_png(out / f"{stem}_depth.png", depth_mm)
            _write_png(out / f"{stem}_instances.png", inst)
        except OSError as e:
            die(f"cannot write to {out}: {e.strerror or e}")
        frames_doc.append({
            "index": i, "stamp": frame.stamp,
            "color": f"{stem}_color.png", "depth": f"{stem}_depth.png", "instances": f"{stem}_instances.png",
            "camera_to_world": [[round(float(v), 6) for v in row] for row in pose],
            "visible_ids": sorted(int(v) for v in np.unique(frame.instance_ids) if v >= 0),
        })
    doc = {
        "format": "apeiria-render-v1",
        **source,
        "scene_id": scene.scene_id,
        "frame_id": scene.frame_id,
        "optical_frame": "x right, y down, z forward; camera_to_world maps optical-frame points to the map frame",
        "intrinsics": {"width": intr.width, "height": intr.height, "fx": intr.fx, "fy": intr.fy,
                       "cx": intr.cx, "cy": intr.cy},
        "depth_scale": 0.001,
        "depth_encoding": "uint16 PNG, millimetres of z-depth, 0 = no depth",
        "instances_encoding": "uint16 PNG, object id + 1, 0 = background (floor, walls, nothing)",
        "trajectory": args.trajectory,
        "noise": None if noise is None else {k: getattr(noise, k) for k in noise.__dataclass_fields__},
        "room": {"xmin": renderer.room.xmin, "ymin": renderer.room.ymin, "xmax": renderer.room.xmax,
                 "ymax": renderer.room.ymax, "floor_z": renderer.room.floor_z} if renderer.room else None,
        "frames": frames_doc,
    }
    try:
        (out / "poses.json").write_text(json.dumps(doc, indent=1))
        if args.world is not None:
            save_scene(scene, out / "scene.json")
        draw_topdown(scene, out / "topdown.png", cameras=poses, room=renderer.room or False,
                     title=f"{scene.scene_id}: {len(scene)} objects, {len(poses)} {args.trajectory} frames")
    except OSError as e:
        die(f"cannot write to {out}: {e.strerror or e}")
    print(f"wrote {len(poses)} frames of {scene.scene_id} ({len(scene)} objects) to {out}")
    return 0
