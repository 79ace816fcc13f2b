"""Sphinx's builds, started before their work: `python -m crobook.sphinx_ahead [NICE]` imports Sphinx, its built-in
extensions and those the book uses, at priority NICE (10 if not given), while the chapters run (about 1 s), then
reads one request from its standard input (`request`) and runs each build it names in a process forked from
this one, so that the website's and the LaTeX build share one start. Given nothing (the build stopped before its
Sphinx step), it exits.

Each build writes what sphinx-build prints to its `output` file and, when it ends, its exit status to its
`status` file (written whole: a reader never sees half of it). This process ends once every build has, so the
guard around it (crobook.guard) can stop them all with it."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

# The slow imports among the extensions conf.py names (Sphinx's own builders are among its built-in extensions);
# Sphinx imports the rest, and these again (at no cost).
SLOW_IMPORTS = (
    "myst_nb.sphinx_ext",
    "jupyter_book",
    "sphinx_book_theme",
    "sphinx_design",
    "crobook.sphinx_pdf",
    "crobook.sphinx_html",
)


def request(*builds: dict) -> str:
    """The line that asks for `builds`, each {"arguments": sphinx-build's, "output": path, "status": path,
    "nicer": how much lower its priority is than this process's}."""
    return json.dumps({"builds": builds}) + "\n"


def serve(nice: int) -> int:
    # Imported here, not with the module: the build imports `request` and none of Sphinx.
    from nbformat.validator import get_validator
    from sphinx.application import builtin_extensions

    from crobook.heap import collect_less

    # Work done ahead yields to the chapters. By the time the request comes, the build runs only Sphinx and TeX,
    # so a lower priority only orders those.
    os.nice(nice)
    for module in (*builtin_extensions, *SLOW_IMPORTS):
        importlib.import_module(module)
    get_validator()  # compiles the notebook schema, which myst-nb's reading checks each notebook against
    collect_less()
    line = sys.stdin.readline()
    children = [fork(build) for build in json.loads(line)["builds"]] if line.strip() else []
    for child in children:
        os.waitpid(child, 0)
    return 0


def fork(build: dict) -> int:
    from sphinx.cmd.build import main

    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child:
        return child
    status = 1
    try:
        os.nice(build.get("nicer", 0))
        with open(build["output"], "w", encoding="utf-8") as output:
            os.dup2(output.fileno(), 1)
            os.dup2(output.fileno(), 2)
            status = main(build["arguments"])
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        done = Path(build["status"])
        done.with_suffix(".part").write_text(str(status), encoding="utf-8")
        done.with_suffix(".part").replace(done)
        os._exit(status)


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
