"""`crobook preview`: the website served with live reload; each edit re-runs only what it touches."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from crobook.build import DEFAULT_PARAMS
from crobook.data import DEFAULT_DATA_DIR
from crobook.preview import sync

pytestmark = pytest.mark.build


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def wait_for(output: list[str], pattern: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(bool(re.search(pattern, line)) for line in output) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not seen {count} times in {timeout} s:\n" + "".join(output[-40:]))


def fetch(url: str) -> str:
    """The page, once the server listens (it says it waits for changes just before it starts listening)."""
    for _ in range(100):
        try:
            return urllib.request.urlopen(url).read().decode()
        except urllib.error.URLError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def test_sync_touches_only_what_an_edit_changes(tmp_path, capsys):
    data, root = tmp_path / "data", tmp_path / "preview"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    root.mkdir()
    assert sync(data, DEFAULT_PARAMS, root) > 12  # config, the notebooks, their views and charts
    pipeline = root / "src" / "chapters" / "pipeline.ipynb"
    models, stamp = root / "src" / "chapters" / "models.ipynb", pipeline.stat().st_mtime_ns
    assert sync(data, DEFAULT_PARAMS, root) == 0 and pipeline.stat().st_mtime_ns == stamp
    capsys.readouterr()
    before = models.stat().st_mtime_ns
    edit(data / "observations.csv", "ebp_share_rd_pipeline,2021,65,", "ebp_share_rd_pipeline,2021,61,")
    assert sync(data, DEFAULT_PARAMS, root) > 0
    ran = set(re.findall(r"\] ([\w-]+): ran in", capsys.readouterr().out))
    assert ran == {"pipeline", "findings", "sources", "intro"}
    assert pipeline.stat().st_mtime_ns != stamp and models.stat().st_mtime_ns == before  # Sphinx skips models


def test_preview_serves_and_reloads_after_an_edit(tmp_path):
    data, root = tmp_path / "data", tmp_path / "preview"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    command = [sys.executable, "-m", "crobook.cli", "preview", "--data", str(data), "--port", "0", "--dir", str(root)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    output: list[str] = []
    # A daemon thread: should anything keep the pipe open, pytest must still be able to exit.
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(output, r"Waiting to detect changes", 1, 300)
        url = re.search(r"Serving on (http://[\d.]+:\d+)", "".join(output)).group(1)
        page = fetch(f"{url}/chapters/pipeline.html")
        assert "websocket-reload" in page or "WebSocket" in page  # the live-reload script, served locally
        assert not list(root.rglob("book.pdf"))
        edit(data / "observations.csv", "ebp_share_rd_pipeline,2021,65,", "ebp_share_rd_pipeline,2021,61,")
        wait_for(output, r"Serving on", 2, 300)
        figures = fetch(f"{url}/chapters/pipeline.html")
        assert figures != page
        edit(data / "observations.csv", "ebp_share_rd_pipeline,2021,61,", "ebp_share_rd_pipeline,2021,6 1,")
        wait_for(output, r"problem\(s\) found; the preview shows the last good state", 1, 120)
        assert fetch(f"{url}/chapters/pipeline.html") == figures
        process.terminate()  # as a service manager or `kill` stops it: nothing may keep serving after
        process.wait(timeout=30)
        reader.join(timeout=30)
        assert not reader.is_alive(), "a process started by the preview outlived it and holds its output"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # clean up whatever a failed run left behind
