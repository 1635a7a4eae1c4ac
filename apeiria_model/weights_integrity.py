"""Weights that prove their integrity: a SHA-256 manifest per model folder, and a
finiteness check of every tensor loaded.

``MANIFEST.sha256`` lists ``<hex digest>  <file name>`` lines (the ``sha256sum``
format, so ``sha256sum -c MANIFEST.sha256`` checks a folder by hand too). Every shipped
model folder (``apeiria_model/assets/model``, ``apeiria_model/assets/perception``) has
one; ``save_pretrained`` writes one; loaders verify it when present. Regenerate after
retraining with ``python -m apeiria_model.weights_integrity FOLDER``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

MANIFEST = "MANIFEST.sha256"
# Documentation and logs beside the weights may change freely.
NOT_LISTED = (".md", ".log", ".jsonl", ".png")


class WeightsIntegrityError(ValueError):
    """A weights file does not match its manifest, or holds NaN / infinite values."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: str | Path, names: list[str] | None = None) -> Path:
    """Write ``folder/MANIFEST.sha256`` over ``names`` (default: every file but itself,
    hidden files, and documentation / logs)."""
    folder = Path(folder)
    if names is None:
        names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST
                       and not p.name.startswith(".") and p.suffix not in NOT_LISTED)
    lines = [f"{sha256_file(folder / n)}  {n}" for n in names]
    out = folder / MANIFEST
    out.write_text("\n".join(lines) + "\n")
    return out


def read_manifest(folder: str | Path) -> dict[str, str] | None:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    entries: dict[str, str] = {}
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or "/" in name:
            raise WeightsIntegrityError(f"{path}:{i}: not a '<sha256>  <file>' line")
        entries[name.strip()] = digest.lower()
    return entries


def verify_manifest(folder: str | Path, only: list[str] | None = None) -> bool:
    """Check the files of ``folder`` (or just ``only``) against its manifest.

    Returns False when the folder has no manifest; raises WeightsIntegrityError naming
    the file on a mismatch, a missing listed file, or a file in ``only`` not listed.
    """
    folder = Path(folder)
    entries = read_manifest(folder)
    if entries is None:
        return False
    for name in (only if only is not None else sorted(entries)):
        if name not in entries:
            raise WeightsIntegrityError(f"{folder / name} is not listed in {folder / MANIFEST}")
        path = folder / name
        if not path.is_file():
            raise WeightsIntegrityError(f"{path} is missing (listed in {folder / MANIFEST})")
        if sha256_file(path) != entries[name]:
            raise WeightsIntegrityError(f"{path} does not match its SHA-256 in {folder / MANIFEST} "
                                        "(corrupted or modified)")
    return True


def check_finite(state: dict, source: str) -> None:
    """Raise WeightsIntegrityError naming the first floating tensor with NaN / inf."""
    import torch

    for name, t in state.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise WeightsIntegrityError(f"{source}: tensor {name} has {bad} non-finite value(s) (NaN / inf)")


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["."]:
        print(write_manifest(arg))
