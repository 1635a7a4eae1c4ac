"""Category shapes: each scene object drawn as a plausible mesh that fills its box.

A chair gets four legs, a seat and a back on the side opposite its ``front``; a table a
top and legs; a lamp a base, a pole and a shade; and so on. Shapes are built in a local
frame (x across the object, y along its front direction, z up, box corner-to-corner
``[-w/2, w/2] x [-d/2, d/2] x [0, h]``), turned about z so local +y points along the
object's ``front``, then scaled so their axis-aligned bounds equal the object's box
exactly (the box is what reasoning and metrics see; the mesh must agree with it).

Labels are matched by words, so free text works: "office chair" and "red wooden chair"
get the chair shape, "kitchen_table_1" the table shape; the head noun (last word) wins
("table lamp" is a lamp). Unknown labels fall back to a box.
"""

from __future__ import annotations

import re
import zlib
from typing import Callable, Sequence

import numpy as np

from apeiria_model.perception.sim.colors import color_rgb, shade
from apeiria_model.perception.sim.mesh import ObjectMesh, Part, box, cone, cylinder, ellipsoid, merge_parts
from apeiria_model.scene.model import SceneObject

Builder = Callable[[float, float, float, np.ndarray, np.random.Generator], list[Part]]

WOOD = (0.60, 0.42, 0.24)
METAL = (0.62, 0.63, 0.66)
DARK = (0.08, 0.08, 0.09)
GLASS = (0.70, 0.84, 0.93)
WHITE = (0.93, 0.93, 0.91)
FOLIAGE = (0.18, 0.50, 0.20)
TERRACOTTA = (0.72, 0.38, 0.22)


def _clamp(v: float, lo: float, hi: float) -> float:
    return float(min(max(v, lo), hi))


# --- builders (local frame, +y = front) --------------------------------------------------

def build_box(w, d, h, rgb, rng) -> list[Part]:
    return [box(-w / 2, w / 2, -d / 2, d / 2, 0, h, rgb)]


def build_chair(w, d, h, rgb, rng) -> list[Part]:
    if h < 0.3 * max(w, d):  # squat box: no room for legs and a back
        return build_box(w, d, h, rgb, rng)
    leg = _clamp(0.08 * min(w, d), 0.02, 0.05)
    seat_z = 0.5 * h
    seat_t = _clamp(0.07 * h, 0.03, 0.07)
    back_t = _clamp(0.12 * d, 0.03, 0.08)
    legs = shade(rgb, 0.6)
    parts = [box(-w / 2, w / 2, -d / 2, d / 2, seat_z - seat_t, seat_z, rgb)]
    for sx in (-1, 1):
        for sy in (-1, 1):
            x0 = sx * w / 2
            y0 = sy * d / 2
            parts.append(box(x0, x0 - sx * leg, y0, y0 - sy * leg, 0, seat_z - seat_t, legs))
    # Back on the rear side (opposite the front, i.e. at -y), full width.
    parts.append(box(-w / 2, w / 2, -d / 2, -d / 2 + back_t, seat_z, h, shade(rgb, 0.9)))
    return parts


def build_office_chair(w, d, h, rgb, rng) -> list[Part]:
    if h < 0.3 * max(w, d):
        return build_box(w, d, h, rgb, rng)
    seat_z = 0.48 * h
    seat_t = _clamp(0.08 * h, 0.04, 0.09)
    back_t = _clamp(0.12 * d, 0.04, 0.09)
    base_t = _clamp(0.05 * h, 0.02, 0.05)
    arm = _clamp(0.05 * min(w, d), 0.02, 0.05)
    frame = DARK if np.mean(rgb) > 0.2 else METAL
    parts = [
        # Star base as two crossed bars, gas-lift pole, seat, back.
        box(-w / 2, w / 2, -arm, arm, 0, base_t, frame),
        box(-arm, arm, -d / 2, d / 2, 0, base_t, frame),
        cylinder(0, 0, base_t, seat_z - seat_t, _clamp(0.06 * min(w, d), 0.015, 0.04), METAL),
        box(-w / 2, w / 2, -d / 2 + back_t, d / 2, seat_z - seat_t, seat_z, rgb),
        box(-w / 2 + arm, w / 2 - arm, -d / 2, -d / 2 + back_t, seat_z - seat_t, h, shade(rgb, 0.85)),
    ]
    return parts


def build_stool(w, d, h, rgb, rng) -> list[Part]:
    r = min(w, d) / 2
    seat_t = _clamp(0.08 * h, 0.03, 0.06)
    leg = _clamp(0.12 * r, 0.015, 0.04)
    parts = [cylinder(0, 0, h - seat_t, h, r, rgb)]
    for sx in (-1, 1):
        for sy in (-1, 1):
            c = 0.55 * r
            parts.append(box(sx * c - leg / 2, sx * c + leg / 2, sy * c - leg / 2, sy * c + leg / 2,
                             0, h - seat_t, shade(rgb, 0.6)))
    return parts


