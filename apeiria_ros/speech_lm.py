"""A domain language model for spoken instructions (pure Python, no ROS).

pocketsphinx's general English LM turns "the red office chair next to the white desk"
into "that meant are used to earn it but why then", and a word-loop grammar over the
vocabulary is both inaccurate and slow (measured in benchmarks/bench_speech.py). What
operators say is narrow: the instruction generator's phrasings over object names. So
the recogniser gets a trigram model estimated from generated instructions, with the
object names of the current scene put into the generator's sentence frames, written as
an ARPA file that pocketsphinx loads.

Estimation: absolute discounting with back-off (Katz-style back-off weights), which is
what an ARPA file can express exactly; counts are small (a few thousand sentences), so
there is no pruning.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

BOS, EOS = "<s>", "</s>"
_WORD = re.compile(r"[a-z']+")
SLOT = "{x}"


def words(text: str) -> list[str]:
    """Lower-case word tokens the recogniser can output (punctuation dropped)."""
    return _WORD.findall(text.lower())


@functools.lru_cache(maxsize=4)
def _generated(n_scenes: int, seed: int) -> tuple[str, ...]:
    return tuple(generated_instructions(n_scenes, seed))


def generated_instructions(n_scenes: int = 40, seed: int = 0) -> list[str]:
    """Instructions of every kind the generator writes (grounding, counting, colour
    questions; train and held-out phrasings) over ``n_scenes`` generated rooms."""
    from apeiria_model.data.generator import iter_scene_records

    out: list[str] = []
    for _split, rec in iter_scene_records(n_scenes, seed):
        for kind in ("grounding", "stage2"):
            out.extend(r["instruction"] for r in rec[kind])
    return out


def _name_forms() -> dict[str, bool]:
    """Every way the generator names an object class -> whether the form is plural."""
    from apeiria_model.data.categories import CATEGORIES, pluralize

    forms: dict[str, bool] = {}
    for c in CATEGORIES.values():
        for name in (c.label, *c.train_synonyms, *c.heldout_synonyms):
            forms[name.lower()] = False
            forms[pluralize(name.lower())] = True
    return forms


def _with_synonyms(names: list[str]) -> list[str]:
    """The names plus the synonyms people use for the known categories among them
    (a scene's "sofa" may be asked for as "couch")."""
    from apeiria_model.data.categories import CATEGORIES

    out = set(names)
    for n in names:
        c = CATEGORIES.get(n)
        if c is not None:
            out.update(s.lower() for s in c.train_synonyms)
    return sorted(out)


def _name_pattern(forms: dict[str, bool]) -> re.Pattern:
    # longest first, so "office chair" wins over "chair"
    names = sorted(forms, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")


def object_frames(sentences: Iterable[str], forms: dict[str, bool] | None = None) -> list[tuple[str, list[bool]]]:
    """Sentences with every object name replaced by ``{x}``: (frame, plural flag per slot)."""
    forms = _name_forms() if forms is None else forms
    pattern = _name_pattern(forms)
    frames = []
    for s in sentences:
        text = " ".join(words(s))
        plural = [forms[m.group(1)] for m in pattern.finditer(text)]
        frames.append((pattern.sub(SLOT, text), plural))
    return frames


def adapted_corpus(base: list[str], vocabulary: Iterable[str], copies: int = 3, seed: int = 0) -> list[str]:
    """The generator's sentences with their object names (labels and synonyms) swapped
    for the vocabulary's names and their synonyms (``copies`` random fillings of each
    sentence; plural slots get plurals), so the
    model expects exactly the objects of this scene, in every context the generator
    uses. An empty vocabulary leaves ``base`` as it is."""
    from apeiria_model.data.categories import pluralize

    names = sorted({" ".join(words(v)) for v in vocabulary} - {""})
    if not names:
        return [" ".join(words(s)) for s in base]
    names = _with_synonyms(names)
    rng = np.random.default_rng(seed)
    out = []
    for frame, plural in object_frames(base):
        for _ in range(copies if plural else 1):
            text = frame
            for pl in plural:
                name = names[int(rng.integers(len(names)))]
                text = text.replace(SLOT, pluralize(name) if pl else name, 1)
            out.append(text)
    return out


def estimate_arpa(sentences: Iterable[str], order: int = 3, discount: float = 0.7,
                  keep: Callable[[str], bool] | None = None) -> str:
    """An ARPA back-off n-gram model of ``sentences``.

    Sentences with a word ``keep`` rejects (not in the recogniser's dictionary) are left
    out whole, so no n-gram spans a gap. Unigrams get add-0.1 smoothing; higher orders
    subtract ``discount`` from each seen count and give that mass to the back-off."""
    if order < 1 or not 0.0 < discount < 1.0:
        raise ValueError("order must be >= 1 and discount in (0, 1)")
    counts: list[Counter] = [Counter() for _ in range(order + 1)]  # counts[n][tuple of n words]
    n_sent = 0
    for s in sentences:
        toks = words(s)
        if not toks or (keep is not None and not all(keep(t) for t in toks)):
            continue
        n_sent += 1
        seq = [BOS] + toks + [EOS]  # one <s>: the recogniser's start-of-sentence context
        for n in range(1, order + 1):
            for i in range(len(seq) - n + 1):
                gram = tuple(seq[i:i + n])
                if gram[-1] != BOS:
                    counts[n][gram] += 1
    if n_sent == 0:
        raise ValueError("no usable sentence to estimate a language model from")

    vocab = sorted({g[0] for g in counts[1]} | {EOS})
    total = sum(counts[1].values())
    uni = {w: (counts[1][(w,)] + 0.1) / (total + 0.1 * len(vocab)) for w in vocab}
    prob: list[dict[tuple, float]] = [{}, {(w,): p for w, p in uni.items()}]
    prob[1][(BOS,)] = 0.0
    bow: list[dict[tuple, float]] = [{} for _ in range(order + 1)]

    def p_full(gram: tuple) -> float:
        """Back-off probability of gram[-1] after gram[:-1] from the lower orders."""
        if len(gram) == 1:
            return prob[1].get(gram, 0.0)
        p = prob[len(gram)].get(gram)
        if p is not None:
            return p
        return bow[len(gram) - 1].get(gram[:-1], 1.0) * p_full(gram[1:])

    for n in range(2, order + 1):
        followers: dict[tuple, list[tuple]] = defaultdict(list)
        hist_total: Counter = Counter()
        for gram, c in counts[n].items():
            followers[gram[:-1]].append(gram)
            hist_total[gram[:-1]] += c
        prob.append({})
        for h, grams in followers.items():
            ch = hist_total[h]
            for g in grams:
                prob[n][g] = (counts[n][g] - discount) / ch
            left = discount * len(grams) / ch
            lower = sum(p_full(g[1:]) for g in grams)
            bow[n - 1][h] = left / max(1e-12, 1.0 - lower)

    def lg(x: float) -> float:
        return math.log10(x) if x > 0 else -99.0

    lines = ["", "\\data\\"] + [f"ngram {n}={len(prob[n])}" for n in range(1, order + 1)]
    for n in range(1, order + 1):
        lines += ["", f"\\{n}-grams:"]
        for g in sorted(prob[n]):
            entry = f"{lg(prob[n][g]):.6f}\t{' '.join(g)}"
            if n < order:
                entry += f"\t{lg(bow[n].get(g, 1.0)):.6f}"
            lines.append(entry)
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)


def domain_lm(vocabulary: Iterable[str], cache_dir: str | Path, keep: Callable[[str], bool] | None = None,
              n_scenes: int = 40, seed: int = 0) -> Path:
    """The ARPA file for this vocabulary, built once and cached under ``cache_dir``
    (keyed by the vocabulary, corpus size and seed)."""
    vocab = sorted({" ".join(words(v)) for v in vocabulary} - {""})
    key = hashlib.sha256(repr((vocab, n_scenes, seed, 2)).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"instructions-{key}.arpa"
    if path.is_file():
        return path
    text = estimate_arpa(adapted_corpus(list(_generated(n_scenes, seed)), vocab, seed=seed), keep=keep)
    from apeiria_model.atomic_io import write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    return path
