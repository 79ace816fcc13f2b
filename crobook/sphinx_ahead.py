"""sphinx-build, started before its work: `python -m crobook.sphinx_ahead` imports Sphinx and the extensions the
book uses now, while the chapters run (about 0.8 s, most of a LaTeX build's start), then reads sphinx-build's
arguments from its standard input, as one JSON list on one line, and runs them. Given nothing (the build stopped
before its Sphinx step), it exits."""

from __future__ import annotations

import importlib
import json
import os
import sys

from sphinx.cmd.build import main

from crobook.heap import collect_less

# The slow imports among the extensions conf.py names; Sphinx imports the rest, and these again, as usual.
SLOW_IMPORTS = (
    "sphinx.builders.latex",
    "sphinx.builders.html",
    "myst_nb.sphinx_ext",
    "jupyter_book",
    "sphinx_book_theme",
    "sphinx_design",
    "crobook.sphinx_pdf",
    "crobook.sphinx_html",
)


def serve() -> int:
    # Work done ahead yields to the chapters. By the time the arguments come, the build runs only the two Sphinx
    # builds on two cores, so the lower priority costs nothing then.
    os.nice(10)
    for module in SLOW_IMPORTS:
        importlib.import_module(module)
    collect_less()
    line = sys.stdin.readline()
    return main(json.loads(line)) if line.strip() else 0


if __name__ == "__main__":
    sys.exit(serve())
