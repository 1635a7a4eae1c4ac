"""Issue 15, part 1: one validation layer for a scene, whatever the way in.

Each probe of the issue is a regression case here: out-of-range numbers give one line
naming the field (never a traceback), strings are cleaned for output, FIFOs and
oversized files are refused without blocking, a Scene built in Python is held to the
same rules as a JSON file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apeiria_model.atomic_io import FileTooLargeError, NotARegularFileError, read_regular_file
from apeiria_model.cli.main import main
from apeiria_model.reasoning.symbolic import SymbolicReasoner
from apeiria_model.sanitize import clean_text
from apeiria_model.scene import (Scene, SceneObject, SceneValidationError, load_scene, loads_scene, save_scene,
                                 scene_from_dict, scene_to_dict, validate_scene)
from apeiria_model.scene.io import MAX_COORD, MIN_SIZE

REPO = Path(__file__).resolve().parents[1]


def _doc_text(office_scene) -> str:
    return json.dumps(scene_to_dict(office_scene))


def _mutated(office_scene, fn) -> dict:
    d = scene_to_dict(office_scene)
    fn(d)
    return d


# --- numbers: bounded, one line naming the field ------------------------------------

def test_5000_digit_id_names_the_field(office_scene):
    text = _doc_text(office_scene).replace('"id": 0,', '"id": ' + "9" * 5000 + ",", 1)
    with pytest.raises(SceneValidationError) as e:
        loads_scene(text)
    assert str(e.value) == "objects[0].id must be an integer in [0, 2^31)"


def test_5000_digit_center_names_the_field(office_scene):
    d = scene_to_dict(office_scene)
    d["objects"][1]["center"][2] = 12345
    text = json.dumps(d).replace("12345", "-" + "7" * 5000, 1)
    with pytest.raises(SceneValidationError, match=r"^objects\[1\]\.center\[2\] must be a number in \["):
        loads_scene(text)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["objects"][0]["center"].__setitem__(0, 10**400), "objects[0].center[0] must be a number in"),
    (lambda d: d["objects"][3].__setitem__("id", 2**70), "objects[3].id must be an integer in [0, 2^31)"),
    (lambda d: d["objects"][3].__setitem__("id", 2**31), "objects[3].id must be an integer in [0, 2^31)"),
    (lambda d: d["objects"][0].__setitem__("id", -4), "objects[0].id must be an integer in [0, 2^31)"),
    (lambda d: d["objects"][0].__setitem__("id", "7"), "objects[0].id must be an integer in [0, 2^31), got str"),
    (lambda d: d["objects"][0]["center"].__setitem__(1, 1e30), "objects[0].center[1] must be a number in"),
    (lambda d: d["objects"][0]["size"].__setitem__(1, 1e-9), "objects[0].size[1] must be >= 1e-06"),
    (lambda d: d["objects"][0]["size"].__setitem__(2, 10**300), "objects[0].size[2] must be a number in"),
    (lambda d: d["objects"][0].__setitem__("front", [1e-7, 0, 0]), "objects[0].front must not be the zero vector"),
    (lambda d: d["objects"][0].__setitem__("score", 10**30), "objects[0].score must be a number in"),
    (lambda d: d["objects"][0].__setitem__("features", [0.0] * 5000), "objects[0].features must have at most"),
    (lambda d: d["objects"][0].__setitem__("features", [1.0, float("nan")]), "objects[0].features[1] must be finite"),
    (lambda d: d["objects"][0].__setitem__("attributes", ["a"] * 100), "objects[0].attributes must have at most"),
    (lambda d: d["objects"][0].__setitem__("label", "x" * 1_000_000), "objects[0].label must be at most 256"),
    (lambda d: d.__setitem__("viewpoint", {"position": [0, 0, 1], "look_at": [1e6, 0, 0]}),
     "viewpoint.look_at[0] must be a number in"),
])
def test_out_of_range_values_name_the_field(office_scene, mutate, message):
    with pytest.raises(SceneValidationError) as e:
        scene_from_dict(_mutated(office_scene, mutate))
    assert str(e.value).startswith(message), str(e.value)


def test_limits_accept_what_they_should(office_scene):
    d = _mutated(office_scene, lambda d: (d["objects"][0].__setitem__("id", 2**31 - 1),
                                          d["objects"][1]["center"].__setitem__(0, -MAX_COORD),
                                          d["objects"][1]["size"].__setitem__(0, MIN_SIZE)))
    scene = scene_from_dict(d)
    assert scene.objects[0].id == 2**31 - 1 and scene.objects[1].size[0] == MIN_SIZE


# --- strings: cleaned for output ------------------------------------------------------

def test_clean_text_replaces_controls_and_surrogates():
    assert clean_text("chair\ud800") == "chair\ufffd"
    assert clean_text("\x1b[31mred\x07") == "\ufffd[31mred\ufffd"
    assert clean_text("a\tb\nc") == "a b c"
    assert clean_text("a\nb\x9b", keep_newlines=True) == "a\nb\ufffd"
    assert clean_text("evil\u202etxt") == "evil\ufffdtxt"
    assert clean_text("caf\u00e9 \u6905\u5b50") == "caf\u00e9 \u6905\u5b50"  # ordinary text untouched


def test_labels_are_cleaned_by_the_validator(office_scene):
    text = _doc_text(office_scene).replace('"label": "chair"', '"label": "chair\\ud800\\u001b[2J\\u0007"', 1)
    scene = loads_scene(text)
    labels = [o.label for o in scene.objects]
    assert "chair\ufffd\ufffd[2J\ufffd" in labels
    for o in scene.objects:
        o.label.encode("utf-8")  # printable: no lone surrogate left


def test_cli_prints_a_surrogate_label_and_an_escape_instruction(tmp_path, office_scene):
    path = tmp_path / "s.json"
    path.write_text(_doc_text(office_scene).replace('"label": "chair"', '"label": "chair\\ud800"'))
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONIOENCODING="utf-8")
    for args in (["--json", "the chair"], ["the chair"], ["the \x1b]0;pwned\x07 chair"]):
        r = subprocess.run([sys.executable, "-m", "apeiria_model.cli.main", "ground", "--scene", str(path), *args],
                           capture_output=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr.decode()
        assert b"Traceback" not in r.stderr
        assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout


# --- files: regular only, capped --------------------------------------------------------

def test_fifo_scene_refused_without_blocking(tmp_path):
    fifo = tmp_path / "scene.json"
    os.mkfifo(fifo)
    errors = []
    t = threading.Thread(target=lambda: errors.append(pytest.raises(NotARegularFileError, load_scene, fifo)),
                         daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "load_scene blocked on a FIFO"
    assert "a FIFO" in str(errors[0].value)


def test_fifo_scene_cli_one_line_exit_2(tmp_path):
    fifo = tmp_path / "scene.json"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "apeiria_model.cli.main", "ground", "--scene", str(fifo), "the chair"],
                       capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"apeiria: error: cannot read scene {fifo}: not a regular file (a FIFO)"]


def test_char_device_and_size_cap(tmp_path):
    with pytest.raises(NotARegularFileError, match="character device"):
        read_regular_file("/dev/zero", 1024)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(FileTooLargeError, match="too large"):
        load_scene(big, max_bytes=1024)
    assert read_regular_file(big, 2048) == b" " * 2048


@pytest.mark.parametrize("doc_edit, fragment", [
    (lambda t: t.replace('"id": 0,', '"id": ' + "9" * 5000 + ",", 1), "objects[0].id must be an integer in [0, 2^31)"),
    (lambda t: t.replace('"id": 3,', '"id": 1180591620717411303424,', 1), "objects[3].id must be an integer in [0, 2^31)"),
])
def test_cli_reproducers_one_line(capsys, tmp_path, office_scene, doc_edit, fragment):
    path = tmp_path / "s.json"
    path.write_text(doc_edit(_doc_text(office_scene)))
    with pytest.raises(SystemExit) as e:
        main(["ground", "--scene", str(path), "the chair"])
    out, err = capsys.readouterr()
    assert e.value.code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in err


# --- the Python API: the same rules ------------------------------------------------------

def test_python_scene_with_huge_id_is_a_status_error_not_a_crash():
    scene = Scene("api", (SceneObject(2**70, "chair", (0, 0, 0.4), (0.5, 0.5, 0.8)),))
    res = SymbolicReasoner().ground("the chair", scene)
    assert res.status == "error"
    assert res.message == "invalid scene: objects[0].id must be an integer in [0, 2^31)"


def test_validate_scene_same_messages_as_json(office_scene):
    bad = office_scene.with_objects([*office_scene.objects[:2],
                                     SceneObject(99, "box", (0, 1e30, 0), (1, 1, 1)), *office_scene.objects[2:]])
    with pytest.raises(SceneValidationError) as e:
        validate_scene(bad)
    with pytest.raises(SceneValidationError) as e2:
        scene_from_dict(scene_to_dict(bad))
    assert str(e.value) == str(e2.value) == "objects[2].center[1] must be a number in [-100000, 100000]"
    assert validate_scene(office_scene) is office_scene  # a valid scene comes back as it is


def test_save_scene_refuses_an_invalid_scene(tmp_path):
    scene = Scene("api", (SceneObject(1, "chair", (0, 0, 0), (0.0, 1, 1)),))
    with pytest.raises(SceneValidationError, match=r"objects\[0\]\.size\[0\] must be > 0"):
        save_scene(scene, tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()


# --- property: whatever validates, saves and reloads -------------------------------------

_coord = st.floats(-MAX_COORD, MAX_COORD, allow_nan=False)
_size = st.floats(MIN_SIZE, MAX_COORD, allow_nan=False)
_text = st.text(min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**31 - 1), _text, st.tuples(_coord, _coord, _coord),
                          st.tuples(_size, _size, _size), st.none() | st.tuples(_coord, _coord, _coord)),
                max_size=6, unique_by=lambda t: t[0]))
def test_every_valid_scene_round_trips_through_a_file(tmp_path_factory, items):
    objs = []
    for oid, label, c, s, front in items:
        objs.append({"id": oid, "label": label, "center": list(c), "size": list(s), "front": list(front) if front else None})
    try:
        scene = scene_from_dict({"scene_id": "p", "objects": objs})
    except SceneValidationError:
        return
    path = tmp_path_factory.mktemp("rt") / "s.json"
    save_scene(scene, path)
    again = load_scene(path)
    assert again.ids == scene.ids and [o.label for o in again] == [o.label for o in scene]
