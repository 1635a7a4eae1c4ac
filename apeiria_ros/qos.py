"""QoS profiles by name, so topics' QoS are parameters: publish reliable, subscribe to
camera streams best-effort (sensor data) so a slow consumer never blocks a driver.

``reliable`` with depth 0 is KEEP_ALL: nothing in the history is ever overwritten (request
topics, where every message must be answered)."""

from __future__ import annotations


def qos_profile(kind: str, depth: int = 10):
    from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                           qos_profile_sensor_data)

    kind = kind.strip().lower()
    if kind in ("sensor_data", "best_effort"):
        q = QoSProfile(depth=max(1, depth) if kind == "best_effort" else qos_profile_sensor_data.depth)
        q.reliability = ReliabilityPolicy.BEST_EFFORT
        q.durability = DurabilityPolicy.VOLATILE
        q.history = HistoryPolicy.KEEP_LAST
        return q
    if kind == "reliable":
        if depth <= 0:
            return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_ALL)
        return QoSProfile(depth=max(1, depth), reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST)
    if kind in ("latched", "transient_local"):
        # Late joiners (RViz, `apeiria ask`) still get the last map / result.
        return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.TRANSIENT_LOCAL, history=HistoryPolicy.KEEP_LAST)
    raise ValueError(f"unknown QoS '{kind}' (expected sensor_data, best_effort, reliable or latched)")