def build_table(w, d, h, rgb, rng) -> list[Part]:
    if h < 0.12:
        return build_box(w, d, h, rgb, rng)
    top_t = _clamp(0.06 * h, 0.025, 0.06)
    leg = _clamp(0.05 * min(w, d), 0.03, 0.07)
    parts = [box(-w / 2, w / 2, -d / 2, d / 2, h - top_t, h, rgb)]
    legs = shade(rgb, 0.75)
    inset = 0.03 * min(w, d)
    for sx in (-1, 1):
        for sy in (-1, 1):
            x0 = sx * (w / 2 - inset)
            y0 = sy * (d / 2 - inset)
            parts.append(box(x0, x0 - sx * leg, y0, y0 - sy * leg, 0, h - top_t, legs))
    return parts


def build_desk(w, d, h, rgb, rng) -> list[Part]:
    """Top, a drawer pedestal on the right, two legs on the left, a modesty panel at the back."""
    if h < 0.12:
        return build_box(w, d, h, rgb, rng)
    top_t = _clamp(0.05 * h, 0.025, 0.05)
    leg = _clamp(0.05 * min(w, d), 0.03, 0.06)
    ped_w = _clamp(0.3 * w, 0.1, 0.45)
    body = shade(rgb, 0.85)
    parts = [
        box(-w / 2, w / 2, -d / 2, d / 2, h - top_t, h, rgb),
        box(w / 2 - ped_w, w / 2, -d / 2, d / 2 - 0.01, 0, h - top_t, body),
        box(-w / 2, w / 2 - ped_w, -d / 2, -d / 2 + 0.02, 0.35 * h, h - top_t, body),
    ]
    # Drawer fronts: slightly lighter slabs on the pedestal's front face.
    n = 3
    gap = 0.012
    hz = (h - top_t) / n
    for i in range(n):
        parts.append(box(w / 2 - ped_w + gap, w / 2 - gap, d / 2 - 0.01, d / 2,
                         i * hz + gap, (i + 1) * hz - gap, shade(rgb, 1.12)))
    for sy in (-1, 1):
        y0 = sy * d / 2
        parts.append(box(-w / 2, -w / 2 + leg, y0, y0 - sy * leg, 0, h - top_t, body))
    return parts


def build_lamp(w, d, h, rgb, rng) -> list[Part]:
    r = min(w, d) / 2
    base_t = _clamp(0.05 * h, 0.01, 0.04)
    shade_z0 = 0.62 * h
    pole_r = _clamp(0.08 * r, 0.006, 0.02)
    shade_rgb = shade(rgb, 1.35) if np.mean(rgb) < 0.5 else rgb
    return [
        cylinder(0, 0, 0, base_t, 0.7 * r, shade(rgb, 0.7)),
        cylinder(0, 0, base_t, shade_z0 + 0.1 * h, pole_r, METAL),
        cylinder(0, 0, shade_z0, h, r, shade_rgb, r1=0.6 * r),
    ]


def build_coat_rack(w, d, h, rgb, rng) -> list[Part]:
    r = min(w, d) / 2
    pole_r = _clamp(0.08 * r, 0.01, 0.025)
    parts = [cylinder(0, 0, 0, 0.03, 0.8 * r, rgb), cylinder(0, 0, 0, h, pole_r, rgb)]
    for a in np.linspace(0, 2 * np.pi, 4, endpoint=False):
        x, y = 0.85 * r * np.cos(a), 0.85 * r * np.sin(a)
        parts.append(box(min(0, x) - 0.01, max(0, x) + 0.01, min(0, y) - 0.01, max(0, y) + 0.01,
                         0.88 * h, 0.9 * h, rgb))
    return parts


def build_bed(w, d, h, rgb, rng) -> list[Part]:
    frame_z = 0.4 * h
    mattress_z = 0.75 * h if h > 0.8 else 0.85 * h
    head_t = _clamp(0.04 * d, 0.04, 0.08)
    frame = WOOD if np.mean(rgb) > 0.75 else shade(rgb, 0.7)
    parts = [
        box(-w / 2, w / 2, -d / 2 + head_t, d / 2, 0, frame_z, frame),
        # Headboard at the rear (the front of a bed is its foot end).
        box(-w / 2, w / 2, -d / 2, -d / 2 + head_t, 0, h, frame),
        box(-w / 2 + 0.02, w / 2 - 0.02, -d / 2 + head_t, d / 2 - 0.02, frame_z, mattress_z, WHITE),
        # Duvet over the foot two thirds in the bed's colour.
        box(-w / 2 + 0.01, w / 2 - 0.01, -d / 2 + head_t + 0.3 * d, d / 2 - 0.01,
            frame_z + 0.02, min(mattress_z + 0.03, h), rgb),
    ]
    pw = (w - 0.12) / (2 if w > 1.2 else 1)
    for i in range(2 if w > 1.2 else 1):
        x0 = -w / 2 + 0.06 + i * pw
        parts.append(box(x0 + 0.02, x0 + pw - 0.02, -d / 2 + head_t + 0.04, -d / 2 + head_t + 0.04 + 0.15 * d,
                         mattress_z, min(mattress_z + 0.1, h), WHITE))
    return parts


