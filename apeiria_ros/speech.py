"""Offline speech-to-text for instructions: pocketsphinx with the English acoustic model
shipped inside its wheel. No ROS here (speech_node wraps it).

A general English language model mishears short robot commands ("the red office chair
next to the white desk" -> "that meant are used to earn it but why then"); the default
``Transcriber(vocabulary=[...])`` decodes with a trigram model of the instruction
generator's phrasings filled with the scene's object names (speech_lm.py), measured
in benchmarks/bench_speech.py against the word-loop grammar and the general model.
"""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
# Words instructions are made of besides object names (relations, colours, ordinals...).
BASE_VOCABULARY = """the a an this that one object thing on in under above below behind front of to next near
close closest nearest far farthest left right leftmost rightmost middle center between and or not with
largest biggest smallest tallest highest lowest first second third red white blue green black brown gray
grey yellow orange pink purple wooden big small large tall short how many is are there which what color
find go get bring me show""".split()


class SpeechError(ValueError):
    """An audio input that cannot be transcribed (missing file, wrong format...)."""


def load_wav_16k(path: str | Path) -> bytes:
    """16 kHz mono int16 PCM bytes from a PCM WAV file (any rate, mono or stereo)."""
    from scipy.signal import resample_poly

    try:
        with wave.open(str(path), "rb") as w:
            rate, ch, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(n)
    except FileNotFoundError:
        raise SpeechError(f"WAV file not found: {path}") from None
    except (wave.Error, EOFError) as e:
        raise SpeechError(f"{path} is not a PCM WAV file: {e}") from None
    if width != 2:
        raise SpeechError(f"{path}: {8 * width}-bit samples, expected 16-bit PCM")
    if n == 0:
        raise SpeechError(f"{path} has no audio")
    a = np.frombuffer(raw, dtype="<i2").astype(np.float32).reshape(-1, ch).mean(axis=1)
    if rate != SAMPLE_RATE:
        a = resample_poly(a, SAMPLE_RATE, rate)
    return np.clip(np.rint(a), -32768, 32767).astype(np.int16).tobytes()


MODES = ("instructions", "vocabulary", "open")


def default_cache_dir() -> Path:
    import os

    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "apeiria" / "speech"


class Transcriber:
    """``mode``: "instructions" (default) = a trigram model of generated instructions with
    ``vocabulary``'s object names (apeiria_ros/speech_lm.py); "vocabulary" = a word loop
    over the known words (JSGF); "open" = pocketsphinx's general English model."""

    def __init__(self, vocabulary: list[str] | None = None, mode: str = "instructions",
                 cache_dir: str | Path | None = None):
        from pocketsphinx import Decoder

        if mode not in MODES:
            raise ValueError(f"speech mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self.unknown: list[str] = []
        words = sorted({w.lower() for v in list(vocabulary or []) + BASE_VOCABULARY for w in re.findall(r"[a-zA-Z']+", v)})
        self.unknown = [w for w in words if self.decoder.lookup_word(w) is None]
        if mode == "instructions":
            from apeiria_ros.speech_lm import domain_lm

            lm = domain_lm(vocabulary or [], cache_dir or default_cache_dir(),
                           keep=lambda w: self.decoder.lookup_word(w) is not None)
            self.decoder.add_lm_file("apeiria", str(lm))
            self.decoder.activate_search("apeiria")
        elif mode == "vocabulary":
            known = [w for w in words if w not in self.unknown]
            grammar = ("#JSGF V1.0;\ngrammar apeiria;\npublic <utterance> = <word>+;\n<word> = "
                       + " | ".join(known) + ";\n")
            self.decoder.add_jsgf_string("apeiria", grammar)
            self.decoder.activate_search("apeiria")

    def transcribe_pcm(self, pcm16k: bytes) -> str:
        d = self.decoder
        d.start_utt()
        d.process_raw(pcm16k, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""

    def transcribe_wav(self, path: str | Path) -> str:
        return self.transcribe_pcm(load_wav_16k(path))
