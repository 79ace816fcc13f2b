"""`crobook preview`: the website served with live reload while the analyst edits data, parameters or chapters.

One process does it all and keeps what it can between edits: the chapter workers with their warm kernels, the
imported package and Sphinx. It watches the data folder, the parameters file's folder and `chapters/`; on each
change it validates, re-runs the chapters whose inputs changed, copies into the Sphinx source only the files
whose bytes changed, runs an incremental Sphinx HTML build that re-reads only those pages, and reloads the
browser. No PDF, no edition: a draft under `_build/preview/`, never published. The server, the reload script and
the file watcher are sphinx-autobuild's; only its habit of running each rebuild in a new process is not.

`crobook preview --sync` brings the draft up to date once, without serving it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

from crobook.errors import BuildError, DataError, ParamsError

ROOT = Path(__file__).resolve().parent.parent
PREVIEW_DIR = ROOT / "_build" / "preview"
HOST = "127.0.0.1"


class Draft:
    """The preview between edits: its folder, and chapter workers whose kernels stay warm."""

    def __init__(self, data_dir: Path | None, params_file: Path, preview_dir: Path = PREVIEW_DIR):
        from crobook.build import chapters
        from crobook.kernel import start_pool

        self.data_dir, self.params_file, self.preview_dir = data_dir, params_file, preview_dir
        self.sources = chapters()
        self.pool = start_pool(len(self.sources))  # the kernels warm up while the data are checked

    def sync(self) -> int:
        """Bring the draft's Sphinx source up to date with the data, parameters and chapters; returns how many
        files changed in it. Raises DataError, ParamsError or BuildError."""
        from crobook.build import Edition, execute_chapters, handed_to_chapters, log, sphinx_source, take_chapters
        from crobook.cache import ChapterCache
        from crobook.params import load_inputs

        started = time.perf_counter()
        checked, evidence = load_inputs(self.data_dir, self.params_file, self.sources)
        src = sphinx_source(self.preview_dir, Edition("preview", "draft", checked.as_of))
        with tempfile.TemporaryDirectory() as run_dir:
            run_dir = Path(run_dir)
            handed = handed_to_chapters(evidence, checked.as_of)
            digests = {"as_of": handed["as_of"], "book": json.dumps(evidence.book, sort_keys=True)}
            cache = ChapterCache(self.preview_dir / ".cache")
            try:
                args = (self.sources, run_dir, checked.chapters, handed, digests, evidence, cache, False)
                execute_chapters(*args, self.pool, keep_pool=True)
            except Exception:
                self._new_pool()  # a failed chapter stops the workers
                raise
            changed = take_chapters(run_dir, src, list(self.sources))
        log(f"preview: {changed} file(s) changed, in {time.perf_counter() - started:.1f} s")
        return changed

    def website(self) -> None:
        """The incremental Sphinx HTML build, in this process (Sphinx and its extensions stay imported)."""
        from sphinx.cmd.build import build_main

        folder = self.preview_dir
        if build_main([str(folder / "src"), str(folder / "html"), "-d", str(folder / "doctrees"), "-n", "-q"]):
            raise BuildError("Sphinx could not build the draft website (its messages are above)")

    def update(self) -> bool:
        """Sync, then the website; a problem is printed and the draft keeps its last good state."""
        from crobook.build import log
        from crobook.cli import report

        started = time.perf_counter()
        try:
            changed = self.sync()
            self.website()
        except (DataError, ParamsError, BuildError, OSError) as err:
            report("preview", err)
            return False
        log(f"preview: website up to date in {time.perf_counter() - started:.1f} s ({changed} file(s) changed)")
        return True

    def _new_pool(self) -> None:
        from crobook.kernel import start_pool, stop_pool

        stop_pool(self.pool, kill=True)
        self.pool = start_pool(len(self.sources))

    def close(self) -> None:
        from crobook.kernel import stop_pool

        stop_pool(self.pool, kill=True)


def sync(data_dir: Path | None, params_file: Path, preview_dir: Path = PREVIEW_DIR) -> int:
    """Bring the draft up to date once (see Draft.sync); returns how many files changed in its Sphinx source."""
    draft = Draft(data_dir, params_file, preview_dir)
    try:
        return draft.sync()
    finally:
        draft.close()


def serve(data_dir: Path | None, params_file: Path, port: int, preview_dir: Path = PREVIEW_DIR) -> int:
    """Build the draft once (so problems show before the server starts), then serve it until stopped, rebuilding
    after every change. Returns the command's exit status."""
    import uvicorn
    from sphinx_autobuild.filter import IgnoreFilter
    from sphinx_autobuild.middleware import JavascriptInjectorMiddleware
    from sphinx_autobuild.utils import find_free_port
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    from crobook.build import log
    from crobook.data import DEFAULT_DATA_DIR

    data_dir = Path(data_dir or DEFAULT_DATA_DIR).resolve()
    preview_dir.mkdir(parents=True, exist_ok=True)
    draft = Draft(data_dir, params_file, preview_dir)
    try:
        if not draft.update():
            return 1
        address = f"{HOST}:{port or find_free_port()}"

        def rebuild(_changed_paths) -> None:
            try:
                draft.update()
            except Exception as err:  # noqa: BLE001 (anything else would stop the watcher without a word)
                log(f"preview failed: {type(err).__name__}: {err}; the preview shows the last good state.")
            log(f"Serving on http://{address}")

        watched = [data_dir, params_file.parent, ROOT / "chapters"]
        watcher = _watcher_class()(watched, IgnoreFilter([preview_dir], [r"(^|/)\.[^/]*$"]), change_callback=rebuild)
        app = Starlette(
            routes=[
                WebSocketRoute("/websocket-reload", watcher, name="reload"),
                Mount("/", app=StaticFiles(directory=preview_dir / "html", html=True), name="static"),
            ],
            middleware=[Middleware(JavascriptInjectorMiddleware, ws_url=address)],
            lifespan=watcher.lifespan,
        )
        log(f"Serving on http://{address}")
        log("Waiting to detect changes...")
        uvicorn.run(app, host=HOST, port=int(address.rsplit(":", 1)[1]), log_level="warning")
        return 0
    finally:
        draft.close()


def _watcher_class():
    from sphinx_autobuild.server import RebuildServer

    class Watcher(RebuildServer):
        """sphinx-autobuild's watcher, except that each rebuild runs in this process (sphinx-autobuild starts a
        new one for each), where the draft's kernels, package and Sphinx are warm."""

        async def watch(self) -> None:
            import watchfiles

            async for changes in watchfiles.awatch(*self.paths, watch_filter=lambda _, path: not self.ignore(path)):
                await asyncio.to_thread(self.change_callback, [Path(path).resolve() for _, path in changes])
                self.flag.set()

    return Watcher
