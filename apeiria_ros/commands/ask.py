"""`apeiria ask "instruction"`: call a running grounding node's Ground service and print
the same output as `apeiria ground` (text, or the same JSON with --json)."""

from __future__ import annotations

import os
import time

from apeiria_model.cli.common import die, print_json
from apeiria_ros.commands._common import add_ros_options, check_domain, ros_log_dir

ANSWERED = ("ok", "no_match", "unparsed")


def register(subparsers) -> None:
    p = subparsers.add_parser("ask", help="ask a running grounding node (ROS 2 Ground service)",
                              description=__doc__.splitlines()[0])
    p.add_argument("instruction", help="the instruction, e.g. \"the red mug on the desk\"")
    p.add_argument("--json", action="store_true", help="print the `apeiria ground --json` JSON")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait (default 30)")
    p.add_argument("--reasoner", default="", choices=("", "symbolic", "neural", "hybrid"),
                   help="override the node's reasoner for this request")
    p.add_argument("--service", default="/apeiria/ground", help="service name (default /apeiria/ground)")
    add_ros_options(p)
    p.set_defaults(func=run)


def ask(instruction: str, service: str = "/apeiria/ground", timeout: float = 30.0, reasoner: str = "",
        context=None):
    """The GroundingResult message for ``instruction``; TimeoutError when nothing answers."""
    import rclpy

    from apeiria.srv import Ground

    own = context is None
    if own:
        context = rclpy.context.Context()
        rclpy.init(context=context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node(f"apeiria_ask_{os.getpid()}", context=context)
    try:
        deadline = time.monotonic() + timeout
        cli = node.create_client(Ground, service)
        if not cli.wait_for_service(timeout_sec=max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"no Ground service at {service} within {timeout:g} s")
        fut = cli.call_async(Ground.Request(instruction=instruction, reasoner=reasoner))
        from rclpy.executors import SingleThreadedExecutor

        ex = SingleThreadedExecutor(context=context)
        ex.add_node(node)
        ex.spin_until_future_complete(fut, timeout_sec=max(0.0, deadline - time.monotonic()))
        if not fut.done():
            raise TimeoutError(f"the grounding node at {service} did not answer within {timeout:g} s")
        return fut.result().result
    finally:
        node.destroy_node()
        if own:
            rclpy.try_shutdown(context=context)


def run(args) -> int:
    from apeiria_ros.env import apply_ros_environment

    check_domain(args.domain_id)
    if args.timeout <= 0:
        die("--timeout must be > 0")
    apply_ros_environment(args.domain_id, ros_log_dir(args.log_dir) / "ros")
    try:
        msg = ask(args.instruction, args.service, args.timeout, args.reasoner)
    except TimeoutError as e:
        die(f"{e} (is `apeiria bringup` running with ROS_DOMAIN_ID={args.domain_id}?)", code=3)
    from apeiria_ros.conversions.result import msg_to_result

    result = msg_to_result(msg)
    if args.json:
        print_json(result.to_dict())
    else:
        try:
            from apeiria_model.cli.ground import render_text
        except ImportError:
            import json

            print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        else:
            print(render_text(result))
    return 0 if result.status in ANSWERED else 1
