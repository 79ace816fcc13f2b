"""A warm kernel: the chapters a build worker runs share one Jupyter kernel, reset between chapters.

Starting a kernel and importing pandas, Altair and the package take about 1.5 s, half of a typical chapter's
run. Each build worker starts its kernel and imports them as soon as it is forked (`warm_up`, while the build
validates the data), and papermill runs each chapter through the `crobook-warm` engine below, which keeps the
kernel alive and, before each chapter, empties its namespace, numbers cells from 1 again, moves into the
chapter's folder and hands it the build's `CROBOOK_*` settings (the chapter's read record above all), so a
chapter sees the same fresh namespace as in a kernel of its own. Modules stay imported: the package keeps
nothing between chapters that a chapter's output or its recorded reads could depend on (its ledger cache is
keyed by the evidence object, which each chapter loads anew).
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
from jupyter_client import KernelManager

from crobook.errors import ChapterFailed

ENGINE = "crobook-warm"
KERNEL = "python3"

# What chapters import, imported once per kernel.
WARM_UP = (
    "import altair, pandas, IPython.display, myst_nb, crobook.page, crobook.charts, crobook.claims, crobook.text\n"
    # vl-convert starts its JavaScript runtime on the first chart it converts: 0.5 s a chapter would wait for
    "crobook.charts.vl_convert.vegalite_to_svg({'mark': 'point'})\n"
    "import crobook.heap; crobook.heap.collect_less()"
)

# Run before each chapter with store_history off; a new session numbers the chapter's cells from 1 again. It
# leaves no name behind. The move into the chapter's folder comes first: IPython's reset asks for the current
# folder, which the preview deletes after each update (it runs chapters in a temporary folder).
RESET = """\
__import__("os").chdir({folder})
get_ipython().reset(new_session=True)
def _crobook_settings(folder, settings):
    import os, sys
    os.chdir(folder)
    for name in [n for n in os.environ if n.startswith("CROBOOK_") and n not in settings]:
        del os.environ[name]
    os.environ.update(settings)
    if "crobook.data" in sys.modules:
        sys.modules["crobook.data"]._recorded.clear()
_crobook_settings({folder}, {settings})
del _crobook_settings
"""

_warm: dict[str, KernelManager] = {}  # kernel name -> this process's kernel
_starting = threading.Lock()
_in_use = threading.Lock()  # one client at a time: the warm-up's, then each chapter's


def kernel(kernel_name: str = KERNEL) -> KernelManager:
    """This process's kernel (started if it has none, or its kernel died)."""
    with _starting:
        km = _warm.get(kernel_name)
        if km is not None and not km.is_alive():
            km.cleanup_resources()
            km = None
        if km is None:
            if not _warm:  # shut down with the process: multiprocessing runs finalizers in workers and at exit
                multiprocessing.util.Finalize(None, shutdown, exitpriority=10)
            km = KernelManager(kernel_name=kernel_name)
            # No history database: chapters need none, and line numbers restarting at 1 would collide in it.
            km.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
            _warm[kernel_name] = km
        return km


def warm_up(kernel_name: str = KERNEL) -> None:
    """Start this process's kernel and import what chapters import, ahead of the first chapter."""
    with _in_use:
        client = kernel(kernel_name).client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            client.execute_interactive(WARM_UP, store_history=False, timeout=120, output_hook=_quiet)
        except Exception:  # a chapter will start the kernel again, and fail with a clear error if it must
            pass
        finally:
            client.stop_channels()


def discard(kernel_name: str = KERNEL) -> None:
    """Shut this process's kernel down; the next chapter starts a new one."""
    with _starting:
        km = _warm.pop(kernel_name, None)
    if km is not None:
        km.shutdown_kernel(now=True)


def shutdown() -> None:
    for km in _warm.values():
        km.shutdown_kernel(now=True)
    _warm.clear()


def reset_code() -> str:
    """The reset, in the current folder and with this process's CROBOOK_* variables (the kernel drops others)."""
    settings = {name: value for name, value in os.environ.items() if name.startswith("CROBOOK_")}
    return RESET.format(folder=json.dumps(os.getcwd()), settings=json.dumps(settings))


def _quiet(message: dict) -> None:
    pass


