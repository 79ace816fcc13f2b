"""One full build from the shipped data, checked as a reader would meet it: pages, offline, PDF, numbers."""

import json
import re
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
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
        if tag == "div" and "crobook-chart" in (a.get("class") or "").split():
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
    loader = (built_site / "html" / "_static" / "crobook-charts.js").read_text(encoding="utf-8")
    assert '"vega-bundle.js"' in loader  # fetched from beside the loader, never from elsewhere
    market = (built_site / "html" / "chapters" / "cro-market.html").read_text(encoding="utf-8")
    assert re.search(r'<script defer="defer" src="../_static/crobook-charts\.js[^"]*">', market)
    assert "vega-bundle.js" not in market  # no chart page fetches Vega before the reader interacts
    head = market[: market.index("</head>")]
    blocking = re.findall(r'<script src="(?:[^"]*/)?([\w.]+\.js)(?:\?[^"]*)?">', head)
    assert set(blocking) <= {"documentation_options.js", "doctools.js", "sphinx_highlight.js"}, blocking


def test_every_page_shows_the_edition(built_site):
    for page in pages(built_site):
        text = page.read_text(encoding="utf-8")
        if text.startswith('<meta http-equiv="Refresh"'):  # html/index.html only redirects to the first chapter
            continue
        words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text))
        # the default edition name: <version>-<as-of date>-<fingerprint>
        assert re.search(r"Edition \d+\.\d+\.\d+-\d{4}-\d\d-\d\d-([0-9a-f]{10}) · data and parameters \1", words), page


def test_charts_have_descriptions_and_sit_in_numbered_figures(built_site):
    total = 0
    for stem in chapters():
        page = built_site / "html" / "chapters" / f"{stem}.html"
        refs = parse(page)
        for chart in refs.charts:
            assert chart.get("role") in ("img", "group") and len(chart.get("aria-label", "")) > 40, (stem, chart)
        figures = len(re.findall(r'<span class="caption-number">Fig', page.read_text(encoding="utf-8")))
        assert figures == len(refs.charts), stem
        total += len(refs.charts)
    assert total >= 4


def chart_specs(site: Path) -> list[dict]:
    specs = []
    for stem in chapters():
        page = (site / "html" / "chapters" / f"{stem}.html").read_text(encoding="utf-8")
        specs += page_specs(page)
    return specs


def test_every_chart_is_valid_vega_lite(built_site):
    """The build draws charts without Altair's validation (a third of a chart's cost), so it is done here."""
    from altair.utils.schemapi import validate_jsonschema
    from altair.vegalite.v6.schema import core

    schema = core.load_schema()
    specs = chart_specs(built_site)
    for spec in specs:
        validate_jsonschema(spec, schema)
    assert len(specs) >= 20


def page_specs(page: str) -> list[dict]:
    """The Vega-Lite specs a page holds, as the browser reads them (JSON data beside each chart)."""
    return [
        json.loads(m)
        for m in re.findall(r'<script type="application/json" class="crobook-spec"[^>]*>(.*?)</script>', page)
    ]


def test_every_chart_and_table_is_in_the_pdf(built_site):
    reader = PdfReader(built_site / "book.pdf")
    raw = " ".join(page.extract_text() for page in reader.pages)
    text = re.sub(r"\s+", " ", raw)
    # The PDF's text layer drops some spaces in tightly set lines, and LaTeX hyphenates long captions.
    squeezed = re.sub(r"\s+", "", raw.replace("-\n", ""))
    specs = chart_specs(built_site)
    assert len(specs) >= 4
    for spec in specs:
        title = spec["title"] if isinstance(spec["title"], str) else spec["title"]["text"]
        title = " ".join(title) if isinstance(title, list) else title  # the website wraps long titles
        assert re.sub(r"\s+", "", title) in squeezed, title  # charts are vector graphics: their titles are text
    html = " ".join(
        (built_site / "html" / "chapters" / f"{stem}.html").read_text(encoding="utf-8") for stem in chapters()
    )
    table_captions = re.findall(
        r'<caption><span class="caption-number">Table [^<]*</span><span class="caption-text">([^<]+)<', html
    )
    assert len(table_captions) >= 4
    for caption in table_captions:
        assert re.sub(r"\s+", "", unescape(caption)) in squeezed, caption
    assert len(re.findall(r"Table \d+\.\d+", text)) >= 3  # numbered tables
    assert len(re.findall(r"Figure \d+\.\d+", text)) >= len(specs)  # numbered figures
    # the title page names the edition's data and parameters (a long edition name may break the line)
    assert re.search(r"data and\s+parameters [0-9a-f]{10}", reader.pages[0].extract_text())


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


def downloads(site: Path, stem: str) -> dict[str, Path]:
    """CSV name -> file, for every download link on a chapter page."""
    page = site / "html" / "chapters" / f"{stem}.html"
    links = re.findall(r'href="(\.\./_downloads/[^"]+\.csv)"', page.read_text(encoding="utf-8"))
    return {Path(link).name: (page.parent / link).resolve() for link in links}


