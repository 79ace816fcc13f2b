"""Run a command and end it, with everything it started, when the build that asked for it is gone.

`python -m crobook.guard COMMAND...` exits with the command's status. The build starts the guard in a session
of its own, so the command (sphinx-build, xelatex or xdvipdfmx) shares the guard's process
group: the build stops them all with one `killpg`, and if the build itself is killed (SIGKILL, which it cannot
catch), the guard notices within a third of a second and kills the group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def main(command: list[str]) -> int:
    parent = os.getppid()
    process = subprocess.Popen(command)
    while True:
        try:
            return process.wait(timeout=0.3)
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:  # the build is gone: nobody will read our output
                os.killpg(0, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
