#!/usr/bin/env python3
"""Regenerate docs/images/ros_console.png: `apeiria console --scene` on the demo office,
one instruction grounded in headless Chromium, the page captured.

    make console-screenshot        (or: .venv/bin/python scripts/console_screenshot.py [--out PNG])
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from apeiria_ros.console.headless import ConsoleProcess, ask, chromium_page, wait_ready  # noqa: E402
from apeiria_ros.env import default_domain_id, ros_environment  # noqa: E402

SCENE = ROOT / "apeiria_model" / "assets" / "scenes" / "demo_office.json"
INSTRUCTIONS = ["how many chairs are next to the table?", "find the mug on the desk closest to the window"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "images" / "ros_console.png"))
    ap.add_argument("--scene", default=str(SCENE))
    ap.add_argument("--instruction", action="append", default=[],
                    help="instructions to ground in order; the last one is on the picture")
    args = ap.parse_args()
    domain = default_domain_id()
    with tempfile.TemporaryDirectory(prefix="apeiria_console_shot_") as logs:
        env = ros_environment(domain, Path(logs) / "ros")
        with ConsoleProcess(["--scene", args.scene, "--domain-id", str(domain), "--log-dir", logs], env=env) as c, \
                chromium_page(viewport=(1440, 940)) as page:
            page.goto(c.url)
            wait_ready(page)
            for q in args.instruction or INSTRUCTIONS:
                ask(page, q)
            page.mouse.move(0, 0)
            page.wait_for_timeout(1200)  # the node's next /diagnostics counters
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, full_page=True, animations="disabled")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