def build_sofa(w, d, h, rgb, rng) -> list[Part]:
    seat_z = 0.45 * h
    back_t = _clamp(0.22 * d, 0.1, 0.3)
    arm_w = _clamp(0.12 * w, 0.08, 0.22)
    arm_h = 0.68 * h
    parts = [
        box(-w / 2, w / 2, -d / 2, d / 2, 0, seat_z * 0.6, shade(rgb, 0.75)),
        box(-w / 2, w / 2, -d / 2, -d / 2 + back_t, 0, h, shade(rgb, 0.92)),
        box(-w / 2, -w / 2 + arm_w, -d / 2, d / 2, 0, arm_h, shade(rgb, 0.85)),
        box(w / 2 - arm_w, w / 2, -d / 2, d / 2, 0, arm_h, shade(rgb, 0.85)),
    ]
    # Seat cushions between the arms (two or three by width).
    inner = w - 2 * arm_w
    n = 3 if inner > 1.5 else (2 if inner > 0.9 else 1)
    cw = inner / n
    for i in range(n):
        x0 = -w / 2 + arm_w + i * cw
        parts.append(box(x0 + 0.01, x0 + cw - 0.01, -d / 2 + back_t, d / 2, seat_z * 0.6, seat_z, rgb))
    return parts


def build_cabinet(w, d, h, rgb, rng) -> list[Part]:
    """Body with door panels and handles on the front face."""
    face = _clamp(0.03 * d, 0.008, 0.02)
    parts = [box(-w / 2, w / 2, -d / 2, d / 2 - face, 0, h, rgb)]
    n_doors = 1 if w < 0.55 else (2 if w < 1.5 else 3)
    gap = 0.01
    dw = w / n_doors
    door_rgb = shade(rgb, 1.1) if np.mean(rgb) < 0.8 else shade(rgb, 0.93)
    handle = METAL if np.mean(rgb) < 0.6 else DARK
    for i in range(n_doors):
        x0 = -w / 2 + i * dw
        parts.append(box(x0 + gap, x0 + dw - gap, d / 2 - face, d / 2, 0.03 * h, h - gap, door_rgb))
        hx = x0 + dw - 0.06 if i % 2 == 0 else x0 + 0.06
        hz = 0.55 * h
        parts.append(box(hx - 0.012, hx + 0.012, d / 2 - face - 0.001, d / 2, hz,
                         hz + _clamp(0.2 * h, 0.04, 0.2), handle))
    return parts


def build_drawers(w, d, h, rgb, rng) -> list[Part]:
    """Dresser / nightstand / filing cabinet: body + stacked drawer fronts with pulls."""
    face = _clamp(0.03 * d, 0.008, 0.02)
    parts = [box(-w / 2, w / 2, -d / 2, d / 2 - face, 0, h, rgb)]
    n = max(2, min(5, int(round(h / 0.22))))
    gap = 0.01
    dz = (h - 0.04) / n
    front = shade(rgb, 1.1) if np.mean(rgb) < 0.8 else shade(rgb, 0.93)
    pull = METAL if np.mean(rgb) < 0.6 else DARK
    for i in range(n):
        z0 = 0.04 + i * dz
        parts.append(box(-w / 2 + gap, w / 2 - gap, d / 2 - face, d / 2, z0 + gap, z0 + dz - gap, front))
        pw = _clamp(0.15 * w, 0.05, 0.15)
        parts.append(box(-pw, pw, d / 2 - face - 0.001, d / 2, z0 + 0.6 * dz - 0.01, z0 + 0.6 * dz + 0.01, pull))
    return parts


def build_counter(w, d, h, rgb, rng) -> list[Part]:
    top_t = _clamp(0.04 * h, 0.02, 0.045)
    parts = build_cabinet(w, d - 0.02, h - top_t, shade(rgb, 0.9), rng)
    for p in parts:
        p.vertices[:, 1] -= 0.01
    parts.append(box(-w / 2, w / 2, -d / 2, d / 2, h - top_t, h, rgb))
    return parts


def build_shelf_unit(w, d, h, rgb, rng) -> list[Part]:
    """Open bookcase: sides, back, boards, and a few books of assorted colours."""
    if h < 0.15:  # a wall shelf: just the board
        return build_box(w, d, h, rgb, rng)
    t = _clamp(0.03 * min(w, h), 0.015, 0.03)
    parts = [
        box(-w / 2, -w / 2 + t, -d / 2, d / 2, 0, h, rgb),
        box(w / 2 - t, w / 2, -d / 2, d / 2, 0, h, rgb),
        box(-w / 2, w / 2, -d / 2, -d / 2 + t, 0, h, shade(rgb, 0.8)),
        box(-w / 2, w / 2, -d / 2, d / 2, h - t, h, rgb),
    ]
    n = max(2, int(round(h / 0.35)))
    dz = (h - t) / n
    palette = [(0.7, 0.15, 0.12), (0.15, 0.3, 0.65), (0.2, 0.5, 0.25), (0.85, 0.7, 0.2),
               (0.9, 0.9, 0.85), (0.35, 0.2, 0.45), (0.1, 0.1, 0.1)]
    for i in range(n):
        z = i * dz
        parts.append(box(-w / 2, w / 2, -d / 2, d / 2, z, z + t, rgb))
        # Books standing on this board.
        x = -w / 2 + t + 0.01
        while x < w / 2 - t - 0.06 and rng.random() < 0.93:
            bw = float(rng.uniform(0.02, 0.05))
            bh = float(rng.uniform(0.55, 0.85)) * (dz - t)
            bd = float(rng.uniform(0.6, 0.85)) * (d - t)
            col = palette[int(rng.integers(len(palette)))]
            parts.append(box(x, x + bw, -d / 2 + t, -d / 2 + t + bd, z + t, z + t + bh, col))
            x += bw + (0.005 if rng.random() < 0.8 else float(rng.uniform(0.05, 0.15)))
    return parts


