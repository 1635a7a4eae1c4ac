"""speech_node: a WAV synthesised with espeak-ng becomes an instruction on the topic."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from apeiria_ros.launching import NodeSpec, ProcessGroup
from tests.ros.conftest import REQUIRE_ROS, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120),
              pytest.mark.skipif(shutil.which("espeak-ng") is None and not REQUIRE_ROS,
                                 reason="espeak-ng not installed (requirements/apt.txt)")]


def test_spoken_instruction_is_published(ros, ros_env, log_dir, tmp_path):
    from std_msgs.msg import String

    from apeiria_ros.qos import qos_profile

    wav = tmp_path / "red_mug.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav), "the red mug"], check=True)
    instructions = ros.collect(String, "/apeiria/instruction")
    transcripts = ros.collect(String, "/apeiria/speech_transcript", qos_profile("latched"))
    g = ProcessGroup(ros_env, log_dir / "speech")
    g.start(NodeSpec("speech_node", params={"vocabulary": ["mug", "desk", "lamp", "chair", "window"],
                                            "lm_cache_dir": str(tmp_path / "lm")}))
    try:
        wait_until(lambda: ros.node.count_publishers("/apeiria/instruction") >= 1, 30, what="speech node")
        # a missing file is a status, not a crash
        assert ros.set_params("speech_node", wav_file=str(tmp_path / "nope.wav"))[0].successful
        err = wait_until(lambda: next((json.loads(m.data) for m in transcripts
                                       if json.loads(m.data)["status"] == "error"), None), 30, what="error status")
        assert "WAV file not found" in err["message"]
        assert ros.set_params("speech_node", wav_file=str(wav))[0].successful
        ok = wait_until(lambda: next((json.loads(m.data) for m in transcripts
                                      if json.loads(m.data)["status"] == "ok"), None), 60, what="transcript")
        assert "red" in ok["text"].split()
        wait_until(lambda: any(m.data == ok["text"] for m in instructions), 10, what="instruction published")
        assert g.procs["speech_node"].poll() is None
    finally:
        g.stop()
