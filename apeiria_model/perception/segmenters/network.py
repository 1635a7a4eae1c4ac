"""PointNet-style per-segment classifier: category logits + a per-object feature vector.

Small on purpose (~90k parameters): it runs on every segment of every frame on a CPU.
The penultimate activation (``feature_dim`` numbers) is the object's appearance /
geometry feature published in the scene and used by the neural reasoner.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from apeiria_model.perception.features import EXTRA_DIM, N_POINTS, POINT_DIM


@dataclass
class NetworkSpec:
    classes: tuple[str, ...]
    n_points: int = N_POINTS
    point_dim: int = POINT_DIM
    extra_dim: int = EXTRA_DIM
    width: int = 64        # first per-point layer; then 2x, 4x
    feature_dim: int = 64  # penultimate layer = published object feature

    def to_json(self) -> str:
        d = asdict(self)
        d["classes"] = list(self.classes)
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> "NetworkSpec":
        d = json.loads(text)
        d["classes"] = tuple(d["classes"])
        return cls(**d)


class SegmentClassifier(nn.Module):
    def __init__(self, spec: NetworkSpec):
        super().__init__()
        self.spec = spec
        w = spec.width
        self.point_mlp = nn.Sequential(
            nn.Linear(spec.point_dim, w), nn.ReLU(),
            nn.Linear(w, 2 * w), nn.ReLU(),
            nn.Linear(2 * w, 4 * w), nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Linear(4 * w + spec.extra_dim, 2 * w), nn.ReLU(),
            nn.Linear(2 * w, spec.feature_dim), nn.ReLU(),
        )
        self.classifier = nn.Linear(spec.feature_dim, len(spec.classes))

    def forward(self, points: torch.Tensor, extra: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points [B, N, point_dim], extra [B, extra_dim] -> (logits [B, C], features [B, F])."""
        g = self.point_mlp(points).amax(dim=1)  # symmetric pooling: point order does not matter
        feat = self.head(torch.cat([g, extra], dim=-1))
        return self.classifier(feat), feat


def save_weights(model: SegmentClassifier, path: str | Path) -> None:
    from safetensors.torch import save_file
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"spec": model.spec.to_json(), "format": "apeiria-segment-classifier/1"})


def load_weights(path: str | Path) -> SegmentClassifier:
    from safetensors import safe_open
    from safetensors.torch import load_file

    from apeiria_model.weights_integrity import check_finite, verify_manifest

    verify_manifest(Path(path).parent, only=[Path(path).name])  # when the folder has a manifest
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if "spec" not in meta:
        raise ValueError(f"{path}: not an apeiria segment classifier (no 'spec' metadata)")
    model = SegmentClassifier(NetworkSpec.from_json(meta["spec"]))
    state = load_file(str(path))
    check_finite(state, str(path))
    model.load_state_dict(state)
    model.eval()
    return model