def build_screen(w, d, h, rgb, rng) -> list[Part]:
    """Monitor / TV: thin panel with a dark screen on its front, on a stand if it has room."""
    panel_d = _clamp(0.25 * d, 0.02, 0.06)
    # A box too shallow for a stand's foot is a wall-mounted screen: panel only.
    z0 = 0.0 if (h < 0.1 or d < 0.12) else 0.28 * h
    frame = rgb if np.mean(rgb) < 0.5 else shade(rgb, 0.85)
    parts = [
        box(-w / 2, w / 2, -panel_d / 2, panel_d / 2, z0, h, frame),
        box(-w / 2 + 0.015, w / 2 - 0.015, panel_d / 2 - 0.002, min(panel_d / 2 + 0.004, d / 2),
            z0 + 0.015, h - 0.015, (0.05, 0.07, 0.12)),
    ]
    if z0 > 0:
        neck = 0.03 * w + 0.01
        parts.append(box(-neck, neck, -panel_d / 2 - 0.02, -panel_d / 2, 0.02, z0 + 0.1 * h, frame))
        parts.append(box(-0.2 * w, 0.2 * w, -d / 2, d / 2, 0, 0.02, frame))
    return parts


def build_plant(w, d, h, rgb, rng) -> list[Part]:
    r = min(w, d) / 2
    pot_h = _clamp(0.3 * h, 0.05, 0.4)
    foliage = rgb if rgb[1] > rgb[0] and rgb[1] > rgb[2] else FOLIAGE
    return [
        cylinder(0, 0, 0, pot_h, 0.55 * r, TERRACOTTA, r1=0.7 * r),
        ellipsoid((0, 0, pot_h + (h - pot_h) / 2), (w / 2, d / 2, (h - pot_h) / 2 + 0.02), foliage),
    ]


def build_tree(w, d, h, rgb, rng) -> list[Part]:
    """Potted conifer: pot, trunk, cone of foliage."""
    r = min(w, d) / 2
    pot_h = _clamp(0.2 * h, 0.05, 0.4)
    foliage = rgb if rgb[1] > rgb[0] and rgb[1] > rgb[2] else FOLIAGE
    return [
        cylinder(0, 0, 0, pot_h, 0.5 * r, TERRACOTTA, r1=0.6 * r),
        cylinder(0, 0, pot_h, pot_h + 0.2 * h, 0.08 * r, (0.4, 0.27, 0.15)),
        cone(0, 0, pot_h + 0.1 * h, h, r, foliage),
    ]


def build_mug(w, d, h, rgb, rng) -> list[Part]:
    r = 0.4 * min(w, d)
    handle_t = _clamp(0.15 * h, 0.005, 0.02)
    return [
        cylinder(0, 0, 0, h, r, rgb),
        box(r * 0.95, min(w, d) / 2, -handle_t / 2, handle_t / 2, 0.2 * h, 0.8 * h, rgb),
    ]


def build_cylinder(w, d, h, rgb, rng) -> list[Part]:
    return [ellipse_cylinder(w, d, h, rgb)]


def ellipse_cylinder(w, d, h, rgb) -> Part:
    p = cylinder(0, 0, 0, h, 0.5, rgb)
    p.vertices[:, 0] *= w
    p.vertices[:, 1] *= d
    return p


def build_bowl(w, d, h, rgb, rng) -> list[Part]:
    p = cylinder(0, 0, 0, h, 0.3, rgb, r1=0.5)
    p.vertices[:, 0] *= w
    p.vertices[:, 1] *= d
    return [p]


def build_bottle(w, d, h, rgb, rng) -> list[Part]:
    r = min(w, d) / 2
    return [
        cylinder(0, 0, 0, 0.62 * h, r, rgb),
        cylinder(0, 0, 0.62 * h, 0.78 * h, r, rgb, r1=0.35 * r),
        cylinder(0, 0, 0.78 * h, 0.93 * h, 0.35 * r, rgb),
        cylinder(0, 0, 0.93 * h, h, 0.4 * r, DARK),
    ]


