"""Sphinx extension for the PDF: what a printed page can offer in place of a link, and the PDF's own settings.

- A download link ("Data of this chart (CSV)") cannot be clicked on paper: the PDF names the file instead.
- Chapters start on the next page, not the next odd one (no blank pages inside the book).
- Long URLs and long unbroken tokens break (`xurl`; the zero-width spaces `crobook.tables.escape` puts in long
  tokens become break points).
- The PDF declares its language, title, author and subject, and has bookmarks for every chapter and for the
  lists of figures and tables.
- The LaTeX writer compiles each table template once per build, not once per table (`LaTeXTranslator`).
- In both builds (the PDF suffered most), a numbered reference ({numref}) reads its target's chapter once per
  build rather than once per reference (`StandardDomain`).
"""

from __future__ import annotations

import functools
import os
from pathlib import PurePosixPath

from docutils import nodes
from sphinx import addnodes
from sphinx.domains import std
from sphinx.util.template import LaTeXRenderer
from sphinx.writers import latex

SUBJECT = "Claims about biotech companies and contract research organisations, set against public evidence"

PREAMBLE = r"""
\usepackage{xurl}
\usepackage{newunicodechar}
\newunicodechar{^^^^200b}{\hspace{0pt}}
\setlength{\emergencystretch}{3em}
% Text in any script: CJK and emoji (and other symbols) switch to fonts that have them (Debian's Noto CJK and
% Symbola); FreeSerif covers Latin, Greek, Cyrillic, Hebrew and Arabic. A character no font has is a build
% error naming the data row (crobook.build.missing_glyphs), never an empty box. TeX loads the switch only when
% the book holds a character FreeSerif lacks (crobook.tex.OTHER_SCRIPTS): it costs a fifth of every pass.
% crobook: other scripts
\usepackage[CJK, Symbols]{ucharclasses}
\newfontfamily\crobookcjk{Noto Sans CJK SC}
\newfontfamily\crobooksymbols{Symbola}
\setTransitionsForCJK{\begingroup\crobookcjk}{\endgroup}
\setTransitionsForSymbols{\begingroup\crobooksymbols}{\endgroup}
% crobook: end of other scripts
% Tables in a smaller type with narrower gutters, so that their columns hold whole words.
\makeatletter\g@addto@macro\sphinxatlongtablestart{\small\setlength{\tabcolsep}{4pt}}\makeatother
"""
METADATA = r"""\hypersetup{pdflang={en}, pdftitle={TITLE}, pdfauthor={AUTHOR}, pdfsubject={SUBJECT},
  bookmarksnumbered=true, bookmarksopen=true}
"""

CONTENTS = r"""\sphinxtableofcontents
\cleardoublepage\phantomsection\pdfbookmark[0]{List of figures}{listoffigures}\listoffigures
\cleardoublepage\phantomsection\pdfbookmark[0]{List of tables}{listoftables}\listoftables
"""


def printed_downloads(app, doctree, docname) -> None:
    if app.builder.format != "latex":
        return
    for ref in list(doctree.findall(addnodes.download_reference)):
        name = PurePosixPath(ref["reftarget"]).name
        ref.replace_self(nodes.inline(text=f"Data: {name}, a download beside this item on the book's website"))


def pdf_settings(app, config) -> None:
    elements = dict(config.latex_elements)
    metadata = METADATA.replace("TITLE", config.project).replace("AUTHOR", config.author).replace("SUBJECT", SUBJECT)
    elements["preamble"] = elements.get("preamble", "") + PREAMBLE + metadata
    elements["extraclassoptions"] = "openany,oneside"
    elements["tableofcontents"] = CONTENTS
    elements["makeindex"] = elements["printindex"] = ""  # the book has no index entries (and the PDF no xindy run)
    config.latex_elements = elements


class StandardDomain(std.StandardDomain):
    """Sphinx's standard domain, except that resolving a {numref} reads each target chapter's doctree once.

    Sphinx 7.4 unpickles the whole target chapter (every chart in it) for each numbered reference, only to find
    the target node and its number; the sources appendix holds hundreds of them ("Used in"), which took most of
    a PDF build with many sources. The doctrees are final by the time references are resolved, and this lookup
    only reads them, so one copy per chapter serves every reference."""

    def _resolve_numref_xref(self, env, *args, **kwargs):
        doctrees = self.__dict__.setdefault("_numref_doctrees", {})  # per build: domains are not pickled
        read = env.get_doctree

        def get_doctree(docname: str):
            if docname not in doctrees:
                doctrees[docname] = read(docname)
            return doctrees[docname]

        env.get_doctree = get_doctree
        try:
            return super()._resolve_numref_xref(env, *args, **kwargs)
        finally:
            del env.get_doctree  # back to the class's method


@functools.cache
def _renderer(latex_engine: str) -> LaTeXRenderer:
    return LaTeXRenderer(latex_engine=latex_engine)


class LaTeXTranslator(latex.LaTeXTranslator):
    """Sphinx's, except that one Jinja environment renders every table: Sphinx 7.4 makes a new one, which
    compiles the table template again, for each of the book's tables (0.5 s of a PDF build)."""

    def render(self, template_name: str, variables: dict) -> str:
        renderer = _renderer(self.config.latex_engine)
        for folder in self.config.templates_path:  # a project's own template first, as Sphinx does
            template = os.path.join(self.builder.confdir, folder, template_name)
            if os.path.exists(template):
                return renderer.render(template, variables)
        return renderer.render(template_name, variables)


def latex_translator(app) -> None:
    # Only for the LaTeX builder: with any translator registered, pydata-sphinx-theme (which wraps wide tables
    # in scrolling boxes) adds its own only to the registered ones, so the website's would lose it.
    if app.builder.name == "latex":
        app.set_translator("latex", LaTeXTranslator, override=True)


def setup(app):
    app.connect("builder-inited", latex_translator)
    app.add_domain(StandardDomain, override=True)
    app.connect("config-inited", pdf_settings)
    app.connect("doctree-resolved", printed_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
