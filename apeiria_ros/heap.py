"""Keep Python's cyclic garbage collector from pausing the nodes.

A node that has loaded a reasoner (transformers, sentence-transformers, lark, torch)
holds millions of long-lived Python objects. Every full (generation 2) collection walks
all of them: measured 100-240 ms pauses in the grounding node, which were the whole
tail of its instruction -> result latency. ``gc.freeze()`` moves everything alive now
into a permanent generation that collections skip, so later collections only walk what
requests allocate. Call it once the heavy, long-lived objects exist (after a model
loads); calling it again later freezes what was added since.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()


def freeze_heap() -> int:
    """Collect what is garbage now, then exempt every surviving object from future
    collections. Returns the number of objects frozen in all (``gc.get_freeze_count``)."""
    with _lock:
        gc.collect()
        gc.freeze()
        return gc.get_freeze_count()