def build_panel(w, d, h, rgb, rng, inner=None) -> list[Part]:
    """Picture / mirror / whiteboard: a frame with an inset face on the front."""
    f = _clamp(0.06 * min(w, h), 0.01, 0.05)
    face = inner if inner is not None else shade(rgb, 1.2)
    return [
        box(-w / 2, w / 2, -d / 2, d / 2 - 0.004, 0, h, shade(rgb, 0.6) if inner is not None else (0.25, 0.2, 0.15)),
        box(-w / 2 + f, w / 2 - f, d / 2 - 0.005, d / 2, f, h - f, face),
    ]


def build_picture(w, d, h, rgb, rng) -> list[Part]:
    return build_panel(w, d, h, rgb, rng)


def build_mirror(w, d, h, rgb, rng) -> list[Part]:
    return build_panel(w, d, h, rgb, rng, inner=(0.80, 0.85, 0.88))


def build_whiteboard(w, d, h, rgb, rng) -> list[Part]:
    return build_panel(w, d, h, METAL, rng, inner=WHITE)


def build_window(w, d, h, rgb, rng) -> list[Part]:
    """Frame (4 bars + mullion) around light-blue glass."""
    f = _clamp(0.05 * min(w, h), 0.02, 0.07)
    frame = rgb
    parts = [
        box(-w / 2 + f, w / 2 - f, -d / 4, d / 4, f, h - f, GLASS),
        box(-w / 2, w / 2, -d / 2, d / 2, 0, f, frame),
        box(-w / 2, w / 2, -d / 2, d / 2, h - f, h, frame),
        box(-w / 2, -w / 2 + f, -d / 2, d / 2, 0, h, frame),
        box(w / 2 - f, w / 2, -d / 2, d / 2, 0, h, frame),
        box(-f / 3, f / 3, -d / 3, d / 3, 0, h, frame),
    ]
    return parts


def build_door(w, d, h, rgb, rng) -> list[Part]:
    return [box(-w / 2, w / 2, -d / 2, d / 2, 0, h, rgb),
            box(w / 2 - 0.12, w / 2 - 0.06, d / 2 - 0.001, d / 2, 0.45 * h, 0.47 * h, METAL)]


def build_toilet(w, d, h, rgb, rng) -> list[Part]:
    tank_d = 0.3 * d
    seat_z = 0.55 * h
    bowl = ellipse_cylinder(0.9 * w, d - tank_d, seat_z, rgb)
    bowl.vertices[:, 1] += tank_d / 2
    lid = ellipse_cylinder(w, d - tank_d, 0.04 * h, shade(rgb, 0.95))
    lid.vertices[:, 1] += tank_d / 2
    lid.vertices[:, 2] += seat_z
    return [
        bowl, lid,
        box(-w / 2 * 0.8, w / 2 * 0.8, -d / 2, -d / 2 + tank_d, 0.3 * h, h, rgb),
        box(-0.3 * w, 0.3 * w, -d / 2 + tank_d * 0.3, d / 4, 0, 0.3 * h, shade(rgb, 0.9)),
    ]


def build_sink(w, d, h, rgb, rng) -> list[Part]:
    """Vanity cabinet with a basin top (basin inset as a darker slab)."""
    top_t = _clamp(0.12 * h, 0.05, 0.15)
    parts = build_cabinet(w, d, h - top_t, shade(rgb, 0.85), rng)
    parts.append(box(-w / 2, w / 2, -d / 2, d / 2, h - top_t, h, rgb))
    # The basin, seen from above as a darker inset in the top.
    parts.append(box(-0.35 * w, 0.35 * w, -0.3 * d, 0.35 * d, h - 0.002, h, shade(rgb, 0.8)))
    return parts


def build_bathtub(w, d, h, rgb, rng) -> list[Part]:
    """Hollow tub: floor slab + four walls, so it reads as a tub from above."""
    t = _clamp(0.08 * min(w, d), 0.05, 0.1)
    return [
        box(-w / 2, w / 2, -d / 2, d / 2, 0, 0.3 * h, rgb),
        box(-w / 2, -w / 2 + t, -d / 2, d / 2, 0, h, rgb),
        box(w / 2 - t, w / 2, -d / 2, d / 2, 0, h, rgb),
        box(-w / 2, w / 2, -d / 2, -d / 2 + t, 0, h, rgb),
        box(-w / 2, w / 2, d / 2 - t, d / 2, 0, h, rgb),
        box(-w / 2 + t, w / 2 - t, -d / 2 + t, d / 2 - t, 0.3 * h, 0.3 * h + 0.01, (0.75, 0.85, 0.92)),
    ]


def build_fridge(w, d, h, rgb, rng) -> list[Part]:
    face = 0.02
    split = 0.65 * h
    door = shade(rgb, 0.95)
    handle = DARK if np.mean(rgb) > 0.5 else METAL
    return [
        box(-w / 2, w / 2, -d / 2, d / 2 - face, 0, h, rgb),
        box(-w / 2 + 0.005, w / 2 - 0.005, d / 2 - face, d / 2, 0.02, split - 0.008, door),
        box(-w / 2 + 0.005, w / 2 - 0.005, d / 2 - face, d / 2, split + 0.008, h - 0.01, door),
        box(w / 2 - 0.08, w / 2 - 0.06, d / 2 - face - 0.001, d / 2, split + 0.05, split + 0.35, handle),
        box(w / 2 - 0.08, w / 2 - 0.06, d / 2 - face - 0.001, d / 2, split - 0.45, split - 0.05, handle),
    ]


