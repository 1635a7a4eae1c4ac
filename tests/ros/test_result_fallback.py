"""The accounting promise when the answer itself cannot be sent: if converting or
publishing a request's result raises, the caller still gets exactly one answer (status
'error' with the reason) and the counters balance. In-process (the failure is injected
into the node's result conversion); the service call travels over DDS."""

from __future__ import annotations

import threading

import pytest

from apeiria_model.scene.io import save_scene
from tests.ros.scenes import office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(240)]


def test_a_result_that_cannot_be_converted_is_answered_error(ros, tmp_path, monkeypatch):
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.parameter import Parameter

    import apeiria_ros.grounding_node as gn
    from apeiria.srv import Ground

    save_scene(office(), tmp_path / "office.json")
    names = {"instruction_topic": "/fb/instruction", "result_topic": "/fb/result", "scene_topic": "/fb/scene_map",
             "status_topic": "/fb/status", "diagnostics_topic": "/fb/diagnostics", "service_name": "/fb/ground",
             "action_name": "/fb/ground_action", "marker_topic": "/fb/markers", "goal_topic": "/fb/goal_pose",
             "detections_topic": "/fb/detections", "scene_file": str(tmp_path / "office.json")}
    node = gn.GroundingNode("fallback_grounding", context=ros.context,
                            parameter_overrides=[Parameter(k, value=v) for k, v in names.items()])
    executor = MultiThreadedExecutor(num_threads=4, context=ros.context)
    executor.add_node(node.node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    real = gn.result_to_msg
    calls = []

    def breaks_once(result, **kw):
        calls.append(result.instruction)
        if len(calls) == 1:
            raise RuntimeError("conversion broke")
        return real(result, **kw)

    monkeypatch.setattr(gn, "result_to_msg", breaks_once)
    try:
        cli = ros.node.create_client(Ground, "/fb/ground")
        r = ros.call(cli, Ground.Request(instruction="the red mug"), 60).result
        assert r.status == "error" and "conversion broke" in r.message, r.message
        assert r.request_id.startswith("srv-") and r.instruction == "the red mug"
        ok = ros.call(cli, Ground.Request(instruction="the red mug"), 60).result
        assert ok.status == "ok" and [t.id for t in ok.targets] == [1]
        c = node.diagnostics()
        assert (c["received"], c["served"], c["errors"], c["pending"]) == (2, 1, 1, 0), c
        cli.destroy()
    finally:
        executor.shutdown(timeout_sec=2)
        node.destroy()
