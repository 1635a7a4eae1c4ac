"""ROS 2 subcommands of `apeiria` (bringup, ask, bag, demo...).

Each module in ``apeiria_ros/commands`` with a ``register(subparsers)`` function adds
its commands; importing this module fails with ImportError when rclpy is missing,
and the pure-Python commands carry on without these.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import apeiria_ros.commands as commands_pkg

# Cheap presence check (importing rclpy itself costs a noticeable fraction of a second
# and every `apeiria` command would pay it): the commands import rclpy when they run.
if importlib.util.find_spec("rclpy") is None:
    raise ImportError("rclpy is not installed: the ROS 2 commands are unavailable")


def register(subparsers) -> None:
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"apeiria_ros.commands.{info.name}")
        if hasattr(module, "register"):
            module.register(subparsers)
