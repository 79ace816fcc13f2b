"""`crobook preview`: the website served with live reload while the analyst edits data, parameters or chapters.

sphinx-autobuild watches the data folder, the parameters file's folder and `chapters/`. On each change it first
runs `crobook preview --sync` (validate, re-run the chapters whose inputs changed, copy into the Sphinx
source only the files whose bytes changed), then an incremental Sphinx HTML build that re-reads only those
pages, and reloads the browser. No PDF, no edition: a draft under `_build/preview/`, never published.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
PREVIEW_DIR = ROOT / "_build" / "preview"


def sync(data_dir: Path | None, params_file: Path, preview_dir: Path = PREVIEW_DIR) -> int:
    """Bring the preview's Sphinx source up to date with the data, parameters and chapters; returns how many
    files changed in it. Raises DataError, ParamsError or BuildError."""
    from crobook.build import chapters, start_pool, stop_pool

    started = time.perf_counter()
    sources = chapters()
    pool = start_pool(len(sources))  # the chapters' kernels warm up while the data are checked
    try:
        return _sync(data_dir, params_file, preview_dir, sources, pool, started)
    finally:
        stop_pool(pool, kill=True)  # stopped already unless the sync ended before its chapters


def _sync(data_dir, params_file, preview_dir, sources, pool, started) -> int:
    from crobook.build import Edition, log, sphinx_source
    from crobook.params import load_inputs

    checked, evidence = load_inputs(data_dir, params_file, sources)
    src = sphinx_source(preview_dir, Edition("preview", "draft", checked.as_of))
    with tempfile.TemporaryDirectory() as run_dir:
        changed = _run_chapters(Path(run_dir), src, sources, checked, evidence, preview_dir, pool)
    log(f"preview: {changed} file(s) changed, in {time.perf_counter() - started:.1f} s")
    return changed


def _run_chapters(run_dir: Path, src: Path, sources: dict, checked, evidence, preview_dir: Path, pool) -> int:
    from crobook.build import execute_chapters, handed_to_chapters, take_chapters
    from crobook.cache import ChapterCache

    handed = handed_to_chapters(evidence, checked.as_of, run_dir / "views")
    digests = {"as_of": handed["as_of"], "book": json.dumps(evidence.book, sort_keys=True)}
    cache = ChapterCache(preview_dir / ".cache")
    execute_chapters(sources, run_dir, checked.chapters, handed, digests, evidence, cache, False, pool)
    return take_chapters(run_dir, src, list(sources))


def serve(data_dir: Path | None, params_file: Path, port: int, preview_dir: Path = PREVIEW_DIR) -> NoReturn:
    """Sync once (so problems show before the server starts), then become sphinx-autobuild.

    The process replaces itself rather than starting a child: a child would outlive a SIGTERM sent to
    `crobook preview` and keep serving (and holding the terminal's output) with no parent.
    """
    from crobook.data import DEFAULT_DATA_DIR

    data_dir = Path(data_dir or DEFAULT_DATA_DIR).resolve()
    preview_dir.mkdir(parents=True, exist_ok=True)
    sync(data_dir, params_file, preview_dir)
    src = preview_dir / "src"
    step = [sys.executable, "-m", "crobook.cli", "preview", "--sync", "--data", str(data_dir)]
    step += ["--params", str(params_file), "--dir", str(preview_dir)]
    command = [
        *(sys.executable, "-m", "sphinx_autobuild", str(src), str(preview_dir / "html")),
        *("-d", str(preview_dir / "doctrees"), "-n", "-q", "--port", str(port)),
        *("--watch", str(data_dir), "--watch", str(params_file.parent), "--watch", str(ROOT / "chapters")),
        *("--ignore", str(src), "--ignore", str(preview_dir), "--re-ignore", r"(^|/)\.[^/]*$"),
        *("--pre-build", shlex.join(step)),
    ]
    sys.stdout.flush()
    os.execv(sys.executable, command)
