"""Managed (lifecycle) nodes: an rclpy ``LifecycleNode`` whose transitions call the
methods of the object that owns it, plus the ``autostart`` fallback for a node that no
lifecycle manager drives.

The owner implements ``configure``, ``activate``, ``deactivate`` and ``cleanup`` (each
raises on failure). The node maps the standard transitions onto them:

- configuring: ``configure()``; on an exception it cleans up and returns FAILURE (the
  node stays unconfigured and says why in its log);
- activating: lifecycle publishers are enabled first, then ``activate()`` creates the
  inputs; on an exception the inputs are taken down again and it returns FAILURE;
- deactivating: ``deactivate()`` (which may still publish the answers of work in
  flight), then the lifecycle publishers are disabled;
- cleaning up: ``cleanup()``;
- an exception in deactivate or cleanup is unexpected (the inputs may be half closed):
  ERROR, so the node goes through error processing to unconfigured, a consistent state;
- shutting down: whatever of deactivate / cleanup the current state needs;
- error processing: the same, then SUCCESS (back to unconfigured).

No ROS import at module level: importing a node module needs no ROS.
"""

from __future__ import annotations

from typing import Any

LIFECYCLE_PARAM_DESCRIPTION = (
    "configure and activate at start (true: a plain `ros2 run` / launch node); false: wait in "
    "'unconfigured' for a lifecycle manager (`apeiria bringup`, Nav2's lifecycle_manager) to drive "
    "the transitions through /<node>/change_state")


class TransitionFailed(RuntimeError):
    """A transition (triggered by autostart) did not succeed; the message says why."""


def _log_failure(node, what: str, e: BaseException) -> None:
    node.get_logger().error(f"{what} failed: {type(e).__name__}: {e}")


def managed_node(owner: Any, node_name: str, **node_kwargs):
    """A LifecycleNode named ``node_name`` whose transitions call ``owner``'s methods."""
    from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

    SUCCESS, FAILURE, ERROR = (TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE,
                               TransitionCallbackReturn.ERROR)

    class ManagedNode(LifecycleNode):
        last_error = ""

        def _fail(self, what: str, e: BaseException):
            self.last_error = f"{what}: {type(e).__name__}: {e}"
            _log_failure(self, what, e)

        def on_configure(self, state):
            try:
                owner.configure()
            except Exception as e:  # noqa: BLE001 - a failed configure is a FAILURE, not a crash
                self._fail("configure", e)
                self._quietly(owner.cleanup)
                return FAILURE
            self.last_error = ""
            return super().on_configure(state)

        def on_activate(self, state):
            ret = super().on_activate(state)  # lifecycle publishers first: activate may publish
            if ret != SUCCESS:
                return ret
            try:
                owner.activate()
            except Exception as e:  # noqa: BLE001
                self._fail("activate", e)
                self._quietly(owner.deactivate)
                super().on_deactivate(state)
                return FAILURE
            self.last_error = ""
            return SUCCESS

        def on_deactivate(self, state):
            try:
                owner.deactivate()  # publishers still on: answers of work in flight go out
            except Exception as e:  # noqa: BLE001
                self._fail("deactivate", e)
                return ERROR  # -> on_error: taken down to unconfigured
            return super().on_deactivate(state)

        def on_cleanup(self, state):
            try:
                owner.cleanup()
            except Exception as e:  # noqa: BLE001
                self._fail("cleanup", e)
                return ERROR
            return super().on_cleanup(state)

        def on_shutdown(self, state):
            # ``state`` is the state the shutdown started from
            self._take_down(state)
            return super().on_shutdown(state)

        def on_error(self, state):
            self._take_down(state)
            super().on_error(state)
            return SUCCESS  # -> unconfigured: the node can be configured again

        def _take_down(self, state) -> None:
            if state.label in ("active", "activating", "deactivating"):
                self._quietly(owner.deactivate)
            super().on_deactivate(state)  # publishers off (a no-op when they already are)
            if state.label != "unconfigured":
                self._quietly(owner.cleanup)

        def _quietly(self, fn) -> None:
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - already failing: log, keep tearing down
                _log_failure(self, fn.__name__, e)

        @property
        def lifecycle_state(self) -> str:
            """'unconfigured' | 'inactive' | 'active' | 'finalized' (or a transition state)."""
            return self._state_machine.current_state[1]

    return ManagedNode(node_name, **node_kwargs)


def autostart(node) -> None:
    """configure + activate now (no lifecycle manager); TransitionFailed says why not."""
    from rclpy.lifecycle import TransitionCallbackReturn

    for name, trigger in (("configure", node.trigger_configure), ("activate", node.trigger_activate)):
        if trigger() != TransitionCallbackReturn.SUCCESS:
            raise TransitionFailed(f"{node.get_name()}: autostart {name} failed"
                                   + (f" ({node.last_error})" if node.last_error else ""))
