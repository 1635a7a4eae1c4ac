"""Speech-to-text for instructions: word error rate and decode time of the three
recogniser modes (apeiria_ros/speech.py) on the demo instructions spoken by espeak-ng.

Each instruction in apeiria_model/assets/scenes/demo_queries.txt is synthesised
(en-us, 140 words/min), resampled to 16 kHz and decoded with the vocabulary of its
scene's labels. espeak-ng's voice is robotic, so absolute error rates say little about
a human speaker; the comparison between modes on the same audio is the point.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
QUERIES = REPO / "apeiria_model" / "assets" / "scenes" / "demo_queries.txt"


def word_errors(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions + insertions + deletions)."""
    d = np.arange(len(hyp) + 1)
    for i in range(1, len(ref) + 1):
        prev, d = d, d.copy()
        d[0] = i
        for j in range(1, len(hyp) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (ref[i - 1] != hyp[j - 1]))
    return int(d[-1])


def _queries() -> list[tuple[str, str]]:
    out = []
    for line in QUERIES.read_text().splitlines():
        if "|" in line and not line.lstrip().startswith("#"):
            scene, text = line.split("|", 1)
            out.append((scene.strip(), text.strip()))
    return out


def run(quick: bool = False) -> dict:
    from apeiria_model.scene.io import load_scene
    from apeiria_ros.speech import MODES, Transcriber, load_wav_16k
    from apeiria_ros.speech_lm import words

    queries = _queries()[: 4 if quick else None]
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="apeiria_bench_speech_") as d:
        tmp = Path(d)
        audio = {}
        for k, (_, text) in enumerate(queries):
            wav = tmp / f"{k}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav), text], check=True)
            audio[k] = load_wav_16k(wav)
        for mode in MODES:
            errors = n_words = exact = 0
            decode_ms, build_s, rtf, examples = [], [], [], []
            transcribers: dict[str, Transcriber] = {}
            for k, (scene_file, text) in enumerate(queries):
                if scene_file not in transcribers:
                    labels = sorted({o.label for o in load_scene(QUERIES.parent / scene_file).objects})
                    t0 = time.perf_counter()
                    transcribers[scene_file] = Transcriber(labels, mode=mode, cache_dir=tmp / "lm")
                    build_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                hyp = transcribers[scene_file].transcribe_pcm(audio[k])
                dt = time.perf_counter() - t0
                decode_ms.append(dt * 1000.0)
                rtf.append(dt / (len(audio[k]) / 2 / 16000))
                e = word_errors(words(text), words(hyp))
                errors, n_words, exact = errors + e, n_words + len(words(text)), exact + (e == 0)
                if len(examples) < 3:
                    examples.append({"said": text, "heard": hyp})
            results[mode] = {"utterances": len(queries), "word_error_rate": round(errors / n_words, 3),
                             "exact_transcripts": exact, "decode_ms_p50": round(float(np.median(decode_ms)), 1),
                             "decode_ms_max": round(max(decode_ms), 1),
                             "real_time_factor_p50": round(float(np.median(rtf)), 3),
                             "setup_s_first_scene": round(build_s[0], 2), "examples": examples}
    return {"voice": "espeak-ng en-us 140 wpm", "modes": results}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
