"""Driving the console headless: a running `apeiria console` process and a Chromium page
(Playwright over Debian's /usr/bin/chromium; no browser download). Used by
tests/ros/test_console.py and scripts/console_screenshot.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM = os.environ.get("APEIRIA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]  # containers often have a tiny /dev/shm
_URL = re.compile(r"serving (http://\S+/)")


class ConsoleProcess:
    """`apeiria console ARGS --port 0` in its own process; ``url`` once it serves."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, timeout: float = 60.0):
        cmd = [sys.executable, "-m", "apeiria_model.cli.main", "console", "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.output: list[str] = []
        self._url = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        if not self._url.wait(timeout) or not self.url:
            rc = self.stop()
            why = f"exited with status {rc}" if self._url.is_set() else f"did not serve within {timeout:g} s"
            raise RuntimeError(f"apeiria console {why}:\n{self.text[-3000:]}")

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.output.append(line)
            m = _URL.search(line)
            if m and not self.url:
                self.url = m.group(1)
                self._url.set()
        self._url.set()  # exited before serving

    @property
    def text(self) -> str:
        return "".join(self.output)

    def stop(self, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode

    def __enter__(self) -> "ConsoleProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def chromium_page(viewport=(1440, 960), extra_args: tuple[str, ...] = ()):
    """A Playwright page in a fresh headless Chromium profile (removed afterwards)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(f"{CHROMIUM} not found: install Debian's chromium (requirements/apt.txt)")
    with tempfile.TemporaryDirectory(prefix="apeiria_chromium_") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + list(extra_args),
            viewport={"width": viewport[0], "height": viewport[1]})
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            yield page
        finally:
            ctx.close()


def wait_ready(page, timeout_ms: float = 60000) -> None:
    """Until the page shows the map and a ready grounding node."""
    page.wait_for_selector("#map g.obj", timeout=timeout_ms)
    page.wait_for_selector('#node[data-ready="true"]', timeout=timeout_ms)


def ask(page, instruction: str, timeout_ms: float = 60000) -> None:
    """Type and submit; returns when the answer card shows this instruction."""
    page.fill("#instruction", instruction)
    page.click("#submit")
    page.wait_for_function(
        "(t) => { const r = window.apeiriaConsole.state.result; return r && r.instruction === t; }",
        arg=" ".join(instruction.split()), timeout=timeout_ms)
    time.sleep(0.05)
