"""Oracle gap: the same queries grounded on a ground-truth scene and on a 'perceived' copy.

Perceived scenes here are hand-made edits of the GT scene (renumbered, an object missing,
a box shifted), so the expected drop is known exactly; one small render checks that a
real perceived scene keeps the GT observer.
"""

from __future__ import annotations

import dataclasses

import pytest

from apeiria_model.data.schema import GroundingSample
from apeiria_model.language.open_vocab import SynonymConceptMatcher
from apeiria_model.perception.oracle_gap import (OracleGapError, PerceivedScene, ProgramGrounder, compare, main,
                                                 perceive, pick_scenes)
from apeiria_model.reasoning.symbolic import SymbolicReasoner
from apeiria_model.scene import Scene


@pytest.fixture(scope="module")
def reasoner():
    return SymbolicReasoner(matcher=SynonymConceptMatcher())


def _samples(scene_id: str) -> list[GroundingSample]:
    # office scene: 0 desk, 1 red mug, 2 white mug, 3 lamp, 4 black chair, 5 blue chair, 6 window
    return [
        GroundingSample("s-red-mug", scene_id, "the red mug", [1], "filter(filter(scene(), mug), red)"),
        GroundingSample("s-lamp", scene_id, "the lamp", [3], "filter(scene(), lamp)"),
        GroundingSample("s-chairs", scene_id, "all the chairs", [4, 5], "filter(scene(), chair)"),
        GroundingSample("s-sofa", scene_id, "the sofa", [], "filter(scene(), sofa)"),
        GroundingSample("s-count", scene_id, "how many mugs are there", [1, 2], "count(filter(scene(), mug))",
                        answer=2),
    ]


def _renumber(scene: Scene, offset: int = 100, drop: tuple[int, ...] = (), move: dict | None = None) -> Scene:
    """The GT scene as a perception map would give it: new IDs, maybe an object lost or moved."""
    objs = []
    for o in scene.objects:
        if o.id in drop:
            continue
        c = tuple(a + b for a, b in zip(o.center, (move or {}).get(o.id, (0.0, 0.0, 0.0))))
        objs.append(dataclasses.replace(o, id=o.id + offset, center=c))
    return Scene(scene.scene_id, tuple(objs), scene.frame_id, scene.viewpoint)


def _gap(reasoner, gt: Scene, perceived: Scene) -> dict:
    out = compare([PerceivedScene(gt, perceived, {}, 0.0)], _samples(gt.scene_id), reasoner,
                  ProgramGrounder(reasoner.matcher))
    assert set(out) >= {"instruction", "program"}
    return out


def test_perfect_perception_has_no_gap_whatever_the_ids(reasoner, office_scene):
    out = _gap(reasoner, office_scene, _renumber(office_scene))
    for mode in ("instruction", "program"):
        g, p, d = out[mode]["gt"], out[mode]["perceived"], out[mode]["drop"]
        assert g["acc@0.25"] == 1.0 and g["f1@0.25"] == 1.0 and g["qa_exact"] == 1.0
        assert p == g
        assert all(v == 0.0 for v in d.values())
        assert (g["n_single"], g["n_grounding"], g["n_qa"]) == (2, 4, 1)


def test_a_missed_object_costs_its_queries(reasoner, office_scene):
    out = _gap(reasoner, office_scene, _renumber(office_scene, drop=(1,)))  # the red mug is not perceived
    for mode in ("instruction", "program"):
        p, d = out[mode]["perceived"], out[mode]["drop"]
        assert p["acc@0.25"] == 0.5           # the lamp is still found, the red mug is not
        assert d["acc@0.25"] == 0.5
        assert p["f1@0.25"] == 0.75            # red mug 0, lamp 1, chairs 1, no sofa 1
        assert p["qa_exact"] == 0.0            # one mug counted, two in the room


def test_a_shifted_box_passes_at_0_25_but_not_at_0_5(reasoner, office_scene):
    # the lamp (0.2 x 0.2 x 0.5) shifted 8 cm in x: IoU = 0.12 / 0.28 = 0.43
    out = _gap(reasoner, office_scene, _renumber(office_scene, move={3: (0.08, 0.0, 0.0)}))
    d = out["program"]["drop"]
    assert d["acc@0.25"] == 0.0
    assert d["acc@0.5"] == 0.5


