"""ROS 2 subcommands of `apeiria` (bringup, ask, bag, demo...).

Each module in ``apeiria_ros/commands`` with a ``register(subparsers)`` function adds
its commands; importing this module fails with ImportError when rclpy is missing,
and the pure-Python commands carry on without these.
"""

from __future__ import annotations

import importlib
import pkgutil

import apeiria_ros.commands as commands_pkg


def register(subparsers) -> None:
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"apeiria_ros.commands.{info.name}")
        if hasattr(module, "register"):
            module.register(subparsers)
