"""Recording and replaying ROS 2 bags (MCAP, rosbag2 layout) with the pure-Python
``rosbags`` package (rosbag2 itself is not installable from wheels). apeiria's own
message types are registered from their .msg text, so bags stay readable anywhere.

A bag is a folder (``NAME/NAME.mcap`` + ``metadata.yaml``), as ``ros2 bag`` writes it;
``FILE.mcap`` arguments name that folder.
"""

from __future__ import annotations

import importlib
import re
import threading
import time
from pathlib import Path

from apeiria_ros.env import REPO_ROOT


class BagError(RuntimeError):
    """A bag that cannot be written or read, with the reason."""


# Message packages registered with rosbags from their .msg text, in dependency order:
# the vendored standard ones rosbags' Kilted store lacks (interfaces/), then apeiria's.
MSG_PACKAGES = ("vision_msgs", "apeiria")


def _interface_dirs(package: str) -> list[Path]:
    dirs = [REPO_ROOT if package == "apeiria" else REPO_ROOT / "interfaces" / package]
    try:
        from ament_index_python.packages import get_package_share_directory

        dirs.append(Path(get_package_share_directory(package)))
    except Exception:
        pass
    return dirs


def msg_definitions(package: str) -> dict[str, str]:
    """{"<package>/msg/<Name>": text, ...} from the .msg files (repo or installed share)."""
    for base in _interface_dirs(package):
        files = sorted((base / "msg").glob("*.msg"))
        if files:
            return {f"{package}/msg/{f.stem}": f.read_text() for f in files}
    raise BagError(f"{package} .msg definitions not found (neither in the repository nor in share/{package}/msg)")


def apeiria_msg_definitions() -> dict[str, str]:
    """{"apeiria/msg/SceneMap": text, ...}."""
    return msg_definitions("apeiria")


def typestore():
    """The ROS 2 Kilted typestore plus vision_msgs and apeiria's messages."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    for package in MSG_PACKAGES:
        defs = msg_definitions(package)
        # .msg files name same-package types without the package: qualify them for rosbags.
        local = "|".join(Path(n).name for n in defs)
        types = {}
        for name, text in defs.items():
            fixed = "\n".join(re.sub(r"^(\s*)(%s)(\[\]|\[\d+\])?(\s)" % local, r"\1%s/msg/\2\3\4" % package, ln)
                              for ln in text.splitlines())
            types.update(get_types_from_msg(fixed, name))
        store.register(types)
    return store


def bag_dir(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix == ".mcap":
        # Either the .mcap inside an existing bag folder, or the name of a new bag.
        return p.parent if (p.parent / "metadata.yaml").is_file() else p.with_suffix("")
    return p


def msg_class(msgtype: str):
    """'sensor_msgs/msg/Image' -> the rclpy message class."""
    pkg, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def record(node, topics: list[str], out: str | Path, duration: float, discover_timeout: float = 10.0,
           stop: threading.Event | None = None, log=print) -> dict[str, int]:
    """Record ``topics`` for ``duration`` seconds (0 = until ``stop``); returns counts."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from apeiria_ros.qos import qos_profile

    dest = bag_dir(out)
    if dest.exists():
        raise BagError(f"{dest} already exists (rosbag2 never overwrites a bag)")
    store = typestore()
    types: dict[str, str] = {}
    deadline = time.monotonic() + discover_timeout
    while time.monotonic() < deadline and len(types) < len(topics):
        for name, tys in node.get_topic_names_and_types():
            if name in topics and tys:
                types[name] = tys[0]
        time.sleep(0.05)
    missing = [t for t in topics if t not in types]
    if missing:
        raise BagError(f"no publisher found within {discover_timeout:g} s for: {', '.join(missing)}")
    unknown = [f"{t} ({ty})" for t, ty in types.items() if ty not in store.types]
    if unknown:
        raise BagError(f"message types unknown to the bag type store: {', '.join(unknown)}")
    counts = {t: 0 for t in topics}
    lock = threading.Lock()
    writer = Writer(dest, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    try:
        conns = {t: writer.add_connection(t, types[t], typestore=store) for t in topics}

        def make_cb(topic):
            def cb(data: bytes):
                with lock:
                    writer.write(conns[topic], time.time_ns(), data)
                    counts[topic] += 1
            return cb

        subs = [node.create_subscription(msg_class(types[t]), t, make_cb(t), qos_profile("best_effort", 100), raw=True)
                for t in topics]
        # the clock starts once every subscription has matched its publishers (discovery of
        # a new reader can take seconds on a loaded machine: those are not recorded time)
        match_deadline = time.monotonic() + discover_timeout
        while time.monotonic() < match_deadline and not all(s.get_publisher_count() for s in subs):
            time.sleep(0.02)
        log(f"recording {', '.join(f'{t} [{types[t]}]' for t in topics)} -> {dest}")
        t0 = time.monotonic()
        stop = stop or threading.Event()
        while not stop.is_set() and (duration <= 0 or time.monotonic() - t0 < duration):
            stop.wait(0.05)
        for s in subs:
            node.destroy_subscription(s)
    finally:
        with lock:
            writer.close()
    return counts


def play(node, path: str | Path, rate: float = 1.0, stop: threading.Event | None = None, log=print,
         wait_subscribers: float = 0.0) -> int:
    """Publish every message of the bag with its original spacing / ``rate``; returns count."""
    from rosbags.rosbag2 import Reader

    from apeiria_ros.qos import qos_profile

    src = bag_dir(path)
    if not (src / "metadata.yaml").is_file():
        raise BagError(f"{src} is not a rosbag2 bag (no metadata.yaml)")
    if rate <= 0:
        raise BagError("--rate must be > 0")
    stop = stop or threading.Event()
    n = 0
    with Reader(src) as reader:
        pubs = {}
        for c in reader.connections:
            pubs[c.id] = node.create_publisher(msg_class(c.msgtype), c.topic, qos_profile("reliable", 100))
        if wait_subscribers > 0:
            deadline = time.monotonic() + wait_subscribers
            while time.monotonic() < deadline and not all(p.get_subscription_count() for p in pubs.values()):
                time.sleep(0.02)
        log(f"playing {reader.message_count} messages on {len(pubs)} topic(s) from {src} at rate {rate:g}")
        t_bag0, t_wall0 = None, time.monotonic()
        for conn, t_ns, raw in reader.messages():
            if stop.is_set():
                break
            if t_bag0 is None:
                t_bag0 = t_ns
            due = t_wall0 + (t_ns - t_bag0) * 1e-9 / rate
            delay = due - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            pubs[conn.id].publish(bytes(raw))
            n += 1
        # reliable delivery: the last messages are still in the writers' history until the
        # readers acknowledge them; exiting now would lose them
        from rclpy.duration import Duration
        for p in pubs.values():
            if p.get_subscription_count():
                p.wait_for_all_acked(Duration(seconds=5.0))
    return n
