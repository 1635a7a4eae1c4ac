"""numpy <-> sensor_msgs/Image for the encodings apeiria uses (cv_bridge is not
installable from wheels; this is its job for rgb8, bgr8, mono8, 16UC1, 32FC1).

Reading respects ``step`` (row padding) and ``is_bigendian``; anything else raises
:class:`ImageConversionError` naming the problem, never a bare numpy error.
"""

from __future__ import annotations

import sys

import numpy as np

# encoding -> (dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "mono8": (np.dtype(np.uint8), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}
# Refuse absurd headers before allocating anything (a 16k x 16k RGB image is 768 MB).
MAX_PIXELS = 8192 * 8192


class ImageConversionError(ValueError):
    """A sensor_msgs/Image that cannot be read as the requested kind of array."""


def image_to_numpy(msg) -> np.ndarray:
    """[H, W, 3] uint8 for rgb8/bgr8 (channel order as encoded), [H, W] otherwise.

    The array is a copy in native byte order: safe to keep after the message is gone.
    """
    enc = msg.encoding
    if enc not in ENCODINGS:
        raise ImageConversionError(f"unsupported image encoding '{enc}' (supported: {', '.join(ENCODINGS)})")
    dtype, ch = ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h <= 0 or w <= 0:
        raise ImageConversionError(f"image has no pixels ({w}x{h})")
    if h * w > MAX_PIXELS:
        raise ImageConversionError(f"image {w}x{h} exceeds {MAX_PIXELS} pixels")
    row_bytes = w * ch * dtype.itemsize
    if step < row_bytes:
        raise ImageConversionError(f"step {step} < width*channels*bytes {row_bytes} for {enc} {w}x{h}")
    buf = np.frombuffer(msg.data, dtype=np.uint8) if not isinstance(msg.data, np.ndarray) else msg.data.view(np.uint8)
    if buf.size < step * (h - 1) + row_bytes:
        raise ImageConversionError(f"data has {buf.size} bytes, {enc} {w}x{h} with step {step} needs {step * h}")
    rows = np.lib.stride_tricks.as_strided(buf, shape=(h, row_bytes), strides=(step, 1))
    arr = np.ascontiguousarray(rows).view(dtype.newbyteorder(">" if msg.is_bigendian else "<"))
    arr = arr.astype(dtype.newbyteorder("="), copy=False)
    return arr.reshape(h, w, ch) if ch > 1 else arr.reshape(h, w)


def image_to_rgb(msg) -> np.ndarray:
    """Colour image as uint8 [H, W, 3] RGB (bgr8 swapped, mono8 replicated)."""
    arr = image_to_numpy(msg)
    if msg.encoding == "rgb8":
        return arr
    if msg.encoding == "bgr8":
        return np.ascontiguousarray(arr[..., ::-1])
    if msg.encoding == "mono8":
        return np.repeat(arr[..., None], 3, axis=2)
    raise ImageConversionError(f"'{msg.encoding}' is not a colour encoding (expected rgb8, bgr8 or mono8)")


def image_to_depth_m(msg, depth_scale_16u: float = 0.001) -> np.ndarray:
    """Depth image as float32 metres, NaN where missing (16UC1 millimetres: 0 = missing)."""
    arr = image_to_numpy(msg)
    if msg.encoding in ("16UC1", "mono16"):
        out = arr.astype(np.float32) * np.float32(depth_scale_16u)
        out[arr == 0] = np.nan
        return out
    if msg.encoding == "32FC1":
        out = arr.astype(np.float32, copy=True)
        out[~np.isfinite(out) | (out <= 0)] = np.nan
        return out
    raise ImageConversionError(f"'{msg.encoding}' is not a depth encoding (expected 16UC1 or 32FC1)")


def numpy_to_image(arr: np.ndarray, encoding: str, header=None):
    """Build a sensor_msgs/Image (little-endian, tightly packed) from an array."""
    from sensor_msgs.msg import Image

    if encoding not in ENCODINGS:
        raise ImageConversionError(f"unsupported image encoding '{encoding}' (supported: {', '.join(ENCODINGS)})")
    dtype, ch = ENCODINGS[encoding]
    a = np.asarray(arr)
    want_ndim = 3 if ch > 1 else 2
    if a.ndim != want_ndim or (ch > 1 and a.shape[2] != ch):
        raise ImageConversionError(f"{encoding} needs shape {'[H, W, 3]' if ch > 1 else '[H, W]'}, got {list(a.shape)}")
    a = np.ascontiguousarray(a.astype(dtype.newbyteorder("<"), copy=False))
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(a.shape[0]), int(a.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(a.shape[1] * ch * dtype.itemsize)
    msg.data = a.tobytes()
    return msg


def depth_to_image(depth_m: np.ndarray, encoding: str = "16UC1", header=None):
    """float metres (NaN/<=0 = missing) -> 16UC1 millimetres (0 = missing) or 32FC1 (NaN)."""
    d = np.asarray(depth_m, dtype=np.float32)
    if encoding == "16UC1":
        mm = np.where(np.isfinite(d) & (d > 0), np.clip(np.rint(d * 1000.0), 0, 65535), 0).astype(np.uint16)
        return numpy_to_image(mm, "16UC1", header)
    if encoding == "32FC1":
        return numpy_to_image(np.where(np.isfinite(d) & (d > 0), d, np.nan).astype(np.float32), "32FC1", header)
    raise ImageConversionError(f"depth encoding must be 16UC1 or 32FC1, got '{encoding}'")


NATIVE_BIG_ENDIAN = sys.byteorder == "big"
