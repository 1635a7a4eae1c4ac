"""Shared options of the ROS commands: domain id and log folder."""

from __future__ import annotations

import os
from pathlib import Path


def add_ros_options(p, default_domain: str = "env") -> None:
    env_domain = os.environ.get("ROS_DOMAIN_ID")
    p.add_argument("--domain-id", type=int, default=int(env_domain) if env_domain and env_domain.isdigit() else 0,
                   help="ROS_DOMAIN_ID (default: $ROS_DOMAIN_ID or 0)")
    p.add_argument("--log-dir", default="log", help="folder for node logs and ROS logs (default: ./log)")


def check_domain(domain_id: int) -> None:
    from apeiria_model.cli.common import die

    if not 0 <= domain_id <= 232:
        die(f"--domain-id must be in 0..232, got {domain_id}")


def ros_log_dir(log_dir: str) -> Path:
    p = Path(log_dir).resolve()
    p.mkdir(parents=True, exist_ok=True)
    return p
