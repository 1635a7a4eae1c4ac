"""Running a node in its own process: init, multi-threaded spin, clean shutdown on
SIGINT/SIGTERM (rclpy's handlers), exit status 0 on a requested stop."""

from __future__ import annotations

import sys

from apeiria_ros.heap import freeze_heap


def spin_node(factory, argv: list[str] | None = None, threads: int = 4) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    rclpy.init(args=sys.argv if argv is None else argv)
    wrapper = None
    try:
        wrapper = factory()
        # Models and ROS types loaded by the constructor live as long as the node:
        # exempt them from full GC passes (see apeiria_ros/heap.py).
        freeze_heap()
        executor = MultiThreadedExecutor(num_threads=threads)
        executor.add_node(wrapper.node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # SIGTERM shuts the context down under a spinning MultiThreadedExecutor, which
        # can surface as an RCLError from the wait set: that is a requested stop too.
        if rclpy.ok():
            raise
    finally:
        if wrapper is not None:
            try:
                wrapper.destroy()
            except Exception:
                pass
        rclpy.try_shutdown()
    return 0
