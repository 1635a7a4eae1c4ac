"""Process environment for apeiria's ROS 2 processes: DDS on loopback, logs in a known
place, an explicit domain. No rclpy import here: it must be set before rclpy starts.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import apeiria_model

REPO_ROOT = Path(apeiria_model.__file__).resolve().parent.parent
FASTDDS_PROFILE = REPO_ROOT / "config" / "fastdds_loopback.xml"


def _profile_path() -> Path:
    if FASTDDS_PROFILE.is_file():
        return FASTDDS_PROFILE
    try:  # installed by colcon: share/apeiria/config
        from ament_index_python.packages import get_package_share_directory

        p = Path(get_package_share_directory("apeiria")) / "config" / "fastdds_loopback.xml"
        if p.is_file():
            return p
    except Exception:
        pass
    return FASTDDS_PROFILE


def default_domain_id() -> int:
    """A per-process-tree domain (pid-derived) so concurrent runs never cross-talk.

    Domains 1..101 keep Fast DDS port numbers in range (7400 + 250 * domain + ...)."""
    return 1 + os.getpid() % 101


def ros_environment(domain_id: int | None = None, log_dir: str | os.PathLike | None = None,
                    base: dict[str, str] | None = None, loopback: bool = True) -> dict[str, str]:
    """A copy of ``base`` (default os.environ) with apeiria's ROS settings filled in.

    Values already present in ``base`` win, except that ``domain_id`` / ``log_dir`` given
    explicitly always apply."""
    env = dict(os.environ if base is None else base)
    if loopback:
        env.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(_profile_path()))
        env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(int(domain_id))
    else:
        env.setdefault("ROS_DOMAIN_ID", str(default_domain_id()))
    if log_dir is not None:
        env["ROS_LOG_DIR"] = str(log_dir)
        env.setdefault("ROS_HOME", str(Path(log_dir).parent))
    else:
        home = env.get("ROS_HOME") or str(Path(tempfile.gettempdir()) / "apeiria_ros_home")
        env.setdefault("ROS_HOME", home)
        env.setdefault("ROS_LOG_DIR", str(Path(home) / "log"))
    Path(env["ROS_LOG_DIR"]).mkdir(parents=True, exist_ok=True)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def apply_ros_environment(domain_id: int | None = None, log_dir=None) -> dict[str, str]:
    """Set the environment of *this* process (call before ``rclpy.init``)."""
    env = ros_environment(domain_id, log_dir)
    for k in ("FASTDDS_DEFAULT_PROFILES_FILE", "RMW_IMPLEMENTATION", "ROS_DOMAIN_ID", "ROS_HOME", "ROS_LOG_DIR"):
        if k in env:
            os.environ[k] = env[k]
    return env


def resolve_path(path: str) -> Path:
    """Parameter paths: ``pkg:apeiria_model/...`` is inside the installed package,
    relative paths are relative to the working directory (else to the repository
    root), ``~`` expands."""
    if path.startswith("pkg:"):
        rel = path[4:].lstrip("/")
        return Path(apeiria_model.__file__).resolve().parent.parent / rel
    p = Path(os.path.expanduser(path))
    if not p.is_absolute() and not p.exists() and (REPO_ROOT / p).exists():
        return REPO_ROOT / p  # repo-relative defaults in config/*.yaml work from any folder
    return p