def build_appliance(w, d, h, rgb, rng) -> list[Part]:
    """Stove / oven / microwave / dishwasher: box with a dark window on the front."""
    face = _clamp(0.03 * d, 0.005, 0.02)
    return [
        box(-w / 2, w / 2, -d / 2, d / 2 - face, 0, h, rgb),
        box(-0.4 * w, 0.3 * w, d / 2 - face, d / 2, 0.15 * h, 0.75 * h, (0.06, 0.06, 0.07)),
        box(0.32 * w, 0.45 * w, d / 2 - face, d / 2, 0.3 * h, 0.8 * h, shade(rgb, 0.8)),
    ]


def build_washer(w, d, h, rgb, rng) -> list[Part]:
    face = _clamp(0.03 * d, 0.005, 0.02)
    r = 0.3 * min(w, h)
    return [
        box(-w / 2, w / 2, -d / 2, d / 2 - face, 0, h, rgb),
        cylinder(0, 0.45 * h, d / 2 - face, d / 2, r, (0.25, 0.3, 0.35), axis="y"),
        box(-w / 2 + 0.02, w / 2 - 0.02, d / 2 - face, d / 2, 0.85 * h, 0.97 * h, shade(rgb, 0.85)),
    ]


def build_clock(w, d, h, rgb, rng) -> list[Part]:
    r = min(w, h) / 2
    return [
        cylinder(0, h / 2, -d / 2, d / 2 - 0.004, r, rgb, axis="y"),
        cylinder(0, h / 2, d / 2 - 0.004, d / 2, 0.85 * r, WHITE, axis="y"),
    ]


def build_laptop(w, d, h, rgb, rng) -> list[Part]:
    if h < 0.06:  # closed
        return [box(-w / 2, w / 2, -d / 2, d / 2, 0, h / 2, shade(rgb, 0.8)),
                box(-w / 2, w / 2, -d / 2, d / 2, h / 2, h, rgb)]
    return [box(-w / 2, w / 2, -d / 2, d / 2, 0, 0.08 * h, rgb),
            box(-w / 2, w / 2, -d / 2, -d / 2 + 0.01, 0.08 * h, h, shade(rgb, 0.8))]


def build_book(w, d, h, rgb, rng) -> list[Part]:
    c = 0.08 * min(w, d, h)
    return [box(-w / 2, w / 2, -d / 2, d / 2, 0, h, rgb),
            box(-w / 2 + c, w / 2 - 0.0001, -d / 2 + c, d / 2 - c, c, h - c, (0.95, 0.94, 0.88))]


def build_pillow(w, d, h, rgb, rng) -> list[Part]:
    return [ellipsoid((0, 0, h / 2), (w / 2, d / 2, h / 2), rgb)]


def build_trash_can(w, d, h, rgb, rng) -> list[Part]:
    p = cylinder(0, 0, 0, h * 0.95, 0.42, rgb, r1=0.5)
    p.vertices[:, 0] *= w
    p.vertices[:, 1] *= d
    rim = ellipse_cylinder(w, d, 0.05 * h, shade(rgb, 0.7))
    rim.vertices[:, 2] += 0.95 * h
    return [p, rim]


# --- label matching -------------------------------------------------------------------------

