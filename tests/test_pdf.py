"""The PDF loses nothing: every table's rows and cells are in it, in order; no text lies outside the printable
box; no page is blank. Text positions come from poppler's `pdftotext -bbox`."""

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from crobook.build import chapters

MARGIN = 72.0  # the LaTeX text block's left and right margins, in points (Sphinx's a4 geometry)
SLACK = 2.0  # points a glyph's box may poke out (italic overhang, rounding)


def pdftotext(*args: str) -> str:
    if not shutil.which("pdftotext"):
        pytest.fail("poppler's pdftotext is not installed (make test installs it; or: apt-get install poppler-utils)")
    return subprocess.run(["pdftotext", *args, "-"], capture_output=True, text=True, check=True).stdout


def words_by_page(pdf: Path) -> list[tuple[float, float, list[tuple[float, float, float, float, str]]]]:
    """(width, height, [(xMin, yMin, xMax, yMax, word)]) for every page."""
    pages = []
    for width, height, body in re.findall(
        r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', pdftotext("-bbox", str(pdf)), re.S
    ):
        words = [
            (float(a), float(b), float(c), float(d), w)
            for a, b, c, d, w in re.findall(
                r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">(.*?)</word>', body
            )
        ]
        pages.append((float(width), float(height), words))
    return pages


def test_no_page_is_blank_and_no_text_leaves_the_printable_box(built_site):
    pages = words_by_page(built_site / "book.pdf")
    assert len(pages) > 20
    blank = [n for n, (_, _, words) in enumerate(pages, 1) if not words]
    assert blank == [], f"blank pages: {blank}"
    # The footer (page number and running title) is the lowest line a page may print on.
    footer = max(y1 for _, _, words in pages for x0, y0, x1, y1, w in words if w.isdigit() and y1 > 0.9 * pages[0][1])
    outside = [
        (n, w, round(x0), round(x1), round(y1))
        for n, (width, height, words) in enumerate(pages, 1)
        for x0, y0, x1, y1, w in words
        if x0 < MARGIN - SLACK or x1 > width - MARGIN + SLACK or y1 > footer + SLACK or y0 < 0
    ]
    assert outside == [], f"text outside the printable box (page, word, x0, x1, yMax): {outside[:10]}"


class Tables(HTMLParser):
    """Caption and cell texts of every table on a page."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self.where: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "cells": []})
        elif self.tables and tag == "caption":
            self.where = "caption"
        elif self.tables and tag in ("td", "th"):
            self.where = "cell"
            self.tables[-1]["cells"].append("")

    def handle_endtag(self, tag):
        if tag in ("caption", "td", "th"):
            self.where = None

    def handle_data(self, data):
        if self.where == "caption":
            self.tables[-1]["caption"] += data
        elif self.where == "cell":
            self.tables[-1]["cells"][-1] += data


def normal(text: str) -> str:
    """Text as both the page and the PDF's text layer can be compared: no spaces, hyphens (LaTeX hyphenates),
    break points or typographic quotes."""
    text = text.replace("\u200b", "").replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[\s\-‐–]+", "", text)
    return re.sub(r"(Figure|Table)\d+(\.\d+)*", r"\1#", text)  # the website numbers 8, the PDF 7.1


def missing_cells(pdf: str, at: int, cells: list[str]) -> list[str]:
    """The cells not found in order from position `at`."""
    missing = []
    for cell in cells:
        found = pdf.find(cell, at)
        if found < 0:
            missing.append(cell)
        else:
            at = found + len(cell)
    return missing


def test_every_table_of_the_website_is_whole_in_the_pdf(built_site):
    pdf = normal(pdftotext("-raw", "-enc", "UTF-8", str(built_site / "book.pdf")))
    checked = 0
    for stem in chapters():
        parser = Tables()
        parser.feed((built_site / "html" / "chapters" / f"{stem}.html").read_text(encoding="utf-8"))
        for table in parser.tables:
            caption = normal(re.sub(r"^Table [\d.]+\s*|#$", "", table["caption"].strip()))
            cells = [c for c in map(normal, table["cells"]) if c]
            # the caption also appears in the list of tables and the sources appendix: one occurrence must be
            # followed by every cell of the table, in order
            starts = [m.start() for m in re.finditer(re.escape(caption), pdf)]
            assert starts, (stem, table["caption"])
            missing = min((missing_cells(pdf, start, cells) for start in starts), key=len)
            assert missing == [], (stem, table["caption"], missing[:5])
            checked += 1
    assert checked >= 15


def test_a_character_no_font_has_fails_the_build_naming_its_row(data_copy, tmp_path):
    from crobook.build import missing_glyphs
    from crobook.errors import BuildError

    path = data_copy / "sources.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("Emerging Biopharma", "Emerging \ue000 Biopharma", 1))
    log = tmp_path / "book.log"
    log.write_text("Missing character: There is no \ue000 (U+E000) in font FreeSerif/OT:script=latn;\n")
    with pytest.raises(BuildError) as err:
        missing_glyphs(log, data_copy)
    assert 'sources.csv, row 3 (line 4), column "title": character \ue000 (U+E000) has no glyph' in str(err.value)
    log.write_text("nothing missing\n")
    missing_glyphs(log, data_copy)  # a clean log passes


def test_the_book_s_own_data_need_no_font_for_other_scripts(built_site):
    """Every character of today's data is in FreeSerif, so TeX ran without the switch to the CJK and symbol fonts
    (crobook.tex.OTHER_SCRIPTS): the PDF uses neither (tests/test_browser.py checks a book that needs them)."""
    fonts = subprocess.run(["pdffonts", str(built_site / "book.pdf")], capture_output=True, text=True, check=True)
    assert "FreeSerif" in fonts.stdout and "Noto" not in fonts.stdout and "Symbola" not in fonts.stdout
    kept = built_site.parent / ".cache" / ".sphinx" / "latex" / "latex" / "book.tex"
    assert "ucharclasses" not in kept.read_text(encoding="utf-8")
