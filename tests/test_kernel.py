"""Chapters share a warm kernel (crobook.kernel), and each still starts as in a kernel of its own."""

import contextlib
import json
import os
import shutil
import signal
import time
from types import SimpleNamespace

import pytest

from crobook import kernel
from crobook.kernel import run_chapter

PROBE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Probe

```{code-cell} python
import json, os
print(json.dumps({
    "pid": os.getpid(),
    "leaked": "leaked" in globals(),
    "cwd": os.getcwd(),
    "settings": {k: v for k, v in os.environ.items() if k.startswith("CROBOOK_")},
}))
leaked = True
```
"""


@pytest.fixture
def probe(tmp_path):
    path = tmp_path / "probe.md"
    path.write_text(PROBE, encoding="utf-8")
    yield path
    kernel.shutdown()


def seen(notebook) -> tuple[dict, int]:
    """What the probe printed, and its cell's execution count."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if c["cell_type"] == "code" and "leaked" in "".join(c["source"]))
    return json.loads("".join(cell["outputs"][0]["text"])), cell["execution_count"]


def test_two_chapters_in_one_kernel_each_start_fresh(probe, tmp_path):
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir(), second_dir.mkdir()
    run_chapter(probe, first_dir / "probe.ipynb", {}, {"CROBOOK_RECORD": "one", "CROBOOK_ONLY_FIRST": "x"})
    run_chapter(probe, second_dir / "probe.ipynb", {}, {"CROBOOK_RECORD": "two"})
    (first, first_count), (second, second_count) = seen(first_dir / "probe.ipynb"), seen(second_dir / "probe.ipynb")
    assert second["pid"] == first["pid"]  # the same kernel: no start, no imports again
    assert not first["leaked"] and not second["leaked"]  # the first chapter's names are gone
    assert first_count == second_count == 1  # cells numbered from 1 in each
    assert (first["cwd"], second["cwd"]) == (str(first_dir), str(second_dir))
    assert first["settings"] == {"CROBOOK_RECORD": "one", "CROBOOK_ONLY_FIRST": "x"}
    assert second["settings"] == {"CROBOOK_RECORD": "two"}  # the first chapter's setting is dropped


def test_a_chapter_runs_in_a_kernel_whose_last_folder_is_gone(probe, tmp_path):
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir(), second_dir.mkdir()
    run_chapter(probe, first_dir / "probe.ipynb", {})
    pid = seen(first_dir / "probe.ipynb")[0]["pid"]
    shutil.rmtree(first_dir)  # the preview runs each update's chapters in a temporary folder
    run_chapter(probe, second_dir / "probe.ipynb", {})
    second = seen(second_dir / "probe.ipynb")[0]
    assert (second["pid"], second["cwd"]) == (pid, str(second_dir))


def test_a_dead_kernel_is_started_again(probe, tmp_path):
    run_chapter(probe, tmp_path / "a.ipynb", {})
    pid = seen(tmp_path / "a.ipynb")[0]["pid"]
    os.kill(pid, signal.SIGKILL)
    dead = kernel._warm[kernel.KERNEL]
    for _ in range(100):  # the manager sees it gone once the process is reaped
        if not dead.is_alive():
            break
        time.sleep(0.05)
    run_chapter(probe, tmp_path / "b.ipynb", {})
    assert seen(tmp_path / "b.ipynb")[0]["pid"] != pid


def test_a_kernel_that_does_not_answer_is_replaced_before_the_chapter_starts(probe, tmp_path):
    import jupytext
    import papermill

    run_chapter(probe, tmp_path / "a.ipynb", {})
    pid = seen(tmp_path / "a.ipynb")[0]["pid"]
    os.kill(pid, signal.SIGSTOP)  # alive, but deaf: "Kernel didn't respond" when the next chapter connects
    try:
        unexecuted = tmp_path / "b.in.ipynb"
        jupytext.write(jupytext.read(probe), unexecuted)
        papermill.execute_notebook(
            str(unexecuted),
            str(tmp_path / "b.ipynb"),
            kernel_name=kernel.KERNEL,
            engine_name=kernel.ENGINE,
            start_timeout=3,  # papermill's default is 60 s
            progress_bar=False,
            cwd=str(tmp_path),
        )
    finally:
        with contextlib.suppress(ProcessLookupError):  # replaced, the deaf kernel was killed
            os.kill(pid, signal.SIGCONT)
    assert seen(tmp_path / "b.ipynb")[0]["pid"] != pid


def test_a_process_that_used_a_kernel_still_gets_chapter_workers_that_run(probe, tmp_path):
    from crobook.kernel import start_pool, stop_pool

    run_chapter(probe, tmp_path / "here.ipynb", {})  # leaves jupyter_client's event-loop thread in this process
    pool = start_pool(1)
    try:  # a worker forked from this process would wait forever on that thread's loop
        pool.submit(run_chapter, probe, tmp_path / "there.ipynb", {}).result(timeout=60)
    finally:
        stop_pool(pool, kill=True)
    assert seen(tmp_path / "there.ipynb")[0]["pid"] != seen(tmp_path / "here.ipynb")[0]["pid"]


def test_a_failing_cell_reaches_the_build_as_a_plain_error_naming_the_cell(probe, tmp_path):
    """The worker turns papermill's error into crobook's own, which crosses the process boundary intact (the
    build process does not import papermill)."""
    from crobook.build import BuildError, execute_chapters
    from crobook.cache import ChapterCache
    from crobook.errors import ChapterFailed

    failing = tmp_path / "failing.md"
    failing.write_text(PROBE + '\n```{code-cell} python\nraise ValueError("no such series")\n```\n', encoding="utf-8")
    with pytest.raises(ChapterFailed) as direct:
        run_chapter(failing, tmp_path / "direct.ipynb", {})
    assert (direct.value.cell, direct.value.name, direct.value.message) == (2, "ValueError", "no such series")

    evidence = SimpleNamespace(data_dir=tmp_path)  # what the kernels are handed: anything picklable will do
    with pytest.raises(BuildError, match=r"^chapter failing failed in cell 2: ValueError: no such series$"):
        execute_chapters(
            {"failing": failing}, tmp_path / "run", {}, {}, {}, evidence, ChapterCache(tmp_path / "c"), True
        )


def test_a_chapter_run_again_on_the_same_inputs_writes_the_same_notebook(tmp_path):
    """No run times or paths are kept in an executed chapter: Sphinx re-reads a page only when its content changed."""
    chapter = tmp_path / "chapter.md"
    chapter.write_text(PROBE.split("```{code-cell}")[0] + "```{code-cell} python\nprint(6 * 7)\n```\n", "utf-8")
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir(), second_dir.mkdir()
    try:
        run_chapter(chapter, first_dir / "chapter.ipynb", {"unused": 1})
        time.sleep(0.01)  # another clock reading for any run time that would be kept
        run_chapter(chapter, second_dir / "chapter.ipynb", {"unused": 1})
    finally:
        kernel.shutdown()
    first = (first_dir / "chapter.ipynb").read_bytes()
    assert first == (second_dir / "chapter.ipynb").read_bytes()
    assert b"42" in first and b"papermill" not in first and b"iopub" not in first
