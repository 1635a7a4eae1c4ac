"""How many cases each fuzz target runs: a small number in `make test`, many in `make fuzz`.

``APEIRIA_FUZZ_EXAMPLES`` (default 150) sets hypothesis' ``max_examples`` for every fuzz
target; `make fuzz` sets it to 100000 (``FUZZ_EXAMPLES=...`` overrides).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = max(1, int(os.environ.get("APEIRIA_FUZZ_EXAMPLES", "150")))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
