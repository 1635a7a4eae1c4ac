"""Approximate time synchronisation of colour, depth and camera pose by hand
(message_filters is not installable from wheels): pair each colour image with the
depth image of nearest stamp within ``slop`` seconds, and the nearest pose within
``pose_slop``. Pure Python, no ROS types: items are (stamp_seconds, payload).
"""

from __future__ import annotations

import bisect
import collections
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class SyncedSet:
    stamp: float
    color: Any
    depth: Any
    pose: Any | None


class ApproximateSync:
    def __init__(self, slop: float = 0.02, pose_slop: float = 0.1, history: int = 30):
        self.slop, self.pose_slop = float(slop), float(pose_slop)
        self.colors: collections.deque = collections.deque(maxlen=history)
        self.depths: collections.deque = collections.deque(maxlen=history)
        self.poses: collections.deque = collections.deque(maxlen=history * 4)
        self._lock = threading.Lock()
        self.last_stamp = float("-inf")

    def add_pose(self, stamp: float, pose: Any) -> None:
        with self._lock:
            self.poses.append((stamp, pose))

    def latest_pose_stamp(self) -> float:
        with self._lock:
            return self.poses[-1][0] if self.poses else float("-inf")

    def nearest_pose(self, stamp: float) -> Any | None:
        with self._lock:
            return self._nearest_pose(stamp)

    def _nearest_pose(self, stamp: float):
        if not self.poses:
            return None
        best = min(self.poses, key=lambda p: abs(p[0] - stamp))
        return best[1] if abs(best[0] - stamp) <= self.pose_slop else None

    def add_color(self, stamp: float, msg: Any) -> list[SyncedSet]:
        with self._lock:
            self.colors.append((stamp, msg))
            return self._match()

    def add_depth(self, stamp: float, msg: Any) -> list[SyncedSet]:
        with self._lock:
            self.depths.append((stamp, msg))
            return self._match()

    def _match(self) -> list[SyncedSet]:
        out = []
        while self.colors and self.depths:
            dstamps = [d[0] for d in self.depths]
            matched = False
            for ci, (cs, cmsg) in enumerate(list(self.colors)):
                j = bisect.bisect_left(dstamps, cs) if dstamps == sorted(dstamps) else None
                cands = range(len(dstamps)) if j is None else [i for i in (j - 1, j) if 0 <= i < len(dstamps)]
                if not cands:
                    continue
                di = min(cands, key=lambda i: abs(dstamps[i] - cs))
                if abs(dstamps[di] - cs) <= self.slop:
                    ds, dmsg = self.depths[di]
                    # Everything older than this pair can never pair any more.
                    for _ in range(ci + 1):
                        self.colors.popleft()
                    for _ in range(di + 1):
                        self.depths.popleft()
                    out.append(SyncedSet(cs, cmsg, dmsg, None))
                    matched = True
                    break
            if not matched:
                break
        return out
