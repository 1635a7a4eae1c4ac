"""Room context for object labels: what else is in the room says what kind of room it is,
and the kind of room says which label of a look-alike pair is likely (a desk in an office,
a dining table in a dining room, a counter in a kitchen, a dresser in a bedroom).

A naive-Bayes room-type model learned from labelled rooms (the generator's training
rooms): ``P(room type)`` and ``P(label | room type)`` from object counts, add-one
smoothed. At publish time each object's label distribution ``q_i`` (its fused class
votes) is reweighted by ``(P(c | room) / P(c)) ** strength``, where the room posterior
is computed from every *other* object of the map (leave-one-out: an object never
votes for its own context):

    log P(room | others) = log P(room) + sum_{j != i} log sum_c q_j(c) P(c | room)

This is a learned prior: it helps where the room's statistics resemble the rooms it
was fitted on, and ``strength`` 0 turns it off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

FORMAT = "apeiria-room-context/1"
DEFAULT_CONTEXT = Path(__file__).resolve().parents[1] / "assets" / "perception" / "room_context.json"


class RoomContextError(ValueError):
    """A room-context file or fit input that cannot be used (names the problem)."""


@dataclass
class RoomContext:
    room_types: tuple[str, ...]
    labels: tuple[str, ...]
    log_prior: np.ndarray          # [R] log P(room type)
    log_p_label: np.ndarray        # [R, L] log P(label | room type)
    n_rooms: int = 0

    @classmethod
    def fit(cls, rooms: Iterable[tuple[str, Sequence[str]]], smoothing: float = 1.0) -> "RoomContext":
        """From (room type, labels of its objects) pairs."""
        rooms = list(rooms)
        if not rooms:
            raise RoomContextError("no rooms to fit on")
        if not (np.isfinite(smoothing) and smoothing > 0):
            raise RoomContextError(f"smoothing must be > 0, got {smoothing!r}")
        types = tuple(sorted({str(t) for t, _ in rooms}))
        labels = tuple(sorted({str(x) for _, ls in rooms for x in ls}))
        if not labels:
            raise RoomContextError("the rooms hold no labelled objects")
        ti, li = {t: k for k, t in enumerate(types)}, {x: k for k, x in enumerate(labels)}
        n_room = np.zeros(len(types))
        counts = np.zeros((len(types), len(labels)))
        for t, ls in rooms:
            n_room[ti[str(t)]] += 1
            for x in ls:
                counts[ti[str(t)], li[str(x)]] += 1
        p_label = (counts + smoothing) / (counts.sum(axis=1, keepdims=True) + smoothing * len(labels))
        return cls(types, labels, np.log(n_room / n_room.sum()), np.log(p_label), len(rooms))

    # ------------------------------------------------------------------ inference
    def relabel(self, distributions: Sequence[Mapping[str, float]], strength: float = 1.0
                ) -> list[tuple[str, float] | None]:
        """Per object: (label, share of its reweighted distribution), or None when it has no votes.

        ``distributions``: per object, class -> non-negative weight (fused votes). Labels
        this model does not know keep their weight and get no context factor.
        """
        if not (isinstance(strength, (int, float)) and np.isfinite(strength) and strength >= 0):
            raise RoomContextError(f"strength must be a finite number >= 0, got {strength!r}")
        li = {x: k for k, x in enumerate(self.labels)}
        p_label = np.exp(self.log_p_label)                       # [R, L]
        marginal = np.exp(self.log_prior) @ p_label              # [L] P(label)
        qs: list[dict[str, float] | None] = []
        like = np.zeros((len(distributions), len(self.room_types)))  # log sum_c q(c) P(c | room)
        for i, d in enumerate(distributions):
            q = {str(k): float(v) for k, v in d.items() if np.isfinite(v) and v > 0}
            total = sum(q.values())
            if total <= 0:
                qs.append(None)
                continue
            q = {k: v / total for k, v in q.items()}
            qs.append(q)
            known = [(li[k], v) for k, v in q.items() if k in li]
            if known:
                idx, w = np.array([k for k, _ in known]), np.array([v for _, v in known])
                # unknown labels spread their mass evenly over room types (no evidence)
                rest = 1.0 - w.sum()
                like[i] = np.log(p_label[:, idx] @ w + rest * marginal[idx].mean() + 1e-12)
        total_like = like.sum(axis=0)
        out: list[tuple[str, float] | None] = []
        for i, q in enumerate(qs):
            if q is None:
                out.append(None)
                continue
            post = self.log_prior + total_like - like[i]          # leave-one-out
            post = np.exp(post - post.max())
            post /= post.sum()
            scores = {}
            for k, v in q.items():
                if k in li and strength > 0:
                    ratio = float(post @ p_label[:, li[k]]) / float(marginal[li[k]])
                    scores[k] = v * ratio ** strength
                else:
                    scores[k] = v
            z = sum(scores.values())
            best = max(scores, key=lambda k: (scores[k], k))
            out.append((best, scores[best] / z if z > 0 else 0.0))
        return out

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        return {"format": FORMAT, "n_rooms": self.n_rooms, "room_types": list(self.room_types),
                "labels": list(self.labels), "log_prior": [round(float(x), 6) for x in self.log_prior],
                "log_p_label": [[round(float(x), 6) for x in row] for row in self.log_p_label]}

    def save(self, path: str | Path) -> None:
        from apeiria_model.atomic_io import write_json_atomic
        write_json_atomic(path, self.to_dict(), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> "RoomContext":
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RoomContextError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RoomContextError(f"{path}: not a readable JSON file: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise RoomContextError(f"{path}: not a room-context file (format must be {FORMAT!r})")
        try:
            types = tuple(str(x) for x in doc["room_types"])
            labels = tuple(str(x) for x in doc["labels"])
            prior = np.asarray(doc["log_prior"], float)
            table = np.asarray(doc["log_p_label"], float)
        except (KeyError, TypeError, ValueError) as e:
            raise RoomContextError(f"{path}: missing or malformed field: {e}") from None
        if prior.shape != (len(types),) or table.shape != (len(types), len(labels)) or not types or not labels:
            raise RoomContextError(f"{path}: log_prior must be [{len(types)}] and log_p_label "
                                   f"[{len(types)}, {len(labels)}], got {prior.shape} and {table.shape}")
        if not (np.isfinite(prior).all() and np.isfinite(table).all()) or (prior > 0).any() or (table > 0).any():
            raise RoomContextError(f"{path}: log probabilities must be finite and <= 0")
        return cls(types, labels, prior, table, int(doc.get("n_rooms", 0)))


def fit_generated(seeds: Iterable[int]) -> RoomContext:
    """Fit on the generator's rooms with these seeds (scenes only, nothing rendered)."""
    from apeiria_model.data.rooms import generate_room
    rooms = []
    for s in seeds:
        r = generate_room(np.random.default_rng(int(s)), scene_id=f"ctx_{s}")
        rooms.append((r.room_type, [o.label for o in r.scene.objects]))
    return RoomContext.fit(rooms)
