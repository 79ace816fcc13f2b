"""Sphinx extension for the website: load chart code only where there is a chart, and describe every page.

- Pages with a chart load a small script that fetches Vega (about 0.9 MB) when the reader first scrolls, points
  or types; until then each chart is its static SVG. No page waits for chart code before it paints, and pages
  without charts never fetch it.
- Every page gets a meta description: the start of its first paragraph.
"""

from __future__ import annotations

import html

from docutils import nodes

DESCRIPTION_LENGTH = 155  # characters a search result shows
EARLY = ("documentation_options.js", "doctools.js", "sphinx_highlight.js")


def description(doctree) -> str:
    for paragraph in doctree.findall(nodes.paragraph):
        text = " ".join(paragraph.astext().split())
        if len(text) > 40:
            return text if len(text) <= DESCRIPTION_LENGTH else text[: DESCRIPTION_LENGTH - 1].rsplit(" ", 1)[0] + "…"
    return ""


def page_assets(app, pagename, templatename, context, doctree) -> None:
    if 'class="crobook-chart' in context.get("body", ""):
        app.add_js_file("crobook-charts.js", loading_method="defer")  # it fetches vega-bundle.js when needed
    # No script in <head> holds up the first paint: they run, in order, once the page is parsed; except the
    # small ones that inline scripts of the theme call while the page is still being read.
    for script in context.get("script_files", []):
        name = getattr(script, "filename", "") or ""
        if name and not name.endswith(EARLY) and "async" not in script.attributes:
            script.attributes.setdefault("defer", "defer")
    text = description(doctree) if doctree is not None else ""
    if text:
        context["metatags"] = context.get("metatags", "") + f'\n<meta name="description" content="{html.escape(text)}">'


def setup(app):
    app.connect("html-page-context", page_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
