"""Regenerate the simulator pictures in docs/images (``sim_*.png``).

    python -m apeiria_model.perception.sim.docs_images [--out docs/images]

sim_frame.png: colour | depth | instances of the demo office; sim_topdown.png: the same
room from above with the answer to a demo instruction highlighted and the camera that
took sim_frame.png; sim_shapes.png: every category in data.categories as drawn by the
simulator. Deterministic: the same code gives the same pictures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from apeiria_model.perception.frame import CameraIntrinsics
from apeiria_model.perception.sim.camera import look_at_pose
from apeiria_model.perception.sim.renderer import SceneRenderer
from apeiria_model.perception.sim.room import Room
from apeiria_model.scene.io import load_scene
from apeiria_model.scene.model import Scene, SceneObject

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "scenes"
DEMO_SCENE = ASSETS / "demo_office.json"
# "find the mug on the desk closest to the window" -> object 16 (assets/scenes/demo_queries.txt).
DEMO_TARGET, DEMO_QUERY = 16, "the mug on the desk closest to the window"
DEMO_EYE, DEMO_LOOK = (5.0, 0.6, 1.7), (1.5, 3.0, 0.6)


def frame_picture(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import colormaps
    from PIL import Image

    scene = load_scene(DEMO_SCENE)
    f = SceneRenderer(scene).render(look_at_pose(DEMO_EYE, DEMO_LOOK))
    d = f.depth
    valid = d > 0
    norm = np.zeros_like(d)
    norm[valid] = (d[valid] - d[valid].min()) / (np.ptp(d[valid]) + 1e-9)
    depth_rgb = (colormaps["viridis"](norm)[..., :3] * 255).astype(np.uint8)
    depth_rgb[~valid] = 0
    palette = (np.random.default_rng(4).uniform(0.25, 1.0, (max(scene.ids) + 2, 3)) * 255).astype(np.uint8)
    inst_rgb = palette[f.instance_ids + 1]
    inst_rgb[f.instance_ids < 0] = (40, 40, 40)
    tiles = [Image.fromarray(a).resize((480, 360), Image.LANCZOS) for a in (f.color, depth_rgb, inst_rgb)]
    sheet = Image.new("RGB", (480 * 3 + 20, 360), (255, 255, 255))
    for i, t in enumerate(tiles):
        sheet.paste(t, (i * 490, 0))
    sheet.save(out / "sim_frame.png", optimize=True)


def topdown_picture(out: Path) -> None:
    from apeiria_model.perception.sim.topdown import draw_topdown

    scene = load_scene(DEMO_SCENE)
    r = SceneRenderer(scene)
    draw_topdown(scene, out / "sim_topdown.png", highlight_ids=[DEMO_TARGET],
                 cameras=[look_at_pose(DEMO_EYE, DEMO_LOOK)], room=r.room,
                 title=f'{scene.scene_id}: "{DEMO_QUERY}" -> {DEMO_TARGET}', dpi=90)


def shapes_picture(out: Path, tile: tuple[int, int] = (176, 132), cols: int = 10) -> None:
    from PIL import Image, ImageDraw

    from apeiria_model.data.categories import CATEGORIES

    k = CameraIntrinsics.from_fov(tile[0], tile[1], 50.0)
    tiles = []
    for label, cat in CATEGORIES.items():
        size = tuple((a + b) / 2 for a, b in zip(cat.size_min, cat.size_max))
        z = cat.mount_height[0] if cat.mount_height else size[2] / 2
        o = SceneObject(0, label, (0.0, 0.0, z), size, color=cat.colors[0], front=(0.0, -1.0, 0.0))
        r = SceneRenderer(Scene("shape", (o,)), k, room=Room(-3, -3, 3, 3), walls=False)
        ext = max(size)
        eye = np.asarray(o.center) + np.array([0.9, -1.6, 0.9]) * ext * 1.3
        img = Image.fromarray(r.render(look_at_pose(eye, o.center)).color)
        ImageDraw.Draw(img).text((3, 3), label, fill=(0, 0, 0))
        tiles.append(img)
    rows = (len(tiles) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * tile[0], rows * tile[1]), (255, 255, 255))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * tile[0], (i // cols) * tile[1]))
    sheet.save(out / "sim_shapes.png", optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/images", help="output folder (default docs/images)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frame_picture(out)
    topdown_picture(out)
    shapes_picture(out)
    print(f"wrote sim_frame.png, sim_topdown.png, sim_shapes.png to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
