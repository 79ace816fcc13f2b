"""One full build from the shipped data, checked as a reader would meet it: pages, offline, PDF, numbers."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from crobook import analysis
from crobook.build import chapters
from crobook.data import load

pytestmark = pytest.mark.build


class Refs(HTMLParser):
    """Collects the addresses a page loads (scripts, styles, fonts, images) and its chart containers."""

    def __init__(self):
        super().__init__()
        self.loads, self.charts, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "video", "audio") and a.get("src"):
            self.loads.append(a["src"])
        if tag == "link" and a.get("href") and set((a.get("rel") or "").split()) & {"stylesheet", "preload", "icon"}:
            self.loads.append(a["href"])
        if tag == "div" and "crobook-chart" in (a.get("class") or ""):
            self.charts.append(a)

    def handle_data(self, data):
        self.text.append(data)


def parse(path: Path) -> Refs:
    refs = Refs()
    refs.feed(path.read_text(encoding="utf-8"))
    return refs


def pages(site: Path) -> list[Path]:
    """The book's pages (theme templates under _static are not pages)."""
    return sorted(p for p in (site / "html").rglob("*.html") if "_static" not in p.parts)


def page_text(site: Path, stem: str) -> str:
    return re.sub(r"\s+", " ", "".join(parse(site / "html" / "chapters" / f"{stem}.html").text))


def test_every_chapter_has_a_page(built_site):
    for stem in chapters():
        assert (built_site / "html" / "chapters" / f"{stem}.html").is_file(), stem
    assert (built_site / "html" / "index.html").is_file()
    assert (built_site / "book.pdf").stat().st_size > 10_000


def test_no_page_loads_anything_from_the_network(built_site):
    for page in pages(built_site):
        refs = parse(page)
        remote = [u for u in refs.loads if re.match(r"^(https?:)?//", u)]
        assert remote == [], f"{page.name} loads {remote}"
        # and no CDN address hides in inline scripts or styles either
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"cdn\.jsdelivr|unpkg\.com|cdnjs|googleapis|require\.min\.js", text), page.name


def test_vega_is_served_by_the_book(built_site):
    bundle = built_site / "html" / "_static" / "vega-bundle.js"
    assert bundle.stat().st_size > 500_000
    assert "window.vegaEmbed" in bundle.read_text(encoding="utf-8")
    market = (built_site / "html" / "chapters" / "cro-market.html").read_text(encoding="utf-8")
    assert "_static/vega-bundle.js" in market


def test_every_page_shows_the_edition(built_site):
    for page in pages(built_site):
        if page.name in ("genindex.html", "search.html", "index.html"):
            continue
        assert re.search(
            r"Edition \d+\.\d+\.\d+ · data and parameters [0-9a-f]{10}", page.read_text(encoding="utf-8")
        ), page


def test_charts_have_descriptions_and_sit_in_numbered_figures(built_site):
    total = 0
    for stem in chapters():
        page = built_site / "html" / "chapters" / f"{stem}.html"
        refs = parse(page)
        for chart in refs.charts:
            assert chart.get("role") == "img" and len(chart.get("aria-label", "")) > 40, (stem, chart)
        figures = len(re.findall(r'<span class="caption-number">Fig', page.read_text(encoding="utf-8")))
        assert figures == len(refs.charts), stem
        total += len(refs.charts)
    assert total >= 4


def chart_specs(site: Path) -> list[dict]:
    specs = []
    for stem in chapters():
        page = (site / "html" / "chapters" / f"{stem}.html").read_text(encoding="utf-8")
        specs += [json.loads(m) for m in re.findall(r"var spec = (\{.*\});\n", page)]
    return specs


def test_every_chart_and_table_is_in_the_pdf(built_site):
    reader = PdfReader(built_site / "book.pdf")
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))
    specs = chart_specs(built_site)
    assert len(specs) >= 4
    for spec in specs:
        title = spec["title"] if isinstance(spec["title"], str) else spec["title"]["text"]
        assert title in text, title  # charts are vector graphics in the PDF, so their titles are text
    html = " ".join(
        (built_site / "html" / "chapters" / f"{stem}.html").read_text(encoding="utf-8") for stem in chapters()
    )
    table_captions = re.findall(
        r'<caption><span class="caption-number">Table [^<]*</span><span class="caption-text">([^<]+)<', html
    )
    assert len(table_captions) == len(chapters()) - 1  # one table per chapter, none on the introduction
    for caption in table_captions:
        assert caption.replace("&#39;", "'") in text, caption
    assert len(re.findall(r"Table \d+\.\d+", text)) >= 3  # numbered tables
    assert len(re.findall(r"Figure \d+\.\d+", text)) >= len(specs)  # numbered figures
    assert re.search(r"data and parameters [0-9a-f]{10}", reader.pages[0].extract_text())


def test_glued_numbers_equal_values_computed_from_data(built_site):
    evidence = load()
    market = evidence.series_data("cro_market")
    c = analysis.change(analysis.cited(market))
    independent = analysis.independent(market)
    base = analysis.spread(independent[independent["year"] == 2023]["value"])
    text = page_text(built_site, "cro-market")
    assert f"growth of {c.growth_pct:.0f}% over {c.years} years, or {c.cagr_pct:.1f}% a year" in text
    assert (
        f"run from {base.minimum:.1f} to {base.maximum:.1f} billion dollars, with a median of {base.median:.1f}" in text
    )

    p1 = analysis.point_change(analysis.cited(evidence.series_data("phase1_outsourced_share_small")))
    text = page_text(built_site, "outsourcing")
    assert f"a rise of {p1:.0f} percentage points" in text

    intro = page_text(built_site, "intro")
    assert f"holds {len(evidence.observations)} figures in {len(evidence.series)} series" in intro
