"""Sphinx's two builds run in processes forked from one that imported Sphinx ahead (crobook.sphinx_ahead): each
build's result comes back on its own, a failed one with Sphinx's words, and stopping the process stops both."""

import time
from pathlib import Path

import psutil
import pytest

from crobook.build import sphinx_ahead, sphinx_done
from crobook.errors import BuildError
from crobook.sphinx_ahead import request
from crobook.tools import finish_tool, stop_tool


def project(folder, text):
    folder.mkdir()
    (folder / "conf.py").write_text('project = "probe"\n', encoding="utf-8")
    (folder / "index.rst").write_text(f"Probe\n=====\n\n{text}\n", encoding="utf-8")
    return folder


def build(tmp_path, name, src):
    arguments = ["-M", "html", str(src), str(tmp_path / f"{name}-out"), "-W", "-n", "--keep-going", "-q"]
    return {
        "arguments": arguments,
        "output": str(tmp_path / f"{name}.output"),
        "status": str(tmp_path / f"{name}.status"),
    }


def test_each_build_reports_its_own_result(tmp_path):
    good = build(tmp_path, "good", project(tmp_path / "good", "All fine."))
    bad = build(tmp_path, "bad", project(tmp_path / "bad", "See :ref:`nowhere`."))
    ahead = sphinx_ahead()
    ahead.stdin.write(request(good, bad))
    ahead.stdin.flush()
    sphinx_done(ahead, "html", good, time.perf_counter())
    assert (tmp_path / "good-out" / "html" / "index.html").is_file()
    with pytest.raises(BuildError, match=r"sphinx-build html failed:\n.*undefined label: 'nowhere'"):
        sphinx_done(ahead, "html", bad, time.perf_counter())
    finish_tool(ahead, "sphinx-build")  # both builds have ended, so has the process that forked them
    assert ahead.returncode == 0


def test_a_stopped_process_stops_its_builds_and_the_wait_for_them(tmp_path):
    slow = build(tmp_path, "slow", project(tmp_path / "slow", "All fine."))
    ahead = sphinx_ahead()
    ahead.stdin.write(request(slow))
    ahead.stdin.flush()
    while not Path(slow["output"]).exists():  # the build has been forked
        time.sleep(0.01)
    family = psutil.Process(ahead.pid).children(recursive=True)
    assert len(family) >= 2  # the importing process (under the guard) and the build it forked
    stop_tool(ahead)  # kills the group: the forked build too
    start = time.monotonic()
    with pytest.raises(BuildError, match="sphinx-build html was stopped"):
        sphinx_done(ahead, "html", slow, start)
    assert time.monotonic() - start < 1
    _, alive = psutil.wait_procs(family, timeout=2)  # SIGKILL is sent to all at once; dying takes a moment
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
