"""Nav2 NavigateToPose action client for the grounding node's approach pose.

``send(pose)`` returns at once: a dedicated thread waits (at most ``timeout_s``) for the
action server, sends the goal, and waits (at most ``timeout_s`` again) for the server to
accept or reject it; the result arrives on the executor through rclpy's futures. So no
executor thread ever waits on Nav2, and an absent or silent server only produces a
``navigation_error`` report naming what timed out. Newest pose wins: a pose that is
still waiting for the server when a newer one comes is replaced (and reported so);
a goal already sent is left to Nav2, whose navigator preempts it with the newer goal.

Reports go to ``report(event, text)`` (the node's status topic + log). Events:
``navigation_sent``, ``navigation_accepted``, ``navigation_succeeded``,
``navigation_superseded`` (a newer goal replaced this one before it ended),
``navigation_error`` (server absent, no goal response, rejected, aborted, canceled).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

# action_msgs/GoalStatus values (rclpy reports a result's status with them)
_STATUS_NAMES = {0: "unknown", 1: "accepted", 2: "executing", 3: "canceling", 4: "succeeded", 5: "canceled",
                 6: "aborted"}
STATUS_SUCCEEDED = 4


def describe_pose(pose) -> str:
    p = pose.pose.position
    return f"({p.x:.2f}, {p.y:.2f}) in '{pose.header.frame_id}'"


class NavigateToPoseClient:
    """One NavigateToPose action client, fed approach poses by the grounding node."""

    def __init__(self, node, action_name: str, report: Callable[[str, str], None],
                 timeout_s: Callable[[], float] | float = 5.0, behavior_tree: Callable[[], str] | str = "",
                 callback_group=None, poll_s: float = 0.05):
        from rclpy.action import ActionClient

        from nav2_msgs.action import NavigateToPose

        self.action_name = action_name
        self._NavigateToPose = NavigateToPose
        self._client = ActionClient(node, NavigateToPose, action_name, callback_group=callback_group)
        self._report = report
        self._timeout = timeout_s if callable(timeout_s) else (lambda: float(timeout_s))
        self._bt = behavior_tree if callable(behavior_tree) else (lambda: str(behavior_tree))
        self._poll = poll_s
        self._cv = threading.Condition()
        self._pending: tuple[int, Any, str] | None = None
        self._seq = 0
        self._latest = 0          # number of the newest goal handed to send()
        self._stop = False
        self.counts = {k: 0 for k in ("requested", "sent", "accepted", "rejected", "succeeded", "failed",
                                      "superseded", "server_timeouts", "response_timeouts")}
        self._thread = threading.Thread(target=self._run, name="apeiria-navigate", daemon=True)
        self._thread.start()

    # --- called by the node (any thread) --------------------------------------------
    def send(self, pose, what: str = "") -> int:
        """Queue ``pose`` (geometry_msgs/PoseStamped) as the next NavigateToPose goal;
        returns its number (nav-<n> in the reports). Never blocks."""
        with self._cv:
            self._seq += 1
            n = self._latest = self._seq
            replaced = self._pending
            self._pending = (n, pose, what)
            self.counts["requested"] += 1
            self._cv.notify()
        if replaced is not None:
            self._count("superseded")
            self._report("navigation_superseded", f"nav-{replaced[0]} ({replaced[2]}) replaced by nav-{n} "
                                                  f"before it was sent")
        return n

    def snapshot(self) -> dict[str, int]:
        """Goal counters (for /diagnostics): requested, sent, accepted, rejected, succeeded,
        failed, superseded, server_timeouts, response_timeouts."""
        with self._cv:
            return dict(self.counts)

    def destroy(self, timeout: float = 2.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout)
        self._client.destroy()

    # --- the sending thread ---------------------------------------------------------
    def _count(self, key: str) -> None:
        with self._cv:
            self.counts[key] += 1

    def _take(self):
        with self._cv:
            while self._pending is None and not self._stop:
                self._cv.wait()
            if self._stop:
                return None
            item, self._pending = self._pending, None
            return item

    def _wait(self, pred: Callable[[], bool], timeout: float) -> bool:
        """Poll ``pred`` until it holds (True) or ``timeout`` passes / stop (False)."""
        deadline = time.monotonic() + timeout
        while True:
            if pred():
                return True
            with self._cv:
                if self._stop:
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(self._poll, left))

    def _newer_waiting(self) -> bool:
        with self._cv:
            return self._pending is not None

    def _run(self) -> None:
        while True:
            item = self._take()
            if item is None:
                return
            n, pose, what = item
            timeout = max(0.0, float(self._timeout()))
            if not self._wait(lambda: self._client.server_is_ready() or self._newer_waiting(), timeout):
                if not self._stop:
                    self._count("server_timeouts")
                    self._report("navigation_error", f"nav-{n} ({what}) not sent: no NavigateToPose action server "
                                                     f"on {self.action_name} within {timeout:g} s")
                continue
            if self._newer_waiting():  # a newer pose came while we waited: it replaces this one
                self._count("superseded")
                self._report("navigation_superseded", f"nav-{n} ({what}) replaced before it was sent")
                continue
            goal = self._NavigateToPose.Goal(pose=pose, behavior_tree=self._bt())
            try:
                future = self._client.send_goal_async(goal)
            except Exception as e:  # e.g. the node is shutting down
                self._count("failed")
                self._report("navigation_error", f"nav-{n} ({what}) could not be sent: {type(e).__name__}: {e}")
                continue
            self._count("sent")
            self._report("navigation_sent", f"nav-{n} ({what}): NavigateToPose goal {describe_pose(pose)} "
                                            f"sent to {self.action_name}")
            future.add_done_callback(lambda f, n=n, what=what: self._on_goal_response(f, n, what))
            if not self._wait(future.done, timeout) and not self._stop:
                self._count("response_timeouts")
                self._report("navigation_error", f"nav-{n} ({what}): no goal response from {self.action_name} "
                                                 f"within {timeout:g} s")

    # --- executor callbacks ---------------------------------------------------------
    def _on_goal_response(self, future, n: int, what: str) -> None:
        try:
            handle = future.result()
        except Exception as e:
            self._count("failed")
            self._report("navigation_error", f"nav-{n} ({what}): goal request failed: {type(e).__name__}: {e}")
            return
        if handle is None or not handle.accepted:
            self._count("rejected")
            self._report("navigation_error", f"nav-{n} ({what}): goal rejected by {self.action_name}")
            return
        self._count("accepted")
        self._report("navigation_accepted", f"nav-{n} ({what}): goal accepted by {self.action_name}")
        handle.get_result_async().add_done_callback(lambda f: self._on_result(f, n, what))

    def _on_result(self, future, n: int, what: str) -> None:
        try:
            res = future.result()
        except Exception as e:
            self._count("failed")
            self._report("navigation_error", f"nav-{n} ({what}): result request failed: {type(e).__name__}: {e}")
            return
        status = int(res.status)
        name = _STATUS_NAMES.get(status, str(status))
        detail = ""
        if res.result is not None and (res.result.error_code or res.result.error_msg):
            detail = f" (error_code {res.result.error_code}: {res.result.error_msg or 'no message'})"
        if status == STATUS_SUCCEEDED:
            self._count("succeeded")
            self._report("navigation_succeeded", f"nav-{n} ({what}): reached {self.action_name} goal")
            return
        with self._cv:
            superseded = n != self._latest
        if superseded:
            self._count("superseded")
            self._report("navigation_superseded", f"nav-{n} ({what}) ended {name} after a newer goal{detail}")
            return
        self._count("failed")
        self._report("navigation_error", f"nav-{n} ({what}): navigation {name}{detail}")
