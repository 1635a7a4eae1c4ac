"""Tokenizers: a compact byte-level BPE trained on the traces, or a pretrained one.

Decoding speed on a CPU is paid per token, so the small model's tokenizer is trained
on the very text it must write (instructions + traces): frequent words and object IDs
become single tokens and a whole compact trace is a few dozen tokens. Byte-level BPE
still encodes any UTF-8 text (open vocabulary), falling back to bytes.

Both kinds expose the same small interface (:class:`TextTokenizer`): ``encode`` /
``decode`` / ``pad_id`` / ``bos_id`` / ``eos_id`` / ``obj_id`` / ``vocab_size`` / ``save``.
``obj_id`` is the placeholder whose embedding is replaced by an object token.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator, Protocol

PAD, BOS, EOS, OBJ = "<pad>", "<bos>", "<eos>", "<obj>"
SPECIAL_TOKENS = [PAD, BOS, EOS, OBJ]
TOKENIZER_FILE = "tokenizer.json"


class TextTokenizer(Protocol):
    pad_id: int
    bos_id: int
    eos_id: int
    obj_id: int
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: Iterable[int]) -> str: ...
    def save(self, directory: str | Path) -> None: ...


class BPETokenizer:
    """Byte-level BPE from the ``tokenizers`` library, trained on apeiria text."""

    def __init__(self, tok):
        self._tok = tok
        ids = [tok.token_to_id(t) for t in SPECIAL_TOKENS]
        if any(i is None for i in ids):
            raise ValueError(f"tokenizer lacks special tokens {SPECIAL_TOKENS}")
        self.pad_id, self.bos_id, self.eos_id, self.obj_id = ids
        self.vocab_size = tok.get_vocab_size()
        self._special = set(ids)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 2048, number_range: int = 256) -> "BPETokenizer":
        """Train on ``texts``. Numbers below ``number_range`` are seeded into the corpus
        so every plausible object ID ends up a single token even if rare in the data."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)

        def corpus() -> Iterator[str]:
            numbers = "".join(f" {i}" for i in range(number_range))
            for _ in range(8):
                yield numbers
            for t in texts:
                yield t

        tok.train_from_iterator(corpus(), trainer=trainer)
        return cls(tok)

    @classmethod
    def load(cls, directory: str | Path) -> "BPETokenizer":
        from tokenizers import Tokenizer

        path = Path(directory) / TOKENIZER_FILE if Path(directory).is_dir() else Path(directory)
        try:
            return cls(Tokenizer.from_file(str(path)))
        except Exception as e:  # tokenizers raises a bare Exception for bad files
            raise ValueError(f"cannot load tokenizer {path}: {e}") from e

    def save(self, directory: str | Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._tok.save(str(Path(directory) / TOKENIZER_FILE))

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self._tok.decode([int(i) for i in ids if int(i) not in self._special], skip_special_tokens=True)

    def token_strings(self, ids: Iterable[int]) -> list[str]:
        return [self._tok.id_to_token(int(i)) or "" for i in ids]


class PretrainedTokenizer:
    """A pretrained LM's own tokenizer (transformers), same interface.

    The object placeholder needs no new vocabulary entry: its embedding is replaced
    before the LM sees it, so any id works; the unknown/pad id is used.
    """

    def __init__(self, hf_tok):
        self._tok = hf_tok
        self.eos_id = hf_tok.eos_token_id
        self.bos_id = hf_tok.bos_token_id if hf_tok.bos_token_id is not None else self.eos_id
        self.pad_id = hf_tok.pad_token_id if hf_tok.pad_token_id is not None else self.eos_id
        unk = getattr(hf_tok, "unk_token_id", None)
        self.obj_id = unk if unk is not None else self.pad_id
        self.vocab_size = len(hf_tok)

    @classmethod
    def load(cls, path: str, gguf_file: str | None = None) -> "PretrainedTokenizer":
        from transformers import AutoTokenizer

        kw = {"gguf_file": gguf_file} if gguf_file else {}
        return cls(AutoTokenizer.from_pretrained(path, **kw))

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False))

    def decode(self, ids: Iterable[int]) -> str:
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=True)

    def save(self, directory: str | Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._tok.save_pretrained(str(directory))


def token_pieces(tok: TextTokenizer) -> list[str]:
    """The text each token id appends when it follows other text.

    Decoding a token alone is not enough for every tokenizer (SentencePiece drops a
    leading space at the start of a text), so each piece is measured after an anchor
    token: ``decode([a, i])`` minus ``decode([a])``. Special tokens give ''."""
    anchor = tok.encode("x")
    base = tok.decode(anchor)
    out = []
    for i in range(tok.vocab_size):
        text = tok.decode(anchor + [i])
        out.append(text[len(base):] if text.startswith(base) else tok.decode([i]))
    return out


def tokenizer_summary(tok: TextTokenizer) -> str:
    return json.dumps({"vocab_size": tok.vocab_size, "pad": tok.pad_id, "bos": tok.bos_id,
                       "eos": tok.eos_id, "obj": tok.obj_id})
