"""Shared fixtures: small hand-built scenes whose answers are known by construction."""

from __future__ import annotations

import os

import pytest

# Never reach for a model hub: everything apeiria loads ships in a package or the repo.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from apeiria_model.scene import Scene  # noqa: E402
from tests.scenes import office  # noqa: E402


@pytest.fixture
def office_scene() -> Scene:
    """A desk against the north wall, a mug and a lamp on it, two chairs, a window."""
    return office()
