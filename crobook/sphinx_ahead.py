"""sphinx-build, started before its work: `python -m crobook.sphinx_ahead [NICE]` imports Sphinx, its built-in
extensions and those the book uses, at priority NICE (10 if not given), while the chapters run (about 1 s, most
of a LaTeX build's start), then reads sphinx-build's arguments from its standard input, as one JSON list on one
line, and runs them. Given nothing (the build stopped before its Sphinx step), it exits."""

from __future__ import annotations

import importlib
import json
import os
import sys

from nbformat.validator import get_validator
from sphinx.application import builtin_extensions
from sphinx.cmd.build import main

from crobook.heap import collect_less

# The slow imports among the extensions conf.py names; Sphinx imports the rest, and these again (at no cost).
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


def serve(nice: int) -> int:
    # Work done ahead yields to the chapters. By the time the arguments come, the build runs only the two Sphinx
    # builds and TeX, so a lower priority only orders those.
    os.nice(nice)
    for module in (*builtin_extensions, *SLOW_IMPORTS):
        importlib.import_module(module)
    get_validator()  # compiles the notebook schema, which myst-nb's reading checks each notebook against
    collect_less()
    line = sys.stdin.readline()
    return main(json.loads(line)) if line.strip() else 0


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
