"""Two builds of the same inputs give the same edition: identical pages, data files, chart specifications and
glued values; only the manifest's build and publication times differ, and the PDF only in how its bytes are laid out."""

import json
import re

import pytest
from pypdf import PdfReader

from crobook.build import build

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def again(tmp_path_factory):
    """The edition rebuilt over itself in another site: the second build finds Sphinx's kept folder holding the
    first one's pages, and must still give what a build in a fresh folder gives."""
    site = tmp_path_factory.mktemp("again")
    build(site_dir=site)
    return build(site_dir=site, force=True)


def files(edition, pattern):
    return {p.relative_to(edition).as_posix(): p.read_bytes() for p in sorted(edition.rglob(pattern))}


def test_pages_data_files_and_chart_specifications_are_identical(built_site, again):
    first, second = files(built_site / "html", "*.html"), files(again / "html", "*.html")
    assert first.keys() == second.keys() and first == second
    csv_first, csv_second = files(built_site / "html", "*.csv"), files(again / "html", "*.csv")
    assert csv_first and csv_first == csv_second
    specs = [re.findall(rb'<script type="application/json" class="crobook-spec"', page) for page in first.values()]
    assert sum(len(s) for s in specs) >= 10  # the comparison above covered every chart specification


def test_glued_values_are_identical(built_site, again):
    for page in (built_site / "html" / "chapters").glob("*.html"):
        glued = re.findall(r'<span class="pasted-text">(.*?)</span>', page.read_text(encoding="utf-8"))
        other = re.findall(
            r'<span class="pasted-text">(.*?)</span>',
            (again / "html" / "chapters" / page.name).read_text(encoding="utf-8"),
        )
        assert glued == other, page.name


def test_manifest_differs_only_in_build_time(built_site, again):
    first = json.loads((built_site / "manifest.json").read_text(encoding="utf-8"))
    second = json.loads((again / "manifest.json").read_text(encoding="utf-8"))
    for manifest in (first, second):
        manifest.pop("built_at")
        manifest.pop("published_at")
    assert first == second


def test_pdf_pages_are_identical(built_site, again):
    first, second = PdfReader(built_site / "book.pdf"), PdfReader(again / "book.pdf")
    assert len(first.pages) == len(second.pages)
    for a, b in zip(first.pages, second.pages, strict=True):
        assert a.extract_text() == b.extract_text()
        assert a.get_contents().get_data() == b.get_contents().get_data()
    assert first.metadata == second.metadata  # dated by the as-of date, not the clock
