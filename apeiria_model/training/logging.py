"""Training logs: one JSON object a line (always), TensorBoard scalars (when installed)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class RunLogger:
    def __init__(self, run_dir: str | Path, stage: str, tensorboard: bool = True):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stage = stage
        self.path = self.dir / "metrics.jsonl"
        self._f = self.path.open("a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
                self._tb = SummaryWriter(str(self.dir / "tb"))
            except Exception:  # not installed: JSON Lines are the record
                self._tb = None

    def log(self, step: int, split: str, metrics: dict[str, Any]) -> None:
        rec = {"time": round(time.time(), 3), "stage": self.stage, "split": split, "step": step}
        rec.update({k: (round(v, 6) if isinstance(v, float) else v) for k, v in metrics.items()})
        self._f.write(json.dumps(rec) + "\n")
        self._f.flush()
        if self._tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)):
                    self._tb.add_scalar(f"{self.stage}/{split}/{k}", v, step)

    def close(self) -> None:
        self._f.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: str | Path) -> list[dict]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out
