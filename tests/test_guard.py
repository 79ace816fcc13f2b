"""The guard around Sphinx and TeX: killing the build outright ends the command and all it started."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil

PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    guard = subprocess.Popen([sys.executable, "-m", "crobook.guard", "sh", "-c", "sleep 60 & sleep 60"],
                             start_new_session=True)
    print(guard.pid, flush=True)
    time.sleep(60)
    """
)


def group(pgid: int) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (psutil.Error, ProcessLookupError):
            pass
    return found


def test_a_killed_build_takes_its_guarded_command_and_the_commands_children_with_it():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    guard = int(parent.stdout.readline())
    deadline = time.monotonic() + 10
    while len(group(guard)) < 4 and time.monotonic() < deadline:  # the guard, sh and two sleeps
        time.sleep(0.1)
    assert len(group(guard)) == 4
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 3
    while group(guard) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert group(guard) == []


def test_the_guard_passes_on_the_commands_exit_status():
    assert subprocess.run([sys.executable, "-m", "crobook.guard", "sh", "-c", "exit 3"]).returncode == 3
    assert subprocess.run([sys.executable, "-m", "crobook.guard", "true"]).returncode == 0
