"""docs/ros.md lists every node parameter (tables generated from the PARAMS lists)."""

import importlib

import pytest

from apeiria_ros.env import REPO_ROOT
from apeiria_ros.launching import NODE_MODULES


@pytest.mark.parametrize("module", NODE_MODULES)
def test_every_parameter_is_documented(module):
    doc = (REPO_ROOT / "docs" / "ros.md").read_text()
    for p in importlib.import_module(f"apeiria_ros.{module}").PARAMS:
        assert f"| `{p.name}` |" in doc, f"{module}.{p.name} missing from docs/ros.md"