# (phrase, builder): multi-word phrases beat their head word; later words beat earlier.
_PHRASES: list[tuple[str, Builder]] = [
    ("chair", build_chair), ("seat", build_chair), ("dining chair", build_chair),
    ("office chair", build_office_chair), ("desk chair", build_office_chair),
    ("swivel chair", build_office_chair), ("gaming chair", build_office_chair),
    ("armchair", build_sofa), ("easy chair", build_sofa), ("sofa", build_sofa), ("couch", build_sofa),
    ("loveseat", build_sofa), ("sectional", build_sofa), ("bench", build_table),
    ("stool", build_stool), ("barstool", build_stool), ("ottoman", build_box), ("footstool", build_box),
    ("pouf", build_box),
    ("table", build_table), ("worktable", build_table), ("desk", build_desk), ("bureau", build_desk),
    ("bedside table", build_drawers), ("night table", build_drawers), ("nightstand", build_drawers),
    ("tv stand", build_cabinet), ("tv cabinet", build_cabinet), ("media console", build_cabinet),
    ("lamp", build_lamp), ("light", build_lamp), ("torchiere", build_lamp), ("lantern", build_lamp),
    ("ceiling light", build_box), ("coat rack", build_coat_rack), ("coat stand", build_coat_rack),
    ("hat stand", build_coat_rack),
    ("bed", build_bed), ("bedstead", build_bed), ("crib", build_bed),
    ("cabinet", build_cabinet), ("cupboard", build_cabinet), ("wardrobe", build_cabinet),
    ("armoire", build_cabinet), ("closet", build_cabinet), ("locker", build_cabinet),
    ("dresser", build_drawers), ("chest of drawers", build_drawers), ("tallboy", build_drawers),
    ("drawer", build_drawers), ("filing cabinet", build_drawers), ("file cabinet", build_drawers),
    ("file drawer", build_drawers), ("counter", build_counter), ("countertop", build_counter),
    ("worktop", build_counter), ("kitchen island", build_counter), ("piano", build_cabinet),
    ("shelf", build_shelf_unit), ("shelves", build_shelf_unit), ("bookshelf", build_shelf_unit),
    ("bookcase", build_shelf_unit), ("book rack", build_shelf_unit), ("shelving", build_shelf_unit),
    ("rack", build_shelf_unit),
    ("monitor", build_screen), ("screen", build_screen), ("display", build_screen), ("tv", build_screen),
    ("television", build_screen), ("telly", build_screen), ("computer screen", build_screen),
    ("plant", build_plant), ("houseplant", build_plant), ("flower", build_plant), ("flowers", build_plant),
    ("tree", build_tree), ("christmas tree", build_tree),
    ("mug", build_mug), ("coffee mug", build_mug), ("teacup", build_mug), ("cup", build_cylinder),
    ("glass", build_cylinder), ("vase", build_cylinder), ("candle", build_cylinder), ("jar", build_cylinder),
    ("can", build_cylinder), ("kettle", build_mug), ("soap dispenser", build_bottle), ("soap pump", build_bottle),
    ("bottle", build_bottle), ("flask", build_bottle), ("bowl", build_bowl), ("dish", build_bowl),
    ("plate", build_cylinder), ("platter", build_cylinder),
    ("book", build_book), ("books", build_book), ("novel", build_book), ("notebook", build_book),
    ("laptop", build_laptop), ("notebook computer", build_laptop),
    ("window", build_window), ("windowpane", build_window), ("picture", build_picture),
    ("painting", build_picture), ("poster", build_picture), ("artwork", build_picture),
    ("photo", build_picture), ("picture frame", build_picture), ("photo frame", build_picture),
    ("mirror", build_mirror), ("looking glass", build_mirror), ("whiteboard", build_whiteboard),
    ("blackboard", build_picture), ("board", build_whiteboard), ("door", build_door),
    ("toilet", build_toilet), ("lavatory", build_toilet), ("loo", build_toilet),
    ("sink", build_sink), ("washbasin", build_sink), ("basin", build_sink),
    ("bathtub", build_bathtub), ("tub", build_bathtub), ("bath", build_bathtub),
    ("refrigerator", build_fridge), ("fridge", build_fridge), ("freezer", build_fridge), ("icebox", build_fridge),
    ("stove", build_appliance), ("oven", build_appliance), ("cooker", build_appliance), ("hob", build_appliance),
    ("microwave", build_appliance), ("dishwasher", build_appliance), ("dish machine", build_appliance),
    ("toaster", build_appliance), ("coffee maker", build_appliance), ("coffee machine", build_appliance),
    ("washing machine", build_washer), ("washer", build_washer), ("laundry machine", build_washer),
    ("dryer", build_washer), ("clock", build_clock), ("wall clock", build_clock),
    ("trash can", build_trash_can), ("bin", build_trash_can), ("wastebasket", build_trash_can),
    ("garbage can", build_trash_can), ("trash bin", build_trash_can), ("basket", build_trash_can),
    ("laundry basket", build_trash_can), ("hamper", build_trash_can),
    ("pillow", build_pillow), ("cushion", build_pillow), ("bolster", build_pillow),
    ("box", build_box), ("storage box", build_box), ("crate", build_box),
]
_PHRASE_TABLE: dict[tuple[str, ...], Builder] = {tuple(p.split()): b for p, b in _PHRASES}
_MAX_PHRASE = max(len(k) for k in _PHRASE_TABLE)

# Category `shape` hints (apeiria_model.data.categories) for labels no phrase matches.
_HINT_BUILDERS: dict[str, Builder] = {
    "box": build_box, "cabinet": build_cabinet, "table": build_table, "chair": build_chair,
    "sofa": build_sofa, "bed": build_bed, "lamp": build_lamp, "plant": build_plant,
    "cylinder": build_cylinder, "screen": build_screen, "panel": build_picture, "window": build_window,
    "shelf": build_shelf_unit, "toilet": build_toilet, "bathtub": build_bathtub, "disc": build_clock,
}

# Albedo when the scene gives no colour (by builder).
_DEFAULT_RGB: dict[Builder, tuple[float, float, float]] = {
    build_chair: WOOD, build_table: WOOD, build_desk: WOOD, build_bed: (0.35, 0.45, 0.65),
    build_sofa: (0.45, 0.47, 0.52), build_cabinet: WOOD, build_drawers: WOOD, build_counter: (0.85, 0.85, 0.82),
    build_shelf_unit: WOOD, build_screen: DARK, build_plant: FOLIAGE, build_window: WHITE,
    build_mirror: METAL, build_whiteboard: WHITE, build_toilet: WHITE, build_sink: WHITE,
    build_bathtub: WHITE, build_fridge: (0.85, 0.86, 0.86), build_appliance: METAL, build_washer: WHITE,
    build_lamp: (0.9, 0.85, 0.7), build_tree: FOLIAGE, build_bottle: (0.2, 0.5, 0.3), build_book: (0.6, 0.15, 0.15),
    build_office_chair: DARK, build_clock: WHITE, build_laptop: METAL,
}
_FALLBACK_RGB = (0.62, 0.60, 0.56)


