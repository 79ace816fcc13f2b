"""`crobook run CHAPTER -p NAME VALUE`: one chapter executed the way papermill users expect.

Parameters are checked (names, types, what the data must serve) before a kernel starts, as in a build; the
executed notebook and its views go to a folder outside the repository (a new temporary folder by default).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from crobook.build import chapters, declared_names, execute_chapters, handed_to_chapters, log
from crobook.cache import ChapterCache
from crobook.errors import BuildError
from crobook.params import command_line, load_inputs


def run(
    chapter: str, pairs: list[tuple[str, str]], data_dir: Path | None, params_file: Path, out_dir: Path | None
) -> Path:
    """Execute `chapter` with the parameters file and the `-p` pairs over it; returns the executed notebook."""
    sources = chapters()
    if chapter not in sources:
        raise BuildError(f'no chapter "{chapter}"; expected one of: {", ".join(sources)}')
    started = time.perf_counter()
    checked, evidence = load_inputs(data_dir, params_file, sources, command_line(pairs, chapter, sources))
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix=f"crobook-run-{chapter}-")).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # A page that reads the other chapters' views (the sources appendix) needs them run first.
    wanted = {chapter: sources[chapter]}
    if "views_dir" in declared_names(sources[chapter]):
        wanted = {stem: src for stem, src in sources.items() if "views_dir" not in declared_names(src)} | wanted
    handed = handed_to_chapters(evidence, checked.as_of)
    with tempfile.TemporaryDirectory() as cache:
        execute_chapters(wanted, out_dir, checked.chapters, handed, {}, evidence, ChapterCache(Path(cache)), force=True)
    notebook = out_dir / f"{chapter}.ipynb"
    log(f"done in {time.perf_counter() - started:.1f} s: {notebook} (views in {out_dir / 'views'})")
    return notebook
