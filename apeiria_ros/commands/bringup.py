"""`apeiria bringup --config config/bringup_demo.yaml`: start the configured nodes, each
in its own process with its parameters from the same YAML the launch files read.

Signals (Ctrl-C, SIGTERM) are forwarded to every node. Nothing is restarted: when a
node exits, bringup says which, with the end of its log, stops the others and exits
non-zero.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from apeiria_model.cli.common import die
from apeiria_ros.commands._common import add_ros_options, check_domain, ros_log_dir


def register(subparsers) -> None:
    p = subparsers.add_parser("bringup", help="start the ROS 2 nodes of a bringup config, one process each",
                              description=__doc__.splitlines()[0])
    p.add_argument("--config", default="config/bringup_demo.yaml", help="bringup YAML (ROS params file + node list)")
    p.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override one parameter, e.g. grounding_node.reasoner=hybrid (YAML value)")
    p.add_argument("--duration", type=float, default=0.0, metavar="S", help="stop after S seconds (0 = run until Ctrl-C)")
    p.add_argument("--echo", action="store_true", help="node output to this terminal instead of log files")
    add_ros_options(p)
    p.set_defaults(func=run)


def parse_overrides(items: list[str]) -> dict[str, dict]:
    import yaml

    out: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        node, dot, param = key.partition(".")
        if not sep or not dot or not node or not param:
            die(f"--set expects NODE.PARAM=VALUE, got {item!r}")
        try:
            out.setdefault(node, {})[param] = yaml.safe_load(value)
        except yaml.YAMLError:
            die(f"--set {item!r}: the value is not valid YAML")
    return out


def start_nodes(config: str | Path, env: dict, log_dir: Path, overrides: dict | None = None, echo: bool = False):
    """A started ProcessGroup for the config (callers stop it)."""
    from apeiria_ros.launching import BringupError, NodeSpec, ProcessGroup, load_bringup_config

    nodes, _ = load_bringup_config(config)
    overrides = overrides or {}
    unknown = set(overrides) - set(nodes)
    if unknown:
        raise BringupError(f"--set names node(s) not in {config}: {', '.join(sorted(unknown))}")
    group = ProcessGroup(env, log_dir, echo=echo)
    try:
        for n in nodes:
            group.start(NodeSpec(n, params_files=[str(Path(config).resolve())], params=overrides.get(n, {})))
    except Exception:
        group.stop()
        raise
    return group


def run(args) -> int:
    from apeiria_ros.env import ros_environment
    from apeiria_ros.launching import BringupError

    check_domain(args.domain_id)
    logs = ros_log_dir(args.log_dir)
    env = ros_environment(args.domain_id, logs / "ros")
    stop = {"sig": None}

    def on_signal(sig, _frame):
        stop["sig"] = sig

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        group = start_nodes(args.config, env, logs, parse_overrides(args.set), args.echo)
    except BringupError as e:
        die(str(e))
    names = ", ".join(f"{n} (pid {p.pid})" for n, p in group.procs.items())
    print(f"apeiria bringup: ROS_DOMAIN_ID={args.domain_id}, started {names}; logs in {logs}", flush=True)
    t0 = time.monotonic()
    code = 0
    try:
        while stop["sig"] is None:
            dead = group.exited()
            if dead:
                for n, rc in dead.items():
                    print(f"apeiria bringup: node {n} exited with status {rc}; stopping the others "
                          f"(nothing is restarted). Last lines of {group.log_path(n)}:\n{group.log_tail(n)}",
                          file=sys.stderr, flush=True)
                code = 1
                break
            if args.duration and time.monotonic() - t0 >= args.duration:
                break
            time.sleep(0.1)
    finally:
        codes = group.stop()
    print(f"apeiria bringup: stopped ({', '.join(f'{n}={c}' for n, c in codes.items())})", flush=True)
    return code
