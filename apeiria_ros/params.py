"""Declaring node parameters with a default and a description in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    read_only: bool = False  # changing it at run time would need a restart (topic names, QoS)


def declare_all(node, params: list[Param]) -> None:
    from rcl_interfaces.msg import ParameterDescriptor

    for p in params:
        node.declare_parameter(p.name, p.default, ParameterDescriptor(description=p.description, read_only=p.read_only))


def values(node, params: list[Param]) -> dict[str, Any]:
    return {p.name: node.get_parameter(p.name).value for p in params}


def param_table(params: list[Param]) -> str:
    """Markdown table (docs/ros.md is written from these)."""
    rows = ["| parameter | default | description |", "|---|---|---|"]
    for p in params:
        ro = " (read-only)" if p.read_only else ""
        desc = p.description.replace("|", "\\|")
        rows.append(f"| `{p.name}` | `{p.default!r}` | {desc}{ro} |")
    return "\n".join(rows)
