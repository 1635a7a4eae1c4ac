"""The instruction language model behind speech_node (pure Python, no ROS)."""

from __future__ import annotations

import math
import shutil
import subprocess

import pytest

from apeiria_ros.speech_lm import adapted_corpus, estimate_arpa, object_frames, words
from tests.ros.conftest import REQUIRE_ROS

CORPUS = ["the red chair next to the table", "the chair near the lamp", "how many chairs are near the table",
          "the lamp on the table", "find the mug on the desk", "the mug near the lamp"]


def _read_arpa(text: str):
    prob, bow, section = {}, {}, 0
    for line in text.splitlines():
        if line.startswith("\\") and line.endswith("-grams:"):
            section = int(line[1])
            continue
        parts = line.split("\t")
        if section and len(parts) >= 2:
            g = tuple(parts[1].split())
            prob[g] = 10 ** float(parts[0])
            if len(parts) == 3 and parts[2]:
                bow[g] = 10 ** float(parts[2])
    return prob, bow


def _p(prob, bow, gram):
    if gram in prob:
        return prob[gram]
    if len(gram) == 1:
        return 0.0
    return bow.get(gram[:-1], 1.0) * _p(prob, bow, gram[1:])


def test_arpa_is_a_normalised_backoff_model():
    prob, bow = _read_arpa(estimate_arpa(CORPUS, order=3))
    vocab = [g[0] for g in prob if len(g) == 1 and g[0] != "<s>"]
    assert {"chair", "table", "</s>"} <= set(vocab)
    for hist in [("<s>",), ("the",), ("near", "the"), ("the", "chair"), ("on", "the"), ("mug",)]:
        total = sum(_p(prob, bow, hist + (w,)) for w in vocab)
        assert math.isclose(total, 1.0, rel_tol=1e-4), (hist, total)
    # what the corpus says most often after "near the" is likelier than what it never says there
    assert _p(prob, bow, ("near", "the", "table")) > _p(prob, bow, ("near", "the", "red"))


def test_sentences_with_unknown_words_are_left_out_whole():
    prob, _ = _read_arpa(estimate_arpa(CORPUS, keep=lambda w: w != "mug"))
    assert ("mug",) not in prob and ("find",) not in prob  # "find" only occurs beside "mug"
    with pytest.raises(ValueError, match="no usable sentence"):
        estimate_arpa(["", "!!!"])
    with pytest.raises(ValueError):
        estimate_arpa(CORPUS, discount=1.5)


def test_frames_replace_every_object_name_longest_first():
    forms = {"chair": False, "chairs": True, "office chair": False, "table": False}
    (frame, plural), = object_frames(["The office chair next to the chairs, near a table?"], forms)
    assert frame == "the {x} next to the {x} near a {x}" and plural == [False, True, False]


def test_adapted_corpus_speaks_only_of_the_vocabulary():
    base = ["the red chair next to the table", "how many mugs are on the desk"]
    out = adapted_corpus(base, ["coat rack", "whiteboard"], copies=4, seed=1)
    names = {"chair", "table", "mugs", "desk"}
    assert out and all(not names & set(words(s)) for s in out)
    assert any("coat racks" in s for s in out)  # plural slots get plurals
    assert adapted_corpus(base, []) == base


@pytest.mark.skipif(shutil.which("espeak-ng") is None and not REQUIRE_ROS, reason="espeak-ng not installed")
def test_spoken_instruction_transcribed_exactly(tmp_path):
    from apeiria_ros.speech import Transcriber

    wav = tmp_path / "q.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav), "find all mugs on the white desk"],
                   check=True)
    t = Transcriber(["mug", "desk", "window", "chair", "whiteboard"], cache_dir=tmp_path / "lm")
    assert t.transcribe_wav(wav) == "find all mugs on the white desk"
    assert list((tmp_path / "lm").glob("*.arpa"))  # cached for the next start
    with pytest.raises(ValueError, match="speech mode"):
        Transcriber([], mode="whisper")


def test_words_tokenises_like_the_recogniser():
    assert words("What colour is the TV's stand?") == ["what", "colour", "is", "the", "tv's", "stand"]


def test_synonyms_are_slots_and_known_labels_bring_theirs():
    from apeiria_model.data.categories import CATEGORIES

    syn = CATEGORIES["sofa"].train_synonyms[0]
    (frame, _), = object_frames([f"the {syn} next to the lamp"])
    assert frame == "the {x} next to the {x}"
    out = adapted_corpus([f"the {syn} next to the lamp"] * 40, ["sofa"], seed=0)
    assert all("lamp" not in s for s in out)  # not in this scene
    assert any(s.startswith("the sofa ") for s in out) and any(s.startswith(f"the {syn} ") for s in out)
