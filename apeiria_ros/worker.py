"""A worker thread with a bounded queue: slow work (reasoning, perception) runs off the
ROS executor so callbacks never starve. Two overflow policies:

- "reject": ``submit`` returns False and the caller answers "busy" (requests are never
  silently dropped);
- "drop_oldest": the oldest queued item is discarded and counted (sensor frames: the
  newest data matters most).
"""

from __future__ import annotations

import collections
import heapq
import itertools
import threading
import time
import traceback
from typing import Any, Callable


class BoundedWorker:
    def __init__(self, handler: Callable[[Any], None], maxsize: int, policy: str = "reject",
                 on_error: Callable[[Any, BaseException], None] | None = None, name: str = "apeiria-worker"):
        if policy not in ("reject", "drop_oldest"):
            raise ValueError(f"policy must be 'reject' or 'drop_oldest', got {policy!r}")
        self.handler, self.policy, self.on_error = handler, policy, on_error
        self.maxsize = max(1, int(maxsize))
        self._q: collections.deque = collections.deque()
        self._cv = threading.Condition()
        self._stop = False
        self._busy = False
        self._current: Any = None
        self.submitted = self.processed = self.rejected = self.dropped = self.failed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> bool:
        """Queue ``item``; False (policy reject) when full. drop_oldest always accepts."""
        with self._cv:
            if self._stop:
                return False
            if len(self._q) >= self.maxsize:
                if self.policy == "reject":
                    self.rejected += 1
                    return False
                self._q.popleft()
                self.dropped += 1
            self._q.append(item)
            self.submitted += 1
            self._cv.notify_all()  # (wait_idle waits on the same condition)
            return True

    def resize(self, maxsize: int) -> None:
        with self._cv:
            self.maxsize = max(1, int(maxsize))

    @property
    def depth(self) -> int:
        with self._cv:
            return len(self._q) + (1 if self._busy else 0)

    @property
    def current(self) -> Any:
        """The item being handled now (None when idle)."""
        with self._cv:
            return self._current

    def take_queued(self) -> list:
        """Remove and return every queued item not yet handled (the one being handled stays)."""
        with self._cv:
            items = list(self._q)
            self._q.clear()
            self._cv.notify_all()
            return items

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or being handled; False when ``timeout`` ran out first."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._q and not self._busy, timeout)

    def stats(self) -> dict[str, int]:
        with self._cv:
            return {"submitted": self.submitted, "processed": self.processed, "rejected": self.rejected,
                    "dropped": self.dropped, "failed": self.failed, "queued": len(self._q)}

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._q and not self._stop:
                    self._cv.wait()
                if self._stop and not self._q:
                    return
                item = self._q.popleft()
                self._busy = True
                self._current = item
            try:
                self.handler(item)
            except BaseException as e:  # a bad item must not kill the worker
                with self._cv:
                    self.failed += 1
                if self.on_error is not None:
                    self.on_error(item, e)
            finally:
                with self._cv:
                    self._busy = False
                    self._current = None
                    self.processed += 1
                    self._cv.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout)


class Deadlines:
    """Calls ``fn()`` at ``time.monotonic() + delay`` on one thread (request timeouts, the
    action feedback head start): no thread per request, nothing on the ROS executor."""

    def __init__(self, name: str = "apeiria-deadlines"):
        self._seq = itertools.count()
        self._heap: list = []
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, float(delay)), next(self._seq), fn))
            self._cv.notify()

    def __len__(self) -> int:
        with self._cv:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cv.wait(None if not self._heap else self._heap[0][0] - now)
                if self._stop:
                    return
                _, _, fn = heapq.heappop(self._heap)
            try:
                fn()
            except Exception:  # one bad callback must not stop the others
                traceback.print_exc()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout)
