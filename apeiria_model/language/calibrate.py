"""Calibrate the open-vocabulary matcher's threshold on ``calibration_pairs.tsv``.

``python -m apeiria_model.language.calibrate`` prints the F1-maximising threshold of
``max(lexical, cosine)`` over the labelled pairs, precision / recall / F1 there, and a
5-fold cross-validated F1 (threshold chosen on 4 folds, scored on the fifth), which is
the honest estimate for new pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PAIRS_PATH = Path(__file__).with_name("calibration_pairs.tsv")


@dataclass(frozen=True)
class Pair:
    concept: str
    label: str
    should_match: bool


def load_pairs(path: Path = PAIRS_PATH) -> list[Pair]:
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("concept\t"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[2].strip() not in ("0", "1"):
            raise ValueError(f"{path}:{n}: expected 'concept<TAB>label<TAB>0|1', got {line!r}")
        pairs.append(Pair(parts[0].strip(), parts[1].strip(), parts[2].strip() == "1"))
    return pairs


def pair_scores(pairs: list[Pair], matcher=None) -> np.ndarray:
    """The matcher's label score for each pair (no scene context, so no exact-match rule)."""
    from apeiria_model.language.open_vocab import EmbeddingConceptMatcher
    from apeiria_model.programs.concepts import split_concept

    from apeiria_model.programs.concepts import normalise_phrase

    matcher = matcher or EmbeddingConceptMatcher()
    heads = [split_concept(p.concept)[2] for p in pairs]
    # one batch for every phrase; label_scores then reads the cache
    matcher.embed(list(dict.fromkeys(heads + [normalise_phrase(p.label) for p in pairs])))
    out = np.zeros(len(pairs))
    for k, (p, head) in enumerate(zip(pairs, heads)):
        s, _ = matcher.label_scores(head, [p.label])
        out[k] = s[0]
    return out


def prf(scores: np.ndarray, truth: np.ndarray, threshold: float) -> dict:
    pred = scores >= threshold
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"threshold": round(float(threshold), 3), "precision": round(p, 3), "recall": round(r, 3),
            "f1": round(f, 3), "tp": tp, "fp": fp, "fn": fn}


def best_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """F1-maximising cut on a 0.01 grid; ties go to the higher (more precise) threshold."""
    best, best_f = 0.5, -1.0
    for t in np.round(np.arange(0.30, 0.99, 0.01), 2):
        f = prf(scores, truth, t)["f1"]
        if f >= best_f:
            best, best_f = float(t), f
    return best


def cross_validated(scores: np.ndarray, truth: np.ndarray, folds: int = 5, seed: int = 0) -> dict:
    idx = np.random.default_rng(seed).permutation(len(scores))
    pred = np.zeros(len(scores), dtype=bool)
    for f in range(folds):
        test = idx[f::folds]
        train = np.setdiff1d(idx, test)
        t = best_threshold(scores[train], truth[train])
        pred[test] = scores[test] >= t
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 3)}


def simulate_scenes(pairs: list[Pair], n_distractors: int = 12, seed: int = 0):
    """Scene-like trials from the pairs: for every concept with a positive label, one
    'present' trial per positive (that label among random distractors) and one 'absent'
    trial (distractors only). Distractors never include a label marked as a match."""
    rng = np.random.default_rng(seed)
    labels = sorted({p.label for p in pairs})
    pos: dict[str, set[str]] = {}
    for p in pairs:
        if p.should_match:
            pos.setdefault(p.concept, set()).add(p.label)
    trials = []  # (concept, scene labels, wanted label or None)
    for concept, good in sorted(pos.items()):
        pool = [lab for lab in labels if lab not in good and lab != concept]
        for lab in sorted(good):
            d = list(rng.choice(pool, size=min(n_distractors, len(pool)), replace=False))
            trials.append((concept, d + [lab], lab))
        d = list(rng.choice(pool, size=min(n_distractors, len(pool)), replace=False))
        trials.append((concept, d, None))
    return trials


def evaluate_fallback(matcher, trials, floor: float, margin: float) -> dict:
    """Selection quality when the best label is taken below threshold (``floor``/``margin``)."""
    from apeiria_model.scene.model import SceneObject

    old = (matcher.fallback_floor, matcher.fallback_margin)
    matcher.fallback_floor, matcher.fallback_margin = floor, margin
    tp = fp = fn = 0
    try:
        for concept, scene_labels, wanted in trials:
            objs = [SceneObject(i, lab, (float(i), 0.0, 0.5), (0.5, 0.5, 1.0)) for i, lab in enumerate(scene_labels)]
            keep = matcher.scores(concept, objs) >= matcher.threshold
            chosen = {lab for lab, k in zip(scene_labels, keep) if k}
            if wanted is not None:
                tp += int(wanted in chosen)
                fn += int(wanted not in chosen)
            fp += len(chosen - ({wanted} if wanted else set()))
    finally:
        matcher.fallback_floor, matcher.fallback_margin = old
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"floor": floor, "margin": margin, "precision": round(p, 3), "recall": round(r, 3),
            "f1": round(2 * p * r / (p + r) if p + r else 0.0, 3), "tp": tp, "fp": fp, "fn": fn}


def calibrate_fallback(matcher=None) -> dict:
    """Grid-search the best-label fallback on simulated scenes; 'off' is floor 1.0."""
    from apeiria_model.language.open_vocab import EmbeddingConceptMatcher

    matcher = matcher or EmbeddingConceptMatcher()
    pairs = load_pairs()
    pair_scores(pairs, matcher)  # batch-embed every phrase once
    trials = simulate_scenes(pairs)
    off = evaluate_fallback(matcher, trials, 1.0, 1.0)
    grid = [evaluate_fallback(matcher, trials, f, m) for f in (0.35, 0.4, 0.45, 0.5, 0.55)
            for m in (0.05, 0.1, 0.15, 0.2)]
    best = max(grid, key=lambda g: (g["f1"], g["precision"]))
    return {"trials": len(trials), "off": off, "best": best}


def calibrate(matcher=None) -> dict:
    pairs = load_pairs()
    truth = np.array([p.should_match for p in pairs])
    scores = pair_scores(pairs, matcher)
    t = best_threshold(scores, truth)
    result = {"pairs": len(pairs), "positives": int(truth.sum()), **prf(scores, truth, t),
              "cross_validated": cross_validated(scores, truth)}
    result["errors"] = [f"{p.concept} / {p.label}: {s:.2f} (want {'match' if p.should_match else 'no'})"
                        for p, s in zip(pairs, scores) if (s >= t) != p.should_match]
    return result


if __name__ == "__main__":
    print(json.dumps(calibrate(), indent=1))
    print(json.dumps(calibrate_fallback(), indent=1))
