"""`apeiria bag record|play`: MCAP bags (rosbag2 layout) of apeiria and standard topics."""

from __future__ import annotations

import signal
import threading

from apeiria_model.cli.common import die
from apeiria_ros.commands._common import add_ros_options, check_domain, ros_log_dir


def register(subparsers) -> None:
    p = subparsers.add_parser("bag", help="record / play ROS 2 bags (MCAP) with apeiria's message types")
    sub = p.add_subparsers(dest="bag_command", metavar="{record,play}")
    r = sub.add_parser("record", help="record topics to an MCAP bag")
    r.add_argument("--topics", nargs="+", required=True, help="topic names")
    r.add_argument("--out", required=True, help="bag name (FILE.mcap -> folder FILE/ with FILE.mcap inside)")
    r.add_argument("--duration", type=float, default=0.0, metavar="S", help="seconds (0 = until Ctrl-C)")
    r.add_argument("--discover-timeout", type=float, default=10.0, metavar="S",
                   help="how long to wait for the topics' publishers")
    add_ros_options(r)
    r.set_defaults(func=run_record)
    pl = sub.add_parser("play", help="publish the messages of a bag with their original timing")
    pl.add_argument("bag", help="bag folder or the .mcap inside it")
    pl.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default 1)")
    pl.add_argument("--wait-subscribers", type=float, default=2.0, metavar="S",
                    help="wait up to S s for a subscriber on every topic before playing")
    add_ros_options(pl)
    pl.set_defaults(func=run_play)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _node(args, name):
    import rclpy

    from apeiria_ros.env import apply_ros_environment

    check_domain(args.domain_id)
    apply_ros_environment(args.domain_id, ros_log_dir(args.log_dir) / "ros")
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node(name, context=ctx)
    from rclpy.executors import MultiThreadedExecutor

    ex = MultiThreadedExecutor(num_threads=2, context=ctx)
    ex.add_node(node)
    t = threading.Thread(target=lambda: _spin(ex), daemon=True)
    t.start()
    return rclpy, ctx, node, (ex, t)


def _close(rclpy, ctx, node, spin) -> None:
    """Stop spinning before the interpreter exits (a C++ thread alive at exit aborts)."""
    ex, t = spin
    rclpy.try_shutdown(context=ctx)
    ex.shutdown(timeout_sec=2)
    t.join(5)
    node.destroy_node()


def _spin(ex):
    try:
        ex.spin()
    except Exception:
        pass


def _stop_event():
    stop = threading.Event()
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: stop.set())
    return stop


def run_record(args) -> int:
    from apeiria_ros.bags import BagError, record

    if args.duration < 0:
        die("--duration must be >= 0")
    rclpy, ctx, node, spin = _node(args, "apeiria_bag_record")
    error = None
    try:
        counts = record(node, args.topics, args.out, args.duration, args.discover_timeout, _stop_event())
    except BagError as e:
        error = str(e)
    finally:
        _close(rclpy, ctx, node, spin)
    if error:
        die(error)
    print("recorded " + ", ".join(f"{t}: {n}" for t, n in counts.items()))
    return 0


def run_play(args) -> int:
    from apeiria_ros.bags import BagError, play

    rclpy, ctx, node, spin = _node(args, "apeiria_bag_play")
    error = None
    try:
        n = play(node, args.bag, args.rate, _stop_event(), wait_subscribers=args.wait_subscribers)
    except BagError as e:
        error = str(e)
    finally:
        _close(rclpy, ctx, node, spin)
    if error:
        die(error)
    print(f"played {n} messages")
    return 0
