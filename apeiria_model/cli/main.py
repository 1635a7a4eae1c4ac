"""`apeiria` command line: one module per subcommand in this package.

Every module here with a ``register(subparsers)`` function adds its subcommands;
``apeiria_ros.cli`` adds the ROS ones (bringup, ask, bag, demo) when ROS 2 is
importable. Adding a command never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import apeiria_model.cli as cli_pkg


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="apeiria", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        if info.name in ("main", "common"):
            continue
        module = importlib.import_module(f"apeiria_model.cli.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    try:
        ros_cli = importlib.import_module("apeiria_ros.cli")
    except ImportError as e:  # ROS 2 not installed: the pure-Python commands still work
        if "apeiria_ros" not in str(e) and "rclpy" not in str(e):
            raise
    else:
        ros_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `apeiria ... | head` is fine
        return 0


if __name__ == "__main__":
    sys.exit(main())
