"""Object boxes as numbers a network can use: the observer's frame + Fourier features.

View-dependent words (left / right / front / behind) are defined relative to the
scene's observer (``Scene.default_viewpoint()``). Expressing every box in that frame
(x = right, y = forward, z = up, origin = the scene's ground centre) means one learned
meaning of "left" works for every scene and viewpoint.

Raw box vector per object (``BOX_RAW_DIM`` = 9):
``[cx, cy, cz, sx, sy, sz, front_x, front_y, has_front]`` in that frame.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from apeiria_model.scene.model import Scene

BOX_RAW_DIM = 9


def scene_box_array(scene: Scene, objects=None) -> np.ndarray:
    """[N, 9] float32 raw box vectors (observer frame) for ``objects`` (default: all)."""
    objs = list(scene.objects if objects is None else objects)
    out = np.zeros((len(objs), BOX_RAW_DIM), dtype=np.float32)
    if not objs:
        return out
    vp = scene.default_viewpoint()
    fwd = vp.forward()
    right = vp.right()
    lo, hi = scene.bounds()
    origin = np.array([(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0, 0.0])
    rot = np.stack([right, fwd, np.array([0.0, 0.0, 1.0])])  # rows: new axes in world frame
    abs_rot = np.abs(rot)
    for i, o in enumerate(objs):
        out[i, 0:3] = rot @ (o.c - origin)
        # extent of the (axis-aligned) box along the rotated axes
        out[i, 3:6] = abs_rot @ o.s
        if o.front is not None:
            f = rot @ np.asarray(o.front, float)
            n = math.hypot(f[0], f[1])
            if n > 1e-9:
                out[i, 6:8] = (f[0] / n, f[1] / n)
                out[i, 8] = 1.0
    return out


def box_encoding_dim(kind: str, bands: int) -> int:
    return BOX_RAW_DIM + (6 * 2 * bands if kind == "fourier" else 0)


def encode_boxes(raw: torch.Tensor, kind: str, bands: int, scale: float) -> torch.Tensor:
    """[..., 9] raw boxes -> [..., box_encoding_dim]: raw values + sin/cos of centre and size.

    Frequencies 2^k * 2pi / scale for k < bands: the lowest band spans ``scale`` metres
    (room size), the highest resolves ~scale / 2^bands (a few cm at the defaults).
    """
    if kind != "fourier":
        return raw
    geo = raw[..., :6]
    freqs = (2.0 ** torch.arange(bands, dtype=raw.dtype, device=raw.device)) * (2 * math.pi / scale)
    ang = geo.unsqueeze(-1) * freqs  # [..., 6, bands]
    four = torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1).flatten(-2)
    return torch.cat([raw, four], dim=-1)
