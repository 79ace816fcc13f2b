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
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
PREVIEW_DIR = ROOT / "_build" / "preview"


def _copy_if_changed(source: Path, target: Path) -> bool:
    """Copy a file unless the target already holds the same bytes (its time stays, so Sphinx skips it)."""
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return True


def _mirror(source: Path, target: Path, keep: tuple[str, ...] = ()) -> int:
    """Make `target` hold the files of `source` (changed ones copied, vanished ones removed, except under the
    folders `keep`); count the changes."""
    changed = 0
    for path in source.rglob("*"):
        if path.is_file():
            changed += _copy_if_changed(path, target / path.relative_to(source))
    for path in list(target.rglob("*")) if target.is_dir() else []:
        relative = path.relative_to(target)
        if any(relative.is_relative_to(folder) for folder in keep):
            continue
        if path.is_file() and not (source / relative).exists():
            path.unlink()
            changed += 1
    return changed


def _config_digest(as_of: str) -> str:
    from crobook.cache import file_digest, folder_digest

    parts = [file_digest(ROOT / "_config.yml"), file_digest(ROOT / "_toc.yml"), as_of]
    parts += [folder_digest(ROOT / "_static"), folder_digest(ROOT / "_templates")]
    return "\0".join(parts)


def sync(data_dir: Path | None, params_file: Path, preview_dir: Path = PREVIEW_DIR) -> int:
    """Bring the preview's Sphinx source up to date with the data, parameters and chapters; returns how many
    files changed in it. Raises DataError, ParamsError or BuildError."""
    from crobook.build import Edition, chapters, log, stage
    from crobook.params import load_inputs

    started = time.perf_counter()
    sources = chapters()
    checked, evidence = load_inputs(data_dir, params_file, sources)
    src = preview_dir / "src"
    marker = preview_dir / "config.digest"
    config = _config_digest(checked.as_of.isoformat())
    changed = 0
    if not marker.is_file() or marker.read_text(encoding="utf-8") != config:  # staging runs jupyter-book: ~2 s
        with tempfile.TemporaryDirectory() as tmp:
            staged = stage(Path(tmp), Edition("preview", "draft", checked.as_of), [])
            changed += _mirror(staged, src, keep=("chapters", "_static/charts"))
        marker.write_text(config, encoding="utf-8")
    # A fresh folder for the run: restoring a chapter from the cache is a copy, and a late page's inputs (the
    # other chapters' views) must not include what it wrote itself last time.
    with tempfile.TemporaryDirectory() as run_dir:
        changed += _run_chapters(Path(run_dir), src, sources, checked, evidence, preview_dir)
    log(f"preview: {changed} file(s) changed, in {time.perf_counter() - started:.1f} s")
    return changed


def _run_chapters(run_dir: Path, src: Path, sources: dict, checked, evidence, preview_dir: Path) -> int:
    from crobook.build import execute_chapters, handed_to_chapters
    from crobook.cache import ChapterCache

    handed = handed_to_chapters(evidence, checked.as_of, run_dir / "views")
    digests = {"as_of": handed["as_of"], "book": json.dumps(evidence.book, sort_keys=True)}
    cache = ChapterCache(preview_dir / ".cache")
    execute_chapters(sources, run_dir, checked.chapters, handed, digests, evidence, cache, False)
    changed = sum(_copy_if_changed(run_dir / f"{s}.ipynb", src / "chapters" / f"{s}.ipynb") for s in sources)
    changed += _mirror(run_dir / "views", src / "chapters" / "views")
    if (run_dir / "views" / "charts").is_dir():
        changed += _mirror(run_dir / "views" / "charts", src / "_static" / "charts")
    return changed


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
