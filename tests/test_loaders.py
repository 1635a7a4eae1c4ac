"""Dataset loaders: the external formats (ScanRefer, Multi3DRefer, Sr3D / Nr3D, ScanNet
category map, scenes) and apeiria's generated JSONL, with file:line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apeiria_model.data import loaders as L

FIX = Path(__file__).parent / "fixtures" / "external"


@pytest.fixture(scope="module")
def cmap():
    return L.load_category_map(FIX / "scannetv2-labels.combined.tsv")


# --------------------------------------------------------------- category map
def test_category_map(cmap):
    assert len(cmap) == 15
    assert cmap.nyu40("office_chair") == "chair"
    assert cmap.scannet18("Office Chair") == "chair"
    assert cmap.scannet18("tv") == "others"            # nyu40 'television' is not a ScanNet-18 class
    assert cmap.scannet18("never heard of it") == "others"
    assert cmap.nyu40("never heard of it") is None
    assert cmap.nyu40_id["coffee table"] == 7


def test_category_map_needs_its_columns(tmp_path):
    p = tmp_path / "labels.tsv"
    p.write_text("id\traw_category\tcategory\n1\tchair\tchair\n")
    with pytest.raises(L.DatasetFormatError, match=r"labels.tsv:1: header has no 'nyu40id'"):
        L.load_category_map(p)


def test_category_map_bad_id_names_line(tmp_path):
    lines = (FIX / "scannetv2-labels.combined.tsv").read_text().splitlines()
    lines[3] = lines[3].replace("\t6\t", "\tsix\t", 1)  # nyu40id of 'sofa'
    p = tmp_path / "labels.tsv"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(L.DatasetFormatError, match=r"labels.tsv:4: nyu40id: must be an integer id"):
        L.load_category_map(p)


# ------------------------------------------------------------------ ScanRefer
def test_scanrefer_fields(cmap):
    samples = L.load_scanrefer(FIX / "scanrefer.json", cmap)
    assert len(samples) == 12
    s = samples[0]
    assert (s.sample_id, s.scene_id, s.target_ids, s.source, s.phrasing) == (
        "scene0000_00:2:0", "scene0000_00", [2], "scanrefer", "human")
    assert s.instruction.startswith("the chair on the left")
    assert s.view_dependent is True


def test_scanrefer_unique_follows_scannet18_classes(cmap):
    by_id = {s.sample_id: s for s in L.load_scanrefer(FIX / "scanrefer.json", cmap)}
    # chairs 2, 3 and the office chair 4 are all ScanNet-18 "chair": multiple
    assert by_id["scene0000_00:4:0"].unique is False
    assert by_id["scene0000_00:2:0"].unique is False
    assert by_id["scene0000_00:0:0"].unique is True    # the only sofa
    # without the map the raw names differ, so the office chair is unique
    raw = {s.sample_id: s for s in L.load_scanrefer(FIX / "scanrefer.json")}
    assert raw["scene0000_00:4:0"].unique is True
    assert raw["scene0000_00:2:0"].unique is False


@pytest.mark.parametrize("doc,match", [
    ({"scene_id": "s"}, r"must be a JSON list"),
    ([{"scene_id": "s", "object_id": "1", "object_name": "chair"}], r"entry \[0\]: missing field 'description'"),
    ([{"scene_id": "s", "object_id": "x1", "object_name": "chair", "description": "d"}], r"entry \[0\].object_id: must be an integer id"),
    ([{"scene_id": "s", "object_id": "-3", "object_name": "chair", "description": "d"}], r"must be >= 0"),
    ([{"scene_id": "", "object_id": "1", "object_name": "chair", "description": "d"}], r"scene_id: must not be empty"),
    ([{"scene_id": "s", "object_id": "1", "object_name": "chair", "description": ["d"]}], r"description: must be a string"),
    (["not an object"], r"entry \[0\]: must be a JSON object"),
])
def test_scanrefer_errors_name_the_entry(tmp_path, doc, match):
    p = tmp_path / "sr.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(L.DatasetFormatError, match=match):
        L.load_scanrefer(p)


def test_json_syntax_error_names_line(tmp_path):
    p = tmp_path / "sr.json"
    p.write_text('[\n {"scene_id": "s",\n  "object_id": 1,,\n}]')
    with pytest.raises(L.DatasetFormatError, match=r"sr.json:3: not valid JSON"):
        L.load_scanrefer(p)


def test_invalid_utf8_names_line(tmp_path):
    p = tmp_path / "sr.json"
    p.write_bytes(b'[\n{"scene_id": "\xff\xfe"}]')
    with pytest.raises(L.DatasetFormatError, match=r"sr.json:2: not valid UTF-8"):
        L.load_scanrefer(p)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(L.DatasetFormatError, match="no such file"):
        L.load_scanrefer(tmp_path / "nope.json")
    with pytest.raises(L.DatasetFormatError, match="is a directory"):
        L.load_scanrefer(tmp_path)


# -------------------------------------------------------------- Multi3DRefer
def test_multi3drefer_targets_and_groups():
    samples = L.load_multi3drefer(FIX / "multi3drefer.json")
    assert len(samples) == 10
    kinds = [s.target_kind for s in samples]
    assert kinds.count("zero") == 3 and kinds.count("multi") == 3 and kinds.count("single") == 4
    by_text = {s.instruction: s for s in samples}
    assert by_text["the bookshelf next to the tv."].unique is True      # zt_wo_d
    assert by_text["the chair on top of the tv."].unique is False       # zt_w_d
    assert by_text["the two chairs beside the coffee table."].target_ids == [2, 3]
    assert all(s.source == "multi3drefer" for s in samples)


@pytest.mark.parametrize("entry,match", [
    ({"scene_id": "s", "object_ids": [1], "description": "d", "eval_type": "zt_w_d"}, r"is 'zt_w_d' but object_ids has 1 target"),
    ({"scene_id": "s", "object_ids": [1], "description": "d", "eval_type": "single"}, r"eval_type: must be one of"),
    ({"scene_id": "s", "object_ids": "1", "description": "d"}, r"object_ids: must be a list"),
    ({"scene_id": "s", "object_ids": [1, 1], "description": "d"}, r"repeats an id"),
    ({"scene_id": "s", "object_ids": [1, None], "description": "d"}, r"object_ids\[1\]: must be an integer id"),
])
def test_multi3drefer_errors(tmp_path, entry, match):
    p = tmp_path / "m3d.json"
    p.write_text(json.dumps([entry]))
    with pytest.raises(L.DatasetFormatError, match=match):
        L.load_multi3drefer(p)


# ------------------------------------------------------------------ ReferIt3D
def test_sr3d_rows():
    samples = L.load_referit3d(FIX / "sr3d_test.csv")
    assert len(samples) == 10
    s = samples[4]
    assert s.source == "sr3d"
    assert (s.scene_id, s.target_ids, s.distractor_ids, s.anchor_ids) == ("scene0001_00", [2], [1], [0, 3])
    assert s.hard is False and s.unique is False
    assert samples[3].unique is True                       # coffee table, no distractors
    assert samples[2].view_dependent is True               # "facing the sofa, the chair on the left"
    assert samples[0].view_dependent is False


def test_nr3d_distractors_from_stimulus_id():
    samples = L.load_referit3d(FIX / "nr3d_test.csv")
    assert len(samples) == 6 and all(s.source == "nr3d" for s in samples)
    assert samples[0].distractor_ids == [3]
    assert samples[5].distractor_ids == [] and samples[5].unique is True
    assert samples[1].view_dependent is True               # "Looking at the tv, ... right"


def test_referit3d_hard_when_more_than_two_distractors(tmp_path):
    p = tmp_path / "sr3d_x.csv"
    p.write_text("scan_id,target_id,distractor_ids,utterance\n"
                 "s1,1,\"[2, 3]\",the chair\n"
                 "s1,1,\"[2, 3, 4]\",the chair\n")
    easy, hard = L.load_referit3d(p)
    assert easy.hard is False and hard.hard is True


@pytest.mark.parametrize("body,match", [
    ("scan_id,target_id,distractor_ids,utterance\ns1,1,[2,the chair\n", r":2: distractor_ids: must be a list of ids"),
    ("scan_id,target_id,distractor_ids,utterance\ns1,one,[2],the chair\n", r":2: target_id: must be an integer id"),
    ("scan_id,target_id,distractor_ids,utterance\ns1,1,[2],the chair\ns1,1,\"[1]\",x\n", r":3: target 1 is also listed as a distractor"),
    ("scan_id,target_id,distractor_ids,utterance\ns1,1,[2]\n", r":2: has a different number of columns"),
    ("scan_id,target_id,utterance\ns1,1,the chair\n", r":1: header needs 'distractor_ids' or 'stimulus_id'"),
    ("target_id,distractor_ids,utterance\n1,[2],x\n", r":1: header has no 'scan_id'"),
    ("scan_id,target_id,stimulus_id,utterance\ns1,1,s1-chair-3-1-2,x\n", r":2: stimulus_id .* lists 1 distractors, expected 2"),
])
def test_referit3d_errors_name_the_row(tmp_path, body, match):
    p = tmp_path / "nr3d_bad.csv"
    p.write_text(body)
    with pytest.raises(L.DatasetFormatError, match=match):
        L.load_referit3d(p)


# --------------------------------------------------------------------- scenes
def test_scenes_from_dir_jsonl_and_list(tmp_path):
    a = L.load_scenes(FIX / "scenes")
    b = L.load_scenes(FIX / "scenes.jsonl")
    assert sorted(a) == sorted(b) == ["scene0000_00", "scene0001_00", "scene0002_00"]
    assert a["scene0000_00"] == b["scene0000_00"]
    assert a["scene0001_00"].viewpoint is not None
    listed = tmp_path / "all.json"
    listed.write_text(json.dumps([json.loads(line) for line in (FIX / "scenes.jsonl").read_text().splitlines()]))
    assert sorted(L.load_scenes(listed)) == sorted(a)


def test_bad_scene_line_names_line_and_field(tmp_path):
    lines = (FIX / "scenes.jsonl").read_text().splitlines()
    doc = json.loads(lines[1])
    doc["objects"][2]["size"][1] = -1
    lines[1] = json.dumps(doc)
    p = tmp_path / "scenes.jsonl"
    p.write_text("\n".join(lines))
    with pytest.raises(L.DatasetFormatError, match=r"scenes.jsonl:2: objects\[2\].size\[1\]: must be > 0"):
        L.load_scenes(p)


def test_bad_scene_file_in_dir(tmp_path):
    (tmp_path / "a.json").write_text('{"scene_id": "a", "objects": []}')
    (tmp_path / "b.json").write_text('{"scene_id": "b"}')
    with pytest.raises(L.DatasetFormatError, match=r"b.json: objects: is required"):
        L.load_scenes(tmp_path)


def test_duplicate_scene_ids_and_empty_inputs(tmp_path):
    p = tmp_path / "dup.jsonl"
    p.write_text('{"scene_id": "a", "objects": []}\n\n{"scene_id": "a", "objects": []}\n')
    with pytest.raises(L.DatasetFormatError, match=r"dup.jsonl:3: scene_id 'a' appears twice"):
        L.load_scenes(p)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(L.DatasetFormatError, match="no \\*.json scene files"):
        L.load_scenes(empty)
    (tmp_path / "blank.jsonl").write_text("\n\n")
    with pytest.raises(L.DatasetFormatError, match="holds no scenes"):
        L.load_scenes(tmp_path / "blank.jsonl")


# ------------------------------------------------------------ generated data
def test_load_generated():
    samples, scenes = L.load_generated(FIX / "generated", "test")
    assert len(samples) == 10 and sorted(scenes) == ["scene0000_00", "scene0002_00"]
    by_id = {s.sample_id: s for s in samples}
    assert by_id["gen-4"].answer == 2 and by_id["gen-8"].answer == "brown"
    assert by_id["gen-7"].depth == 7 and by_id["gen-2"].phrasing == "heldout"
    assert by_id["gen-1"].distractor_ids == [3]


def test_load_generated_missing_split_lists_the_others():
    with pytest.raises(L.DatasetFormatError, match=r"val.jsonl: no such file \(splits here: test\)"):
        L.load_generated(FIX / "generated", "val")


@pytest.mark.parametrize("patch,match", [
    ({"target_ids": "3"}, r"target_ids: must be a list"),
    ({"depth": "deep"}, r"depth: must be int or null"),
    ({"unique": 1}, r"unique: must be bool or null"),
    ({"instruction": None}, r"instruction: must be a string"),
])
def test_generated_record_errors(tmp_path, patch, match):
    (tmp_path / "grounding").mkdir()
    (tmp_path / "scenes").mkdir()
    rec = json.loads((FIX / "generated" / "grounding" / "test.jsonl").read_text().splitlines()[0])
    good = json.dumps(rec)
    rec.update(patch)
    (tmp_path / "grounding" / "test.jsonl").write_text(good + "\n" + json.dumps(rec) + "\n")
    (tmp_path / "scenes" / "test.jsonl").write_text((FIX / "generated" / "scenes" / "test.jsonl").read_text())
    with pytest.raises(L.DatasetFormatError, match=r"test.jsonl:2: " + match):
        L.load_generated(tmp_path, "test")


# -------------------------------------------------------------------- fuzzing
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 50) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda ch: st.lists(ch, max_size=4) | st.dictionaries(
        st.sampled_from(["scene_id", "object_id", "object_ids", "object_name", "description", "ann_id",
                         "eval_type", "objects", "id", "label", "center", "size"]), ch, max_size=6),
    max_leaves=20)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=json_values)
def test_fuzz_json_loaders_raise_only_format_errors(tmp_path, doc):
    p = tmp_path / "fuzz.json"
    p.write_text(json.dumps(doc))
    for load in (L.load_scanrefer, L.load_multi3drefer, L.load_scenes):
        try:
            load(p)
        except L.DatasetFormatError as e:
            assert str(e).startswith(str(p)) and "\n" not in str(e)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: ("scan_id,target_id,distractor_ids,utterance\n" + t).encode()))
def test_fuzz_bytes_raise_only_format_errors(tmp_path, data):
    for name, load in (("f.csv", L.load_referit3d), ("f.jsonl", L.load_scenes), ("f.tsv", L.load_category_map),
                       ("g.json", L.load_scanrefer)):
        p = tmp_path / name
        p.write_bytes(data)
        try:
            load(p)
        except L.DatasetFormatError:
            pass


def test_relabel_scenes(cmap):
    scenes = L.load_scenes(FIX / "scenes")
    nyu = L.relabel_scenes(scenes, cmap)
    assert nyu["scene0000_00"].get(4).label == "chair"          # office chair -> chair
    assert nyu["scene0000_00"].get(5).label == "television"
    assert nyu["scene0000_00"].get(4).center == scenes["scene0000_00"].get(4).center
    s18 = L.relabel_scenes(scenes, cmap, "scannet18")
    assert s18["scene0000_00"].get(5).label == "others"
    assert scenes["scene0000_00"].get(4).label == "office chair"  # input untouched
    with pytest.raises(ValueError):
        L.relabel_scenes(scenes, cmap, "mpcat40")
