"""Top-down pictures of a scene: footprints, labels, ids, targets, cameras.

Meant for people: equal aspect, a metre grid, a legend. Optionally a second scene is
overlaid dashed (e.g. the perceived map over the ground truth) and camera poses are
drawn as small view cones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")  # headless; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Circle, Patch, Polygon, Rectangle  # noqa: E402

from apeiria_model.perception.sim.room import Room, infer_room  # noqa: E402
from apeiria_model.perception.sim.shapes import object_albedo  # noqa: E402
from apeiria_model.scene.model import Scene, SceneObject  # noqa: E402

HIGHLIGHT = "#e6194b"
OTHER = "#1f5fd6"
MAX_LABELS = 400


def _label_text(o: SceneObject) -> str:
    return f"{o.id}: {o.describe()}"


def _place_labels(ax, objs: Sequence[SceneObject], highlight: set[int], fontsize: float) -> None:
    """Put each label at its footprint centre, nudging it down/up if it would overlap one
    already placed (small objects on a desk otherwise print on top of each other)."""
    placed: list[tuple[float, float, float, float]] = []
    # Big objects first so small ones move, and each label's box is estimated in data units.
    fig = ax.figure
    fig.canvas.draw()
    inv = ax.transData.inverted()
    char_w_px = fontsize * 0.6 * fig.dpi / 72
    line_h_px = fontsize * 1.35 * fig.dpi / 72
    origin = inv.transform((0, 0))
    char_w = abs(inv.transform((char_w_px, 0))[0] - origin[0])
    line_h = abs(inv.transform((0, line_h_px))[1] - origin[1])
    for o in sorted(objs, key=lambda o: -o.size[0] * o.size[1]):
        text = _label_text(o)
        w = char_w * len(text) + 0.5 * char_w
        h = line_h
        cx, cy = o.center[0], o.center[1]
        best = None
        for k in range(0, 24):
            dy = (k + 1) // 2 * h * (1 if k % 2 else -1)
            box = (cx - w / 2, cy + dy - h / 2, cx + w / 2, cy + dy + h / 2)
            overlap = sum(max(0.0, min(box[2], b[2]) - max(box[0], b[0]))
                          * max(0.0, min(box[3], b[3]) - max(box[1], b[1]))
                          for b in placed)
            if overlap == 0.0:
                best = (dy, box)
                break
            if best is None or overlap < best[2]:
                best = (dy, box, overlap)
        dy, box = best[0], best[1]
        placed.append(box)
        strong = o.id in highlight
        ax.annotate(text, (cx, cy + dy), ha="center", va="center", fontsize=fontsize,
                    fontweight="bold" if strong else "normal", color=HIGHLIGHT if strong else "#222222",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec=HIGHLIGHT if strong else "none",
                              alpha=0.8, lw=1.0), zorder=6)
        if dy != 0:
            ax.plot([cx, cx], [cy, cy + dy], color="#555555", lw=0.5, zorder=5)


def draw_topdown(scene: Scene, path_png: str | os.PathLike, highlight_ids: Iterable[int] = (),
                 title: str | None = None, other_scene: Scene | None = None,
                 cameras: Sequence[np.ndarray] | None = None, room: Room | None | bool = True,
                 labels: tuple[str, str] = ("ground truth", "other"), dpi: int = 110) -> Path:
    """Write a PNG of the scene seen from above; returns the path.

    highlight_ids: targets drawn in a strong colour. other_scene: overlaid with dashed
    outlines (legend name ``labels[1]``). cameras: camera-to-world poses drawn as view
    cones. room: True = the inferred room outline, a Room, or False for none.
    """
    if not isinstance(scene, Scene):
        raise TypeError(f"scene must be a Scene, got {type(scene).__name__}")
    if other_scene is not None and not isinstance(other_scene, Scene):
        raise TypeError(f"other_scene must be a Scene, got {type(other_scene).__name__}")
    highlight = {int(i) for i in highlight_ids}
    unknown = highlight - set(scene.ids) - (set(other_scene.ids) if other_scene is not None else set())
    if unknown:
        raise ValueError(f"highlight ids not in the scene: {sorted(unknown)}")
    path = Path(path_png)
    path.parent.mkdir(parents=True, exist_ok=True)

    rm = infer_room(scene) if room is True else (room if isinstance(room, Room) else None)
    pts = [np.array([[rm.xmin, rm.ymin], [rm.xmax, rm.ymax]])] if rm is not None else []
    for s in (scene, other_scene):
        if s is not None and s.objects:
            lo, hi = s.bounds()
            pts.append(np.array([lo[:2], hi[:2]]))
    if cameras is not None:
        cams = [np.asarray(c, float) for c in cameras]
        if cams:
            pts.append(np.array([c[:2, 3] for c in cams]))
    allp = np.vstack(pts) if pts else np.array([[-1.0, -1.0], [1.0, 1.0]])
    lo, hi = allp.min(axis=0) - 0.4, allp.max(axis=0) + 0.4
    span = np.maximum(hi - lo, 1.0)
    scale = 7.5 / max(span)
    fig, ax = plt.subplots(figsize=(max(4.0, span[0] * scale + 1.5), max(3.5, span[1] * scale + 1.0)), dpi=dpi)
    ax.set_xlim(lo[0], lo[0] + span[0])
    ax.set_ylim(lo[1], lo[1] + span[1])
    ax.set_aspect("equal")
    ax.set_axisbelow(True)
    ax.grid(True, color="#dddddd", lw=0.6)
    ax.xaxis.set_major_locator(matplotlib.ticker.MultipleLocator(1.0 if max(span) < 15 else 5.0))
    ax.yaxis.set_major_locator(matplotlib.ticker.MultipleLocator(1.0 if max(span) < 15 else 5.0))
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    handles = []
    if rm is not None:
        ax.add_patch(Rectangle((rm.xmin, rm.ymin), rm.xmax - rm.xmin, rm.ymax - rm.ymin, fill=True,
                               fc="#faf6ef", ec="#8a8178", lw=2.0, zorder=0))
        handles.append(Patch(fc="#faf6ef", ec="#8a8178", label="room (inferred)" if room is True else "room"))

    # Ground truth: filled footprints in the object's colour, tall things drawn first.
    for o in sorted(scene.objects, key=lambda o: -o.size[0] * o.size[1]):
        rgb = object_albedo(o)
        strong = o.id in highlight
        ax.add_patch(Rectangle((o.min_corner[0], o.min_corner[1]), o.size[0], o.size[1],
                               fc=(*rgb, 0.45), ec=HIGHLIGHT if strong else (*(rgb * 0.6), 1.0),
                               lw=2.5 if strong else 1.0, zorder=3 if strong else 2))
        if strong and max(o.size[0], o.size[1]) < 0.4:  # small target: ring it so it stands out
            ax.add_patch(Circle((o.center[0], o.center[1]), 0.25, fill=False, ec=HIGHLIGHT, lw=2.0, zorder=5))
        if o.front is not None and np.hypot(o.front[0], o.front[1]) > 1e-9:
            f = np.asarray(o.front[:2], float)
            f = f / np.linalg.norm(f) * min(0.35, 0.6 * max(o.size[0], o.size[1]))
            ax.annotate("", xy=(o.center[0] + f[0], o.center[1] + f[1]), xytext=(o.center[0], o.center[1]),
                        arrowprops=dict(arrowstyle="->", color="#444444", lw=0.8), zorder=4)
    handles.append(Patch(fc=(0.6, 0.6, 0.6, 0.45), ec="#555555", label=labels[0]))
    if highlight:
        handles.append(Patch(fc="none", ec=HIGHLIGHT, lw=2.5, label="target"))

    if other_scene is not None:
        for o in other_scene.objects:
            ax.add_patch(Rectangle((o.min_corner[0], o.min_corner[1]), o.size[0], o.size[1], fill=False,
                                   ec=HIGHLIGHT if o.id in highlight else OTHER, ls="--", lw=1.4, zorder=4))
        handles.append(Patch(fc="none", ec=OTHER, ls="--", label=labels[1]))

    if cameras is not None and len(cameras):
        for k, c in enumerate(cams):
            p, fwd = c[:2, 3], c[:2, 2]
            n = np.linalg.norm(fwd)
            if n < 1e-6:
                continue
            fwd = fwd / n * 0.35
            left = np.array([-fwd[1], fwd[0]]) * 0.5
            ax.add_patch(Polygon([p, p + fwd + left, p + fwd - left], closed=True, fc="#f0a030", ec="#9a5b00",
                                 lw=0.6, alpha=0.8, zorder=5))
        xy = np.array([c[:2, 3] for c in cams])
        ax.plot(xy[:, 0], xy[:, 1], color="#9a5b00", lw=0.8, alpha=0.7, zorder=4)
        handles.append(Patch(fc="#f0a030", ec="#9a5b00", label="camera"))

    if scene.viewpoint is not None:
        vp = scene.viewpoint
        ax.annotate("", xy=vp.look_at[:2], xytext=vp.position[:2],
                    arrowprops=dict(arrowstyle="-|>", color="#2a9d4b", lw=1.4, shrinkB=0), zorder=5)
        ax.plot(*vp.position[:2], marker="o", color="#2a9d4b", ms=6, zorder=5)
        handles.append(plt.Line2D([], [], color="#2a9d4b", marker="o", lw=1.4, label="observer"))

    if len(scene.objects) <= MAX_LABELS:
        fontsize = 7.5 if len(scene.objects) <= 40 else 6
        _place_labels(ax, scene.objects, highlight, fontsize)
    ax.set_title(title if title is not None else f"{scene.scene_id} ({len(scene)} objects)", fontsize=11)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")  # keeps the outside legend and axis labels
    plt.close(fig)
    return path

