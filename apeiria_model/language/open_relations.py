"""Open-vocabulary relation phrases: "perched on", "adjoining", "a long way from".

The parser knows its relation phrases from ``lexicon.RELATION_PHRASES``. When it meets
words it cannot place, followed by an object ("the lamp adjoining the bed"), it can ask
a *resolver* whether those words say a spatial relation. :class:`RelationResolver`
answers with sentence embeddings: the phrase's cosine similarity to every known relation
phrase; the best one wins if it reaches the calibrated threshold, else the words stay
ignored (reported to the user). Without the embedding model it resolves nothing.

Calibrated on ``relation_paraphrases.tsv`` (74 hand-written phrases the lexicon does not
contain: 51 spatial ones with their relation, 23 non-spatial ones such as "made of",
"similar to", "brighter than" that must not become relations); measured with
``python -m apeiria_model.language.open_relations``. The threshold is chosen on the same
list (no separate test set), so the numbers printed there are optimistic.
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path

import numpy as np

from apeiria_model.language import lexicon as lx

PARAPHRASES_PATH = Path(__file__).with_name("relation_paraphrases.tsv")
# Chosen for precision (a wrong relation gives a wrong answer; an unresolved phrase is
# only ignored and reported): at 0.8 on the paraphrase list 18 correct, 1 wrong
# relation, 0 false alarms on the 23 non-spatial phrases, 32 of 51 missed (precision
# 0.947, recall 0.353); 0.7 gives precision 0.833, recall 0.49.
RELATION_THRESHOLD = 0.8
# Only plain binary relations and anchor superlatives are resolved: "between" needs the
# parser's two-anchor syntax anyway.
_KINDS = ("rel", "anchor")


class RelationResolver:
    """phrase -> (kind, relation) or None, by nearest known relation phrase embedding."""

    def __init__(self, matcher, threshold: float = RELATION_THRESHOLD):
        self.matcher = matcher
        self.threshold = float(threshold)
        self._lock = threading.Lock()
        self._known: tuple[list[tuple[str, ...]], np.ndarray] | None = None
        self._cache: dict[str, tuple[str, str] | None] = {}

    def _known_phrases(self):
        with self._lock:
            if self._known is None:
                phrases = [p for p, (kind, _) in lx.RELATION_PHRASES.items() if kind in _KINDS]
                vecs = self.matcher.embed([" ".join(p) for p in phrases])
                self._known = (phrases, vecs) if vecs is not None else ([], np.zeros((0, 1)))
            return self._known

    def similarity(self, phrase: str) -> tuple[tuple[str, str] | None, float]:
        """(best (kind, relation), cosine) for ``phrase``; (None, 0.0) without a model."""
        phrases, vecs = self._known_phrases()
        if not phrases:
            return None, 0.0
        v = self.matcher.embed([phrase])
        if v is None:
            return None, 0.0
        sims = vecs @ v[0]
        k = int(np.argmax(sims))
        return lx.RELATION_PHRASES[phrases[k]], float(sims[k])

    def __call__(self, phrase: str) -> tuple[str, str] | None:
        if phrase in self._cache:
            return self._cache[phrase]
        best, sim = self.similarity(phrase)
        out = best if best is not None and sim >= self.threshold else None
        if len(self._cache) < 10_000:
            self._cache[phrase] = out
        return out


def load_paraphrases(path: Path = PARAPHRASES_PATH) -> list[tuple[str, str | None]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("phrase\t"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected 'phrase<TAB>relation|none', got {line!r}")
        rows.append((parts[0].strip(), None if parts[1].strip() == "none" else parts[1].strip()))
    return rows


def _equivalent(got: str | None, want: str | None) -> bool:
    # near and next_to differ only in distance threshold: either is an acceptable reading
    close = {"near", "next_to"}
    below = {"under", "below"}
    if got == want:
        return True
    return got is not None and want is not None and ({got, want} <= close or {got, want} <= below)


def evaluate(resolver: RelationResolver, threshold: float | None = None) -> dict:
    """Precision = resolved phrases given the right relation; recall = spatial phrases resolved
    correctly; false alarms = non-spatial phrases turned into a relation."""
    rows = load_paraphrases()
    t = resolver.threshold if threshold is None else threshold
    right = wrong = missed = false_alarm = 0
    for phrase, want in rows:
        best, sim = resolver.similarity(phrase)
        got = best[1] if best is not None and sim >= t else None
        if want is None:
            false_alarm += int(got is not None)
        elif got is None:
            missed += 1
        elif _equivalent(got, want):
            right += 1
        else:
            wrong += 1
    resolved = right + wrong + false_alarm
    spatial = sum(1 for _, w in rows if w is not None)
    return {"threshold": round(t, 3), "phrases": len(rows), "correct": right, "wrong_relation": wrong,
            "missed": missed, "false_alarms": false_alarm,
            "precision": round(right / resolved, 3) if resolved else 0.0,
            "recall": round(right / spatial, 3) if spatial else 0.0}


@functools.lru_cache(maxsize=1)
def default_resolver() -> RelationResolver:
    from apeiria_model.language.open_vocab import default_matcher

    return RelationResolver(default_matcher())


if __name__ == "__main__":
    r = default_resolver()
    grid = [evaluate(r, t) for t in np.round(np.arange(0.5, 0.95, 0.05), 2)]
    print(json.dumps({"at_threshold": evaluate(r), "grid": grid}, indent=1))
