"""`apeiria bringup --config config/bringup_demo.yaml`: start the configured nodes, each
in its own process with its parameters from the same YAML the launch files read.

The lifecycle nodes (grounding_node, scene_builder_node) start with autostart: false and
bringup is their lifecycle manager: through /<node>/change_state it configures all of
them, then activates all of them, in the configured order, and reports ready; on
stop it deactivates, cleans up and shuts them down in reverse order before the
processes end.

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
    p.add_argument("--transition-timeout", type=float, default=180.0, metavar="S",
                   help="seconds a lifecycle node may take per transition (configure loads the models; default 180)")
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


def start_nodes(config: str | Path, env: dict, log_dir: Path, overrides: dict | None = None, echo: bool = False,
                transition_timeout: float = 180.0, cancelled=None):
    """A started ProcessGroup for the config, its lifecycle nodes active (callers stop it)."""
    from apeiria_ros.launching import LIFECYCLE_NODES, BringupError, NodeSpec, ProcessGroup, load_bringup_config

    nodes, _ = load_bringup_config(config)
    overrides = overrides or {}
    unknown = set(overrides) - set(nodes)
    if unknown:
        raise BringupError(f"--set names node(s) not in {config}: {', '.join(sorted(unknown))}")
    group = ProcessGroup(env, log_dir, echo=echo)
    managed = [n for n in nodes if n in LIFECYCLE_NODES]
    try:
        for n in nodes:
            params = dict(overrides.get(n, {}))
            if n in managed:
                params["autostart"] = False  # this process is their lifecycle manager
            group.start(NodeSpec(n, params_files=[str(Path(config).resolve())], params=params))
        if managed:
            group.manage(managed, transition_timeout, cancelled)
    except BaseException:  # (KeyboardInterrupt too: no child is left behind)
        group.stop()
        raise
    return group


def run(args) -> int:
    import os

    from apeiria_ros.env import ros_environment
    from apeiria_ros.launching import BringupError, BringupInterrupted, NodeFailed

    check_domain(args.domain_id)
    logs = ros_log_dir(args.log_dir)
    env = ros_environment(args.domain_id, logs / "ros")
    # this process joins the graph too (the lifecycle manager): same DDS settings, same log folder
    os.environ.update({k: env[k] for k in ("FASTDDS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION", "ROS_DOMAIN_ID",
                                            "ROS_HOME", "ROS_LOG_DIR") if k in env})
    stop = {"sig": None}

    def on_signal(sig, _frame):
        stop["sig"] = sig

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if args.transition_timeout <= 0:
        die("--transition-timeout must be > 0")
    try:
        group = start_nodes(args.config, env, logs, parse_overrides(args.set), args.echo,
                            transition_timeout=args.transition_timeout, cancelled=lambda: stop["sig"] is not None)
    except BringupInterrupted:
        print("apeiria bringup: interrupted while bringing the nodes up; stopped them", file=sys.stderr, flush=True)
        return 130
    except NodeFailed as e:  # a node did not come up: like a node that exits, status 1
        die(str(e), code=1)
    except BringupError as e:  # the configuration
        die(str(e))
    names = ", ".join(f"{n} (pid {p.pid})" for n, p in group.procs.items())
    active = f"; lifecycle nodes active: {', '.join(group.managed)}" if group.managed else ""
    print(f"apeiria bringup: ROS_DOMAIN_ID={args.domain_id}, started {names}{active}; logs in {logs}", flush=True)
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
