"""Config files, launch files and node parameter declarations agree with each other."""

from __future__ import annotations

import ast
import importlib

import pytest
import yaml

from apeiria_ros.env import REPO_ROOT
from apeiria_ros.launching import NODE_MODULES, BringupError, load_bringup_config

CONFIG = REPO_ROOT / "config"
# The ROS parameter files (other config/*.yaml belong to perception and training).
PARAM_FILES = [CONFIG / n for n in ("bringup.yaml", "bringup_demo.yaml", "grounding.yaml", "scene_builder.yaml",
                                    "sim.yaml", "speech.yaml")]


def _declared(module: str) -> dict:
    return {p.name: p for p in importlib.import_module(f"apeiria_ros.{module}").PARAMS}


@pytest.mark.parametrize("path", PARAM_FILES, ids=lambda p: p.name)
def test_every_configured_parameter_is_declared_with_the_same_type(path):
    doc = yaml.safe_load(path.read_text())
    sections = {k: v for k, v in doc.items() if k != "apeiria_bringup"}
    assert sections, f"{path.name} configures no node"
    for node, body in sections.items():
        assert node in NODE_MODULES, f"{path.name}: unknown node {node}"
        declared = _declared(node)
        for key, value in body["ros__parameters"].items():
            assert key in declared, f"{path.name}: {node}.{key} is not a declared parameter"
            default = declared[key].default
            if isinstance(default, float):
                assert isinstance(value, (int, float)), f"{path.name}: {node}.{key}"
                assert isinstance(value, float), f"{path.name}: {node}.{key} must be written as a float (e.g. 5.0)"
            else:
                assert type(value) is type(default), f"{path.name}: {node}.{key} is {type(value).__name__}"


@pytest.mark.parametrize("name", ["bringup_demo.yaml", "bringup.yaml"])
def test_bringup_configs_list_known_nodes(name):
    nodes, _ = load_bringup_config(CONFIG / name)
    assert set(nodes) <= set(NODE_MODULES)


def test_bringup_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apeiria_bringup: {ros__parameters: {nodes: []}}\n")
    with pytest.raises(BringupError, match="non-empty list"):
        load_bringup_config(bad)
    bad.write_text("[1, 2\n")
    with pytest.raises(BringupError, match="not valid YAML"):
        load_bringup_config(bad)


def test_every_parameter_has_a_description():
    for module in NODE_MODULES:
        for p in _declared(module).values():
            assert len(p.description) > 10, f"{module}.{p.name}"


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_files(path):
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    pytest.importorskip("launch_ros", reason="launch_ros is not installable from wheels: syntax checked only")
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.generate_launch_description()


def test_rviz_config_subscribes_to_the_published_topics():
    doc = yaml.safe_load((CONFIG / "apeiria.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in doc["Visualization Manager"]["Displays"] if "Topic" in d}
    assert {"/apeiria/scene_markers", "/apeiria/grounding_markers", "/goal_pose"} <= topics


def test_fastdds_profile_is_loopback_only():
    import xml.etree.ElementTree as ET

    root = ET.parse(CONFIG / "fastdds_loopback.xml").getroot()
    ns = {"d": "http://www.eprosima.com"}
    assert root.find(".//d:useBuiltinTransports", ns).text == "false"
    assert [a.text for a in root.findall(".//d:interfaceWhiteList/d:address", ns)] == ["127.0.0.1"]
    assert [a.text for a in root.findall(".//d:initialPeersList//d:address", ns)] == ["127.0.0.1"]
    # unicast discovery must reach more participants than Fast DDS's default 4 (test_discovery.py)
    assert int(root.find(".//d:maxInitialPeersRange", ns).text) >= 16