def run_chapter(source: Path, output: Path, parameters: dict, environ: dict[str, str] | None = None) -> float:
    """Execute one chapter with papermill; returns its run time in seconds.

    `environ` goes to the kernel (see RESET): the handed evidence, the chart cache and the record file
    where the chapter lists the data it reads and the views it writes.
    """
    import jupytext
    import papermill

    import crobook.warm_engine  # noqa: F401  (registers the engine)

    start = time.perf_counter()
    unexecuted = output.with_suffix(".in.ipynb")
    jupytext.write(jupytext.read(source), unexecuted)
    environ = environ or {}
    os.environ.update(environ)
    try:
        papermill.execute_notebook(
            str(unexecuted),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            engine_name=ENGINE,  # the worker's kernel, kept warm between chapters
            progress_bar=False,
            log_output=False,
            # Written once at the end (or on error), not before and after every cell: a chapter's notebook
            # carries its charts and reaches 1 MB, and 22 writes of it cost the key findings about 1 s.
            request_save_on_cell_execute=False,
            cwd=str(output.parent),
        )
    except papermill.PapermillExecutionError as err:
        raise ChapterFailed(err.exec_count, err.ename, err.evalue) from None
    finally:
        for name in environ:
            os.environ.pop(name, None)
        unexecuted.unlink(missing_ok=True)
    without_run_details(output)
    return time.perf_counter() - start


def without_run_details(notebook: Path) -> None:
    """Drop what papermill and nbclient record of a run (its times and paths) from an executed notebook, and
    number its cells in place of the random ids they get from jupytext and papermill: run again on the same
    inputs, a chapter then writes the same notebook, byte for byte, and Sphinx re-reads only the pages whose
    content changed."""
    content = json.loads(notebook.read_text(encoding="utf-8"))
    content["metadata"].pop("papermill", None)
    for number, cell in enumerate(content["cells"], start=1):
        cell["metadata"].pop("papermill", None)
        cell["metadata"].pop("execution", None)
        if "id" in cell:
            cell["id"] = f"cell-{number}"
    # As nbformat writes a notebook.
    notebook.write_text(json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def start_worker(parent: int) -> None:
    """A pool worker's start: quiet, deaf to Ctrl-C, gone with the build, its kernel warming up."""
    # Kernels inherit the worker's stderr and log start-up chatter there; failures reach us as exceptions.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    # A Ctrl-C at the terminal goes to the build, which stops the workers itself (so no worker tracebacks).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    threading.Thread(target=warm_up, daemon=True).start()
    # papermill and the engine, imported while the kernel starts (a worker forked early has not got them)
    threading.Thread(target=importlib.import_module, args=("crobook.warm_engine",), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """End this worker and its kernel when the build is gone (killed with SIGKILL, it could not stop us)."""
    while os.getppid() == parent:
        time.sleep(0.3)
    stop_processes(psutil.Process().children(recursive=True))
    os._exit(1)


def stop_processes(processes: list[psutil.Process]) -> None:
    """SIGKILL processes that may already be gone (their parents or init reap them; waiting could take long)."""
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass


def start_pool(chapter_count: int | None = None) -> ProcessPoolExecutor:
    """Workers for the chapters (one per core, at most `chapter_count`), started at once: each starts its kernel
    and imports what chapters import (about 1.5 s) while the build goes on importing, validating the data and
    staging the book. `crobook build` starts them before it imports the build's own modules.

    Forked when this process runs no other thread: a forked worker has the build's modules already and starts
    its kernel at once (a spawned one first imports them). A fork copies only the calling thread, so a process
    with others (a test process that used jupyter_client keeps its event-loop thread) would hand its workers
    locks and loops that nothing will ever release: such a process spawns them."""
    workers = max(1, min(chapter_count or os.cpu_count() or 1, os.cpu_count() or 1))
    context = multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker, initargs=(os.getpid(),))
    for _ in range(workers):  # a spawning pool starts a worker per job submitted while none is idle
        pool.submit(int)
    return pool


def stop_pool(pool: ProcessPoolExecutor, kill: bool = False) -> None:
    """End the workers; with `kill`, at once, with their kernels and the chapters they are running."""
    if kill:
        stop_processes(_descendants(list(getattr(pool, "_processes", None) or {})))
    pool.shutdown(wait=True, cancel_futures=True)


def _descendants(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            found += [process, *process.children(recursive=True)]
        except psutil.Error:
            pass
    return found
