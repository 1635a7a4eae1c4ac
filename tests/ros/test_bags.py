"""`apeiria bag record/play`: MCAP bags with apeiria's own message types."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from apeiria_ros.qos import qos_profile
from tests.ros.conftest import DOMAIN_ID, wait_until
from tests.ros.scenes import office

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]

APEIRIA = [sys.executable, "-m", "apeiria_model.cli.main"]


def test_record_then_play_round_trips_scene_maps(ros, ros_env, tmp_path):
    from rclpy.serialization import deserialize_message
    from rosbags.rosbag2 import Reader
    from std_msgs.msg import String

    from apeiria.msg import SceneMap
    from apeiria_ros.bags import typestore
    from apeiria_ros.conversions.scene import msg_to_scene, scene_to_msg

    scene = office()
    pub_map = ros.node.create_publisher(SceneMap, "/bagtest/scene_map", qos_profile("reliable", 10))
    pub_txt = ros.node.create_publisher(String, "/bagtest/text", qos_profile("reliable", 10))
    stop = threading.Event()

    def publish():
        k = 0
        while not stop.is_set():
            pub_map.publish(scene_to_msg(scene))
            pub_txt.publish(String(data=f"hello {k}"))
            k += 1
            stop.wait(0.05)

    th = threading.Thread(target=publish, daemon=True)
    th.start()
    out = tmp_path / "run.mcap"
    try:
        p = subprocess.run(APEIRIA + ["bag", "record", "--topics", "/bagtest/scene_map", "/bagtest/text",
                                      "--out", str(out), "--duration", "2", "--domain-id", str(DOMAIN_ID),
                                      "--log-dir", str(tmp_path / "log")],
                           env=ros_env, capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        th.join()
    assert p.returncode == 0, p.stderr
    bag = tmp_path / "run"
    assert (bag / "metadata.yaml").is_file() and list(bag.glob("*.mcap"))
    store = typestore()
    n_maps = 0
    with Reader(bag) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types == {"/bagtest/scene_map": "apeiria/msg/SceneMap", "/bagtest/text": "std_msgs/msg/String"}
        for conn, _, raw in reader.messages():
            if conn.topic == "/bagtest/scene_map":
                n_maps += 1
                # the bytes decode both with rclpy and with the registered rosbags type
                assert msg_to_scene(deserialize_message(bytes(raw), SceneMap)) == scene
                via_rosbags = store.deserialize_cdr(raw, conn.msgtype)
                assert [o.label for o in via_rosbags.objects] == [o.label for o in scene.objects]
    assert n_maps >= 5

    got = ros.collect(SceneMap, "/bagtest/scene_map")
    play = subprocess.run(APEIRIA + ["bag", "play", str(bag / "run.mcap"), "--rate", "4", "--domain-id",
                                     str(DOMAIN_ID), "--log-dir", str(tmp_path / "log"), "--wait-subscribers", "10"],
                          env=ros_env, capture_output=True, text=True, timeout=60)
    assert play.returncode == 0, play.stderr
    assert "played" in play.stdout
    wait_until(lambda: len(got) >= n_maps - 1, 10, what=f"{n_maps} replayed maps (got {len(got)})")
    assert msg_to_scene(got[0]) == scene


def test_record_names_missing_topics(ros_env, tmp_path):
    p = subprocess.run(APEIRIA + ["bag", "record", "--topics", "/nobody/here", "--out", str(tmp_path / "x.mcap"),
                                  "--duration", "1", "--discover-timeout", "1", "--domain-id", str(DOMAIN_ID),
                                  "--log-dir", str(tmp_path / "log")],
                       env=ros_env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no publisher found within 1 s for: /nobody/here" in p.stderr