def test_every_chart_and_table_offers_the_csv_of_its_data(built_site):
    import pandas as pd

    for stem in chapters():
        page = (built_site / "html" / "chapters" / f"{stem}.html").read_text(encoding="utf-8")
        files = downloads(built_site, stem)
        labels = re.findall(r'<figure class="align-default" id="(fig-[^"]+)"', page)
        labels += re.findall(r'<table class="[^"]*" id="(tbl-[^"]+)"', page)
        for label in labels:
            assert f"{label}.csv" in files and files[f"{label}.csv"].is_file(), (stem, label)
        for spec in page_specs(page):
            # the CSV holds exactly the rows the chart holds
            rows = [row for dataset in spec["datasets"].values() for row in dataset]
            values = sorted(round(r["value"], 6) for r in rows if r.get("value") is not None)
            name = next(
                n
                for n in files
                if n.startswith("fig-")
                and len(pd.read_csv(files[n])) == len(rows)
                and sorted(pd.read_csv(files[n])["value"].dropna().round(6)) == values
            )
            assert name


def test_sources_appendix_lists_the_views_that_use_each_source(built_site):
    page = (built_site / "html" / "chapters" / "sources.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, flags=re.S)
    tufts = next(r for r in rows if "Tufts CSDD Impact Report vol 24 no 6" in r)
    assert "#fig-market-estimates" in tufts and "#tbl-market-estimates" in tufts
    evidence = load()
    assert sum(1 for r in rows if "<td" in r) == len(evidence.sources)


def test_key_findings_page_shows_the_ledger(built_site):
    from crobook.claims import evaluate

    ledger = evaluate(load())
    page = (built_site / "html" / "chapters" / "findings.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, flags=re.S)
    for claim in ledger.itertuples():
        row = next(r for r in rows if f">{claim.claim_id}<" in r)
        assert f'href="{claim.chapter}.html"' in row
        assert f"<p>{claim.status}</p>" in row
    text = page_text(built_site, "findings")
    assert f"{(ledger['status'] == 'supported').sum()} are supported" in text


@pytest.fixture(scope="session")
def flipped_site(tmp_path_factory):
    """A build from a copy of data/ where the like-for-like (Tufts) figures for 2022 fall well below $50bn."""
    import shutil

    from crobook.build import build
    from crobook.data import DEFAULT_DATA_DIR

    data = tmp_path_factory.mktemp("flipped") / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    obs = data / "observations.csv"
    text = obs.read_text(encoding="utf-8")
    for old, new in (
        ("contract_clinical_services_spend,~2022,50,", "contract_clinical_services_spend,~2022,40,"),
        ("top10_cro_revenue,2022,34,", "top10_cro_revenue,2022,24,"),
    ):
        assert old in text
        text = text.replace(old, new)
    obs.write_text(text, encoding="utf-8")
    return build(data_dir=data, site_dir=tmp_path_factory.mktemp("flipped-site"))


def test_changing_a_figure_changes_the_claim_status_and_its_sentences(built_site, flipped_site):
    before_findings, after_findings = page_text(built_site, "findings"), page_text(flipped_site, "findings")
    before_chapter, after_chapter = page_text(built_site, "cro-market"), page_text(flipped_site, "cro-market")
    assert "Claim C8 is partly supported" in before_chapter
    assert "Claim C8 is contradicted" in after_chapter
    assert "(b) It was more than $50bn in 2023: contradicted. Tufts CSDD’s < 40 USD bn (2022" in after_chapter
    assert before_findings.count("contradicted") < after_findings.count("contradicted")


def test_no_stray_output_on_any_page(built_site):
    """Cells show only charts, tables and text meant for readers: no echoed values, warnings or tracebacks."""
    for stem in chapters():
        page = (built_site / "html" / "chapters" / f"{stem}.html").read_text(encoding="utf-8")
        assert not re.search(r'class="output (text_plain|stderr|traceback)', page), stem


def test_accessibility_basics(built_site):
    """Page language, alt text on every image, headers and a caption on every table."""
    for page in pages(built_site):
        text = page.read_text(encoding="utf-8")
        if text.startswith('<meta http-equiv="Refresh"'):
            continue
        assert re.search(r'<html lang="en"', text), page
        for img in re.findall(r"<img\b[^>]*>", text):
            assert re.search(r'alt="[^"]+"', img), (page.name, img)
        main = text[text.find("<main") :]
        for table in re.findall(r"<table\b.*?</table>", main, flags=re.S):
            assert "<caption>" in table and "<th" in table, page.name


def test_site_and_edition_roots_answer_for_favicon_ico(built_site):
    """Browsers ask a site's root for /favicon.ico whatever the page links: both roots have a 32-pixel icon."""
    for root in (built_site.parent, built_site / "html"):
        icon = (root / "favicon.ico").read_bytes()
        assert icon[:6] == b"\x00\x00\x01\x00\x01\x00" and icon[6:8] == b"\x20\x20", root  # one 32 x 32 image
        assert icon[22:30] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(icon[14:18], "little") == len(icon) - 22


def test_each_edition_publishes_the_ledger_as_csv_and_json(built_site):
    import pandas as pd

    from crobook.claims import assess

    ledger = assess(load())
    table = pd.read_csv(built_site / "ledger.csv", keep_default_na=False)
    assert len(table) == len(ledger.parts)  # one row per claim part
    assert dict(zip(table["claim_id"], table["claim_status"])) == dict(
        zip(ledger.claims["claim_id"], ledger.claims["status"])
    )
    data = json.loads((built_site / "ledger.json").read_text(encoding="utf-8"))
    assert [c["claim_id"] for c in data["claims"]] == list(ledger.claims["claim_id"])
    for claim in data["claims"]:
        for part in claim["parts"]:
            if part["status"] != "not testable":  # a verdict names the figures it rests on
                assert any(f["decides"] for f in part["figures"]), (claim["claim_id"], part["part"])


def test_key_findings_carries_one_claim_review_and_one_evidence_figure_per_claim(built_site):
    from crobook.build import DEFAULT_PARAMS, chapters
    from crobook.claims import assess
    from crobook.params import load_params

    page = (built_site / "html" / "chapters" / "findings.html").read_text(encoding="utf-8")
    ledger = assess(load()).claims
    assert len(re.findall(r'<figure class="align-default" id="fig-findings-c\d+"', page)) == len(ledger)
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, flags=re.S)
    reviews = json.loads(blocks[0])
    assert len(blocks) == 1 and [r["claimReviewed"] for r in reviews] == list(ledger["statement"])
    as_of = load_params(DEFAULT_PARAMS, chapters()).as_of.isoformat()
    article = load().sources.set_index("source_id").loc["icon-article"]
    for review, claim in zip(reviews, ledger.itertuples(), strict=True):
        assert review["@type"] == "ClaimReview" and review["reviewRating"]["alternateName"] == claim.status
        assert review["itemReviewed"]["datePublished"] == article["published"]
        assert review["itemReviewed"]["appearance"]["url"] == article["url"]
        assert review["datePublished"] == as_of
        assert ("ratingValue" in review["reviewRating"]) == (claim.status != "not testable")


def test_definitions_page_sets_every_definition_side_by_side(built_site):
    text = page_text(built_site, "definitions")
    definitions = load().definitions
    for row in definitions.itertuples():
        assert row.term in text and row.threshold in text, row.definition_id
    assert f"The data hold {len(definitions)} definitions" in text


def test_every_chart_that_mixes_definitions_names_them(built_site):
    """A chart drawing groups defined in different ways says under it who each counts."""
    checked = 0
    for stem in chapters():
        page = (built_site / "html" / "chapters" / f"{stem}.html").read_text(encoding="utf-8")
        found = re.findall(r'<figure class="align-default" id="(fig-[^"]+)">(.*?)</figure>\s*(<p>.*?</p>)?', page, re.S)
        for label, block, after in found:
            specs = page_specs(block)
            if not specs:
                continue
            rows = [r for d in specs[0]["datasets"].values() for r in d]
            if len({r["definition_id"] for r in rows if r.get("definition_id")}) > 1:
                checked += 1
                # in the paragraph right under the figure (a caption cannot break across printed pages)
                assert "Who is counted:" in after, (stem, label)
    assert checked >= 9  # at least every claim's evidence chart on the findings page


def test_every_2021_approval_is_in_the_searchable_table_the_csv_and_the_pdf(built_site):
    drugs = load().approvals.query("year == '2021'")["drug"]
    page = (built_site / "html" / "chapters" / "approvals.html").read_text(encoding="utf-8")
    table = page[page.index('id="tbl-fda-approvals"') :]
    table = table[: table.index("</table>")]
    assert len(re.findall(r"<tr", table)) == len(drugs) + 1  # the header row and one row per approval
    assert all(f">{escape(drug)}<" in table for drug in drugs)
    # the search box is hidden until its script runs, so a reader without scripts never sees a dead control
    assert re.search(r'<div class="crobook-search" id="search-tbl-fda-approvals" hidden>', page)
    shown = pd.read_csv(downloads(built_site, "approvals")["tbl-fda-approvals.csv"])
    assert list(shown["Drug"]) == list(drugs)
    raw = " ".join(p.extract_text() for p in PdfReader(built_site / "book.pdf").pages)
    squeezed = re.sub(r"\s+", "", raw.replace("-\n", ""))
    assert [d for d in drugs if re.sub(r"\s+", "", d) not in squeezed] == []