def _tokens(label: str) -> list[str]:
    # "KitchenTable_1" -> ["kitchen", "table"]; digits and punctuation dropped.
    s = re.sub(r"([a-z])([A-Z])", r"\1 \2", label)
    return [w for w in re.split(r"[^a-z]+", s.lower()) if w]


def _singular(word: str) -> str:
    if word.endswith("elves"):  # shelves, bookshelves
        return word[:-3] + "f"
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def builder_for_label(label: str) -> tuple[str, Builder]:
    """(shape name, builder) for a free-text label; ("box", build_box) when unknown."""
    if not isinstance(label, str):
        raise TypeError(f"label must be a string, got {type(label).__name__}")
    toks = _tokens(label)
    forms = [toks, [_singular(t) for t in toks]]
    best = None  # (end position, phrase length) -> builder
    for words in forms:
        n = len(words)
        for i in range(n):
            for k in range(1, min(_MAX_PHRASE, n - i) + 1):
                b = _PHRASE_TABLE.get(tuple(words[i:i + k]))
                if b is not None:
                    key = (i + k, k)
                    if best is None or key > best[0]:
                        best = (key, b)
    if best is not None:
        b = best[1]
        return b.__name__.removeprefix("build_"), b
    try:  # a category label we do not know by words: use its shape hint
        from apeiria_model.data.categories import CATEGORIES
        cat = CATEGORIES.get(label.strip().lower())
    except ImportError:  # categories module is optional for the simulator
        cat = None
    if cat is not None and cat.shape in _HINT_BUILDERS:
        b = _HINT_BUILDERS[cat.shape]
        return b.__name__.removeprefix("build_"), b
    return "box", build_box


def shape_name(label: str) -> str:
    return builder_for_label(label)[0]


def object_albedo(obj: SceneObject) -> np.ndarray:
    """RGB for an object: its colour word, else a material word, else its shape's default."""
    rgb = color_rgb(obj.color)
    if rgb is None:
        for a in obj.attributes:
            rgb = color_rgb(a)
            if rgb is not None:
                break
    if rgb is None:
        _, b = builder_for_label(obj.label)
        rgb = np.asarray(_DEFAULT_RGB.get(b, _FALLBACK_RGB), dtype=float)
    return rgb


def _yaw_for_front(front: Sequence[float] | None) -> float:
    """Angle about z turning local +y onto the front direction (0 when none)."""
    if front is None:
        return 0.0
    fx, fy = float(front[0]), float(front[1])
    if not (np.isfinite(fx) and np.isfinite(fy)) or np.hypot(fx, fy) < 1e-9:
        return 0.0  # vertical or degenerate front: keep the default orientation
    return float(np.arctan2(-fx, fy))


def object_mesh(obj: SceneObject, front: Sequence[float] | None = None) -> ObjectMesh:
    """The mesh for one scene object, filling its box exactly, turned to face ``front``.

    ``front`` overrides ``obj.front`` (the renderer passes a guess for facing objects
    with none, e.g. towards the room centre).
    """
    size = np.asarray(obj.size, dtype=float)
    center = np.asarray(obj.center, dtype=float)
    if size.shape != (3,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ValueError(f"object {obj.id} ({obj.label}): size must be 3 positive numbers, got {obj.size}")
    if center.shape != (3,) or not np.all(np.isfinite(center)):
        raise ValueError(f"object {obj.id} ({obj.label}): center must be 3 finite numbers, got {obj.center}")
    f = front if front is not None else obj.front
    yaw = _yaw_for_front(f)
    # Local width runs across the front: if the object faces +-x, the world y extent is its width.
    c, s = np.cos(yaw), np.sin(yaw)
    w, d = (size[1], size[0]) if abs(s) > abs(c) else (size[0], size[1])
    h = size[2]
    _, builder = builder_for_label(obj.label)
    rgb = object_albedo(obj)
    rng = np.random.default_rng(zlib.crc32(f"{obj.id}:{obj.label}".encode()))
    parts = builder(float(w), float(d), float(h), rgb, rng)
    mesh = merge_parts(parts, obj.id, obj.label)
    v = mesh.vertices
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    v = np.einsum("nj,ij->ni", v, rot)  # not BLAS: see camera.rotate
    # Scale + shift so the mesh's bounds are exactly the object's box (for any yaw).
    lo, hi = v.min(axis=0), v.max(axis=0)
    ext = np.maximum(hi - lo, 1e-9)
    v = (v - lo) / ext * size + (center - size / 2.0)
    mesh.vertices = v
    return mesh
