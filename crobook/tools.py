"""The tools a build runs (sphinx-build, xelatex, xdvipdfmx): each in a session of its own under `crobook.guard`,
listed while it runs, so that a build that stops can stop them all (`stop_tools`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from crobook.errors import BuildError


def stop_tools() -> None:
    for process in list(RUNNING):
        kill_group(process)


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:  # already gone
        pass


def stop_tool(process: subprocess.Popen) -> None:
    """End a tool from `start_tool` that nobody will finish (`finish_tool`), with its children."""
    kill_group(process)
    process.communicate()
    RUNNING.discard(process)


RUNNING: set[subprocess.Popen] = set()  # tools running now, killed with their children if the build stops


def start_tool(command: list[str], env: dict | None = None, cwd: Path | None = None, **popen) -> subprocess.Popen:
    # A session of its own: a Ctrl-C reaches only the build, which stops the tool; the guard ends it if the build
    # is killed outright.
    process = subprocess.Popen(
        [sys.executable, "-m", "crobook.guard", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        start_new_session=True,
        **popen,
    )
    RUNNING.add(process)
    return process


def finish_tool(
    process: subprocess.Popen, what: str, given: str | None = None, meanwhile: Callable[[], None] | None = None
) -> None:
    """Wait for a tool from `start_tool` (handing it `given` on its standard input, and calling `meanwhile` every
    0.1 s); BuildError if it failed."""
    try:
        while True:
            try:
                stdout, stderr = process.communicate(given, timeout=None if meanwhile is None else 0.1)
                break
            except subprocess.TimeoutExpired:  # the output read so far is kept for the next call
                given = None
                meanwhile()
    except BaseException:  # interrupted while waiting in this thread
        kill_group(process)
        raise
    finally:
        RUNNING.discard(process)
    if process.returncode != 0:
        raise BuildError(tool_failure(what, stdout + stderr))


def tool_failure(what: str, output: str) -> str:
    """What to say when a tool failed: its warnings and errors, or else the end of what it printed."""
    lines = output.splitlines()
    found = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln or "Error" in ln or ln.startswith("!")]
    return f"{what} failed:\n" + "\n".join((found or lines)[-30:])


def run(
    command: list[str],
    what: str,
    env: dict | None = None,
    cwd: Path | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    finish_tool(start_tool(command, env, cwd), what, meanwhile=meanwhile)
