"""`apeiria console`: a web page for the operator (instruction in, map + answer + trace out).

Attaches to the grounding node already running on the ROS domain (`apeiria bringup`, a
launch file) and shows the SceneMap it reasons over. With --scene FILE it runs its own
grounding node instead and publishes FILE as the (latched) SceneMap, so a scene file is
enough to try the console. The page talks to this process over a WebSocket; this
process talks to the grounding node over ROS 2 (its Ground action, or service).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from apeiria_model.cli.common import die
from apeiria_ros.commands._common import add_ros_options, check_domain, ros_log_dir
from apeiria_ros.env import REPO_ROOT

GROUNDING_CONFIG = REPO_ROOT / "config" / "grounding.yaml"


def register(subparsers) -> None:
    p = subparsers.add_parser("console", help="operator web console: instruction in, map + grounded boxes + trace out",
                              description=__doc__.splitlines()[0])
    p.add_argument("--scene", default="", metavar="FILE",
                   help="Scene JSON v1: start a grounding node on this scene (default: attach to the running one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1; 0.0.0.0 lets other machines in: the page commands the robot)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080; 0 = any free port)")
    p.add_argument("--service", default="/apeiria/ground", help="the grounding node's Ground service")
    p.add_argument("--action", default="/apeiria/ground_action",
                   help="the grounding node's Ground action (live steps on the page; '' = the service only)")
    p.add_argument("--scene-topic", default="/apeiria/scene_map", help="SceneMap topic the grounding node follows")
    p.add_argument("--goal-topic", default="/goal_pose",
                   help="the approach goal the grounding node publishes (drawn on the map; '' = not shown)")
    p.add_argument("--status-topic", default="/apeiria/grounding_status", help="the grounding node's status events")
    p.add_argument("--reasoner", default="", choices=("", "symbolic", "neural", "hybrid"),
                   help="reasoner for the page's requests (default: the node's)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait for an answer (default 30)")
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                   help="with --scene: a grounding_node parameter, e.g. publish_goal=false (YAML value)")
    add_ros_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from apeiria_ros.env import apply_ros_environment

    check_domain(args.domain_id)
    if not 0 <= args.port <= 65535:
        die(f"--port must be in 0..65535, got {args.port}")
    if args.timeout <= 0:
        die("--timeout must be > 0")
    if args.set and not args.scene:
        die("--set configures the grounding node that --scene starts; without --scene the console starts none")
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        die("apeiria console needs aiohttp (pip install -r requirements/ros.txt)")
    grounding_params(args.set)  # refuse a bad --set before anything starts
    logs = ros_log_dir(args.log_dir)
    env = apply_ros_environment(args.domain_id, logs / "ros")
    scene = None
    if args.scene:
        from apeiria_model.scene.io import SceneValidationError, load_scene
        from apeiria_ros.env import resolve_path

        try:
            scene = load_scene(resolve_path(args.scene))
        except (OSError, SceneValidationError, ValueError) as e:
            die(f"--scene {args.scene}: {e}")
    return asyncio.run(_serve(args, env, logs, scene))


async def _serve(args, env: dict, logs: Path, scene) -> int:
    from apeiria_ros.console.server import ConsoleServer

    nodes = None
    server = ConsoleServer(host=args.host, port=args.port, service=args.service, scene_topic=args.scene_topic,
                           status_topic=args.status_topic, timeout=args.timeout, reasoner=args.reasoner,
                           action=args.action, goal_topic=args.goal_topic, owned_scene=scene, owned_source=f"file {Path(args.scene).name}" if scene is not None else "")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            url = await server.start()
        except OSError as e:
            print(f"apeiria console: cannot serve on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
            return 2
        if scene is not None:
            # Publishing our map to someone else's grounding node would change what a running
            # robot reasons over: --scene is for a node of our own.
            if await asyncio.to_thread(server.bridge.wait_for_service, 2.0):
                print(f"apeiria console: a grounding node already serves {args.service} on ROS_DOMAIN_ID="
                      f"{env['ROS_DOMAIN_ID']}; run `apeiria console` without --scene to attach to it, or pick "
                      "another --domain-id", file=sys.stderr)
                return 2
            nodes = _start_grounding_node(args, env, logs)
            server.nodes = nodes
        mode = (f"own grounding node on scene '{scene.scene_id}' ({len(scene)} objects, {args.scene})"
                if scene is not None else f"attached to {args.service}, map from {args.scene_topic}")
        print(f"apeiria console: serving {url} (ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, {mode}); "
              f"logs in {logs}; Ctrl-C stops", flush=True)
        await stop.wait()
        print("apeiria console: stopping", flush=True)
        return 0
    finally:
        await server.stop()
        if nodes is not None:
            nodes.stop()


def grounding_params(items: list[str]) -> dict:
    from apeiria_ros.commands.bringup import parse_overrides
    from apeiria_ros.grounding_node import PARAMS

    params = parse_overrides([f"grounding_node.{s}" for s in items]).get("grounding_node", {})
    unknown = sorted(set(params) - {p.name for p in PARAMS})
    if unknown:
        die(f"--set: the grounding node has no parameter {', '.join(unknown)}")
    return params


def _start_grounding_node(args, env: dict, logs: Path):
    from apeiria_ros.launching import NodeSpec, ProcessGroup

    params = grounding_params(args.set)
    params.update(scene_topic=args.scene_topic, service_name=args.service, status_topic=args.status_topic,
                  scene_file="")
    if args.action:
        params["action_name"] = args.action
    if args.goal_topic:
        params["goal_topic"] = args.goal_topic
    group = ProcessGroup(env, logs)
    try:
        group.start(NodeSpec("grounding_node", params_files=[str(GROUNDING_CONFIG)], params=params))
    except Exception:
        group.stop()
        raise
    return group