def test_program_grounder_never_raises_on_a_bad_program(reasoner, office_scene):
    g = ProgramGrounder(reasoner.matcher)
    res = g.ground("filter(scene(, mug)", office_scene)
    assert res.status == "error" and res.targets == [] and "filter(scene(, mug)" in res.instruction
    assert g.ground("", office_scene).status == "error"
    count = g.ground("count(filter(scene(), mug))", office_scene)
    assert count.answer == 2 and sorted(t.id for t in count.targets) == [1, 2]


def test_pick_scenes_spreads_over_the_split_and_rejects_bad_counts(office_scene):
    scenes = {f"s{i}": office_scene for i in range(10)}
    assert pick_scenes(scenes, 3) == ["s0", "s4", "s9"]
    assert pick_scenes(scenes, 50) == list(scenes)
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(OracleGapError, match="number of scenes"):
            pick_scenes(scenes, bad)
    with pytest.raises(OracleGapError, match="no scenes"):
        pick_scenes({}, 1)


def test_perceived_scene_keeps_the_ground_truth_observer(office_scene):
    ps = perceive(office_scene, n_frames=3, segmenter="geometric", width=160, height=120)
    assert isinstance(ps.perceived, Scene)
    assert ps.perceived.viewpoint == office_scene.viewpoint
    assert ps.perceived.scene_id == office_scene.scene_id
    assert "recall@0.25" in ps.detection
    assert ps.visible is not None and ps.visible <= set(office_scene.ids)
    with pytest.raises(OracleGapError, match="at least one object"):
        perceive(office_scene.with_objects([]), n_frames=2)


def test_cli_reports_a_missing_dataset_cleanly(tmp_path, capsys):
    assert main(["--scenes", "1", "--frames", "2", "--data", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_failures_are_attributed_to_a_missed_or_mislabelled_target_or_anchor(reasoner, office_scene):
    gt = office_scene
    samples = [GroundingSample("mug", gt.scene_id, "the red mug", [1], "filter(filter(scene(), mug), red)"),
               GroundingSample("lamp", gt.scene_id, "the lamp", [3], "filter(scene(), lamp)"),
               GroundingSample("near", gt.scene_id, "the chair near the desk", [4],
                               "relate(filter(scene(), chair), filter(scene(), desk), near)", anchor_ids=[0])]
    perceived = _renumber(gt, drop=(1,))
    relabelled = tuple(dataclasses.replace(o, label="table") if o.id == 100 else o for o in perceived.objects)
    perceived = Scene(gt.scene_id, relabelled, gt.frame_id, gt.viewpoint)  # desk (anchor) now a "table"
    out = compare([PerceivedScene(gt, perceived, {}, 0.0)], samples, reasoner, ProgramGrounder(reasoner.matcher))
    causes = out["program"]["single_target_on_perceived"]
    assert causes["target not perceived"] == 1 and causes["right"] == 1 and causes["anchor mislabelled"] == 1
    assert sum(causes.values()) == 3


def test_a_target_the_sweep_never_showed_is_not_in_view(reasoner, office_scene):
    gt = office_scene
    samples = [GroundingSample("mug", gt.scene_id, "the red mug", [1], "filter(filter(scene(), mug), red)"),
               GroundingSample("lamp", gt.scene_id, "the lamp", [3], "filter(scene(), lamp)")]
    perceived = _renumber(gt, drop=(1, 3))
    seen = frozenset(i for i in gt.ids if i != 1)  # the red mug never showed; the lamp did
    out = compare([PerceivedScene(gt, perceived, {}, 0.0, seen)], samples, reasoner, ProgramGrounder(reasoner.matcher))
    causes = out["program"]["single_target_on_perceived"]
    assert causes["target not in view"] == 1 and causes["target not perceived"] == 1
    assert out["program"]["targets_not_perceived_by_label"] == {"lamp": 1}
