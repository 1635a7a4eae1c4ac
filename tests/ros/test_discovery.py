"""Discovery on the loopback DDS profile (config/fastdds_loopback.xml) with more
participants than Fast DDS's default unicast peer range (4): every one of them must
discover every other. (Before maxInitialPeersRange was raised, the fifth and later
participants of a domain never discovered each other: a bringup with its lifecycle
manager, the nodes, a test harness and `apeiria ask` is more than four.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.ros.conftest import require_ros

pytestmark = [pytest.mark.ros, pytest.mark.timeout(120)]

N = 7
CHILD = r"""
import sys, time, rclpy
rclpy.init()
node = rclpy.create_node(f"disc_{sys.argv[1]}")
deadline = time.monotonic() + 40
want = {f"disc_{i}" for i in range(int(sys.argv[2]))}
while time.monotonic() < deadline:
    seen = {n for n in node.get_node_names() if n.startswith("disc_")}
    if seen >= want:
        break
    time.sleep(0.1)
print(sorted(seen), flush=True)
time.sleep(3)  # stay visible while the others finish looking
"""


def test_more_than_four_participants_all_discover_each_other(ros_env):
    require_ros()
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(i), str(N)], env=ros_env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(N)]
    outs = [p.communicate(timeout=90)[0].strip().splitlines()[-1] for p in procs]
    want = str(sorted(f"disc_{i}" for i in range(N)))
    assert all(o == want for o in outs), outs
