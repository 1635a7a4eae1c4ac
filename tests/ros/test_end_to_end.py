"""sim -> scene_builder -> grounding over DDS, each node its own process (the bringup
machinery), grounding on the *perceived* map must hit the simulated objects."""

from __future__ import annotations

import time

import pytest

from apeiria_model.scene.geometry import box_iou
from apeiria_model.scene.io import save_scene
from apeiria_ros.env import REPO_ROOT
from tests.ros.conftest import wait_until
from tests.ros.scenes import office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(300)]


def test_sim_to_grounding_hits_the_simulated_objects(ros, ros_env, log_dir, tmp_path):
    from apeiria.msg import SceneMap
    from apeiria_ros.commands.ask import ask
    from apeiria_ros.commands.bringup import start_nodes
    from apeiria_ros.conversions.scene import msg_to_scene
    from apeiria_ros.qos import qos_profile

    gt = office()
    save_scene(gt, tmp_path / "office.json")
    maps = ros.collect(SceneMap, "/apeiria/scene_map", qos_profile("latched"))
    overrides = {"sim_node": {"scene_file": str(tmp_path / "office.json"), "n_poses": 24, "rate": 4.0},
                 "scene_builder_node": {"map_file": str(tmp_path / "map.json")}}
    group = start_nodes(REPO_ROOT / "config" / "bringup_demo.yaml", ros_env, log_dir / "e2e", overrides)
    try:
        # settle on processed frames, not wall time: a loaded machine may process one
        # frame a second, and a count that merely has not changed for 2 s proves nothing.
        # The builder publishes a map per processed frame; after one full camera loop's
        # worth of maps (24) the object count must stay put for 8 maps in a row.
        wait_until(lambda: maps and len(maps[-1].objects) >= 1, 90, what="a first map")
        first = len(maps) - 1

        def settled():
            counts = [len(m.objects) for m in maps[first:]]
            return len(counts) > 24 and len(set(counts[-8:])) == 1

        wait_until(settled, 150, interval=0.1, what="the object map to settle")
        assert not group.exited(), {n: group.log_tail(n) for n in group.exited()}
        perceived = msg_to_scene(maps[-1])
        assert len(perceived) >= 4, [o.describe() for o in perceived.objects]
        # colour words the geometric segmenter can see on large, well-separated objects
        cases = [("the blue object", 5), ("the leftmost black object", 4)]
        for text, gt_id in cases:
            r = ask(text, timeout=60.0, context=ros.context)
            perceived = msg_to_scene(maps[-1])
            seen = [(o.id, o.describe(), [round(v, 2) for v in o.center], [round(v, 2) for v in o.size])
                    for o in perceived.objects]
            assert r.status == "ok", f"{text}: {r.message}; perceived {seen}"
            assert len(r.targets) == 1, (text, r.trace)
            t = r.targets[0]
            g = gt.get(gt_id)
            c = (t.bbox.center.position.x, t.bbox.center.position.y, t.bbox.center.position.z)
            s = (t.bbox.size.x, t.bbox.size.y, t.bbox.size.z)
            iou = box_iou(c, s, g.center, g.size)
            assert iou >= 0.25, f"{text!r}: IoU {iou:.2f} with simulated {g.describe()} ({r.trace})"
    finally:
        codes = group.stop()
    assert all(c in (0, -2) for c in codes.values()), codes
