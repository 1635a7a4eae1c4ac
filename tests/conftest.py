"""Shared fixtures: small hand-built scenes whose answers are known by construction."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# Property tests: random examples while developing (that is how new bugs are found), a fixed
# example stream under CI (CI=true) so a red run is a change's fault, never a new draw's.
# Every bug a random draw finds gets a pinned @example or a plain regression test.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# Never reach for a model hub: everything apeiria loads ships in a package or the repo.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from apeiria_model.scene import Scene  # noqa: E402
from tests.scenes import office  # noqa: E402


@pytest.fixture
def office_scene() -> Scene:
    """A desk against the north wall, a mug and a lamp on it, two chairs, a window."""
    return office()
