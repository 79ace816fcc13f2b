"""The built website in a real browser (Debian's Chromium driven by Playwright), served from a local server
while every request to anywhere else is blocked and recorded; and text from the data that holds HTML or script
shown as plain text, never run."""

import csv
import functools
import shutil
import subprocess
import threading
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pypdf import PdfReader

from crobook.build import ROOT, build, chapters
from crobook.data import DEFAULT_DATA_DIR

pytestmark = pytest.mark.build
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "_build" / "screenshots"
HOSTILE_TITLE = '<script>window.__pwned = "title"</script><img src=x onerror="window.__pwned = \'img\'"> report'
HOSTILE_LABEL = "CRO market <b onmouseover=\"window.__pwned = 'label'\">bold</b>"
HOSTILE_NOTE = "javascript:window.__pwned='note' <iframe src=javascript:alert(1)>"
SCRIPTS_TITLE = "Rapport 中文标题 😀 שלום مرحبا café naïve " + "x" * 300
MARKS = ".mark-symbol path, .mark-rect path, .mark-line path, .mark-text text"

playwright_api = pytest.importorskip("playwright.sync_api")


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed (make test installs it; or: apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--disable-quic",
            ],
        )
        yield chromium
        chromium.close()


def serve(folder: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Visit:
    """One browser page that records blocked requests, console errors, page errors and dialogs."""

    def __init__(self, browser, origin: str):
        self.external, self.errors, self.dialogs = [], [], []
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.context.route("**/*", self.route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.origin = origin

    def route(self, route):
        if route.request.url.startswith(self.origin):
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def open(self, path: str):
        self.page.goto(self.origin + path, wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return self.page

    def close(self):
        self.context.close()


@contextmanager
def visiting(browser, site: Path, width: int = 1200):
    """A Visit of `site`, served from a local server for as long as the block runs."""
    server = serve(site)
    visit = Visit(browser, f"http://127.0.0.1:{server.server_port}/")
    visit.page.set_viewport_size({"width": width, "height": 900})
    try:
        yield visit
    finally:
        visit.close()
        server.shutdown()


def chart_marks(page) -> list[int]:
    """Draw the page's charts (the reader's first pointer move loads Vega) and count the marks of each."""
    page.mouse.move(5, 5)
    page.mouse.move(9, 9)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.crobook-chart')].every(c => c.querySelector('svg'))", timeout=20_000
    )
    return page.eval_on_selector_all(".crobook-chart", f"els => els.map(e => e.querySelectorAll('{MARKS}').length)")


def test_every_page_renders_offline_with_charts_and_no_errors(browser, built_site):
    site = built_site.parent
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = sorted(p for p in (built_site / "html").rglob("*.html") if "_static" not in p.parts)
    with visiting(browser, site) as visit:
        charts_seen = 0
        for path in pages:
            rel = path.relative_to(site).as_posix()
            page = visit.open(rel)
            containers = page.locator(".crobook-chart").count()
            if containers:
                marks = chart_marks(page)
                assert all(n > 0 for n in marks), (rel, marks)
                charts_seen += containers
            if path.parent.name == "chapters":
                page.screenshot(path=SCREENSHOTS / f"{path.stem}.png", full_page=True)
        assert visit.external == [], visit.external
        assert visit.errors == [], visit.errors
        assert charts_seen >= 10
        assert {p.stem for p in SCREENSHOTS.glob("*.png")} >= set(chapters())


def rewrite(path: Path, change) -> None:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    for row in rows:
        change(row)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> Path:
    """A build from data whose texts hold HTML, script and javascript: addresses, and a title in several scripts
    with a 300-character token."""
    data = tmp_path_factory.mktemp("hostile") / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)

    def title(row):
        if row["source_id"] == "isr-fiercebiotech-2014":
            row["title"] = HOSTILE_TITLE
            row["publisher"] = row["publisher"] + " <u>x</u>"
        if row["source_id"] == "iqvia-ebp-2022":
            row["title"] = SCRIPTS_TITLE

    def label(row):
        if row["series_id"] == "cro_market":
            row["label"], row["description"] = HOSTILE_LABEL, HOSTILE_TITLE

    def note(row):
        if row["series_id"] == "cro_market" and row["period"] == "2014":
            row["note"] = HOSTILE_NOTE

    rewrite(data / "sources.csv", title)
    rewrite(data / "series.csv", label)
    rewrite(data / "observations.csv", note)
    return build(data_dir=data, site_dir=tmp_path_factory.mktemp("hostile-site"))


def test_hostile_text_is_shown_as_text_and_never_runs(browser, hostile_site):
    site = hostile_site.parent
    with visiting(browser, site) as visit:
        for stem in ("cro-market", "sources", "findings"):
            page = visit.open(f"{hostile_site.name}/html/chapters/{stem}.html")
            if stem == "cro-market":
                chart_marks(page)
                # hover every point of the first chart until the tooltip shows the hostile title
                points = page.locator(
                    "#" + page.locator(".crobook-chart").first.get_attribute("id") + " .mark-symbol path"
                )
                tooltip, shown = page.locator("#vg-tooltip-element"), ""
                assert points.count() > 0
                for i in range(points.count()):
                    points.nth(i).hover(force=True)
                    page.wait_for_timeout(50)
                    shown = tooltip.inner_text() if tooltip.count() else ""
                    if "<script>" in shown:
                        break
                assert "<script>" in shown  # the hostile title is shown, as text
                assert tooltip.locator("img, script, b").count() == 0  # not as elements
            body = page.inner_text("body")
            assert page.evaluate("() => window.__pwned === undefined"), stem
            assert page.locator("main img[src='x'], main iframe, main b[onmouseover]").count() == 0, stem
            if stem in ("cro-market", "sources"):
                assert "<script>" in body and "onerror" in body, stem
        assert visit.dialogs == []
        assert visit.external == []  # the hostile img never requested "x" from anywhere but this server
    text = " ".join(p.extract_text() for p in PdfReader(hostile_site / "book.pdf").pages)
    text = text.replace("-\n", "")  # LaTeX hyphenates inside narrow table cells
    assert "<b onmouseover=" in text and "bold</b>" in text  # the markup is printed, not applied


def test_javascript_address_is_rejected(data_copy):
    from crobook.data import DataError, load

    rewrite(
        data_copy / "sources.csv",
        lambda r: r.update(url="javascript:alert(1)") if r["source_id"] == "ey-beyond-borders-2022" else None,
    )
    with pytest.raises(DataError) as err:
        load(data_copy)
    assert any('column "url": expected an http(s) URL, got "javascript:alert(1)"' in str(p) for p in err.value.problems)


FIT = """() => {
  const column = document.querySelector('article.bd-article') || document.querySelector('main');
  const limit = column.getBoundingClientRect().right + 1;
  const wide = [];
  for (const el of document.querySelectorAll('.crobook-chart, table')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= limit) continue;
    const scroller = el.closest('.pst-scrollable-table-container, .crobook-chart-wide');
    const inside = scroller && scroller.getBoundingClientRect().right <= limit && scroller.tabIndex === 0;
    if (!inside) wide.push((el.id || el.className).slice(0, 40) + ' ' + Math.round(box.right));
  }
  return wide;
}"""


MUST_FIT = {"findings": "#tbl-findings", "sources": "#tbl-sources"}
WIDER = """(selector) => {
  const column = document.querySelector('article.bd-article').getBoundingClientRect();
  return document.querySelector(selector).getBoundingClientRect().width - column.width;
}"""


@pytest.mark.parametrize("width", [390, 1280])
def test_charts_and_tables_fit_the_column_or_scroll_in_a_focusable_box(browser, built_site, width):
    site = built_site.parent
    with visiting(browser, site, width) as visit:
        for stem in chapters():
            page = visit.open(f"{built_site.name}/html/chapters/{stem}.html")
            if page.locator(".crobook-chart").count():
                chart_marks(page)
            page.wait_for_timeout(400)  # the theme marks scrollable tables focusable after a short delay
            assert page.evaluate(FIT) == [], (stem, width)
            if width >= 1280 and stem in MUST_FIT:  # the ledger and the sources appendix fit whole on a desktop
                assert page.evaluate(WIDER, MUST_FIT[stem]) <= 0, stem
            page.screenshot(path=SCREENSHOTS / f"{stem}-{width}.png", full_page=True)


def test_without_javascript_every_chart_shows_its_static_image(browser, built_site):
    site = built_site.parent
    server = serve(site)
    context = browser.new_context(viewport={"width": 390, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    try:
        seen = 0
        for stem in chapters():
            page.goto(f"http://127.0.0.1:{server.server_port}/{built_site.name}/html/chapters/{stem}.html")
            page.wait_for_load_state("networkidle")
            images = page.eval_on_selector_all(
                ".crobook-chart-static img", "els => els.map(i => [i.complete && i.naturalWidth, i.alt.length])"
            )
            assert page.locator(".crobook-chart").count() == len(images), stem
            assert all(w > 0 and alt > 20 for w, alt in images), (stem, images)
            assert page.locator(".crobook-search:visible").count() == 0  # no search box that cannot work
            seen += len(images)
        assert seen >= 10
    finally:
        context.close()
        server.shutdown()


def test_the_projection_sliders_redraw_the_lines_in_the_browser(browser, built_site):
    site = built_site.parent
    with visiting(browser, site) as visit:
        page = visit.open(f"{built_site.name}/html/chapters/cro-market.html")
        chart_marks(page)
        figure = page.locator("#fig-market-projection")
        sliders = figure.locator("input[type=range]")
        assert sliders.count() == 4  # low, base and high rates, and the horizon
        before = figure.locator(".mark-line path").evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
        figure.locator("input[name=rate_high]").evaluate(
            "el => { el.value = 20; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        page.wait_for_timeout(500)
        after = figure.locator(".mark-line path").evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
        # the high line moves (and the axis with it); the same lines are drawn
        assert len(after) == len(before) == 3 and after != before
        assert visit.errors == []


def test_charts_are_images_until_the_reader_interacts_then_vega_draws_them(browser, built_site):
    """Reading alone never fetches chart code: every chart is its static SVG; the first pointer move fetches
    Vega once and draws every chart in place of its image."""
    with visiting(browser, built_site.parent, 390) as visit:
        fetched = []
        visit.page.on("request", lambda r: fetched.append(r.url.rsplit("/", 1)[-1].split("?")[0]))
        page = visit.open(f"{built_site.name}/html/chapters/cro-market.html")
        page.wait_for_timeout(1000)
        charts = page.locator(".crobook-chart").count()
        visible = "els => els.filter(i => i.offsetWidth).length"
        shown = page.eval_on_selector_all(".crobook-chart-static img", visible)
        assert charts >= 3 and shown == charts and page.locator(".crobook-chart svg").count() == 0
        assert "vega-bundle.js" not in fetched
        assert all(n > 0 for n in chart_marks(page))
        assert fetched.count("vega-bundle.js") == 1
        assert page.eval_on_selector_all(".crobook-chart-static img", visible) == 0
        assert visit.errors == []


BUDGET = {"no chart": 600_000, "chart": 1_200_000}  # bytes transferred, compressed as a web host would


def test_every_page_keeps_to_its_weight_budget(browser, built_site):
    """What a first visit fetches (gzip-compressed), and on chart pages Vega too: at most 600 kB for a page
    without a chart and 1.2 MB for one with charts."""
    import gzip

    html = built_site / "html"
    bundle = len(gzip.compress((html / "_static" / "vega-bundle.js").read_bytes()))
    over = {}
    with visiting(browser, built_site.parent, 390) as visit:
        fetched = []
        visit.page.on("requestfinished", lambda r: fetched.append(r.url.split("?")[0]))
        for path in sorted(p for p in html.rglob("*.html") if "_static" not in p.parts):
            fetched.clear()
            page = visit.open(path.relative_to(built_site.parent).as_posix())
            page.wait_for_timeout(300)
            files = {built_site.parent / u.removeprefix(visit.origin) for u in fetched}
            weight = sum(len(gzip.compress(f.read_bytes())) for f in files if f.is_file())
            kind = "chart" if page.locator(".crobook-chart").count() else "no chart"
            weight += bundle if kind == "chart" else 0
            if weight > BUDGET[kind] or not files:
                over[path.name] = (kind, weight)
    assert over == {}


def test_a_tolerance_slider_moves_the_band_and_says_where_the_verdict_changes(browser, built_site):
    from crobook.claims import tolerance_steps

    steps = tolerance_steps(built_site_evidence(built_site), "C1")
    lowest = steps.iloc[0]  # tolerance 0
    site = built_site.parent
    with visiting(browser, site) as visit:
        page = visit.open(f"{built_site.name}/html/chapters/pipeline.html")
        chart_marks(page)
        figure = page.locator("#fig-claim-c1")
        said = figure.locator(".mark-text text", has_text="At ±")
        assert "(the published tolerance)" in said.text_content()
        caption = figure.locator("figcaption .pasted-text").first  # glued prose reads as prose, not bold
        weights = "el => [getComputedStyle(el).fontWeight, getComputedStyle(el.parentElement).fontWeight]"
        own, around = caption.evaluate(weights)
        assert own == around
        band = figure.locator(".mark-rect path").first.get_attribute("d")
        figure.locator("input[name=tolerance_C1_a]").evaluate(
            "el => { el.value = 0; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        page.wait_for_timeout(500)
        text = said.text_content()
        assert f"part {lowest['status']}, claim {lowest['claim_status']}" in text and "published" not in text
        assert figure.locator(".mark-rect path").first.get_attribute("d") != band  # the band narrowed
        assert visit.errors == []


def built_site_evidence(built_site: Path):
    """The evidence an edition was built from: its own copy of the data."""
    from crobook.data import load

    return load(built_site / "data")


def test_every_script_prints_in_the_pdf_with_a_font_that_has_it(hostile_site):
    """CJK, emoji, Hebrew, Arabic and accents print (no empty box), and a 300-character token wraps."""
    pdf = hostile_site / "book.pdf"
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True).stdout
    for word in ("中文标题", "😀", "שלום", "مرحبا", "café", "naïve"):
        assert word in text, word
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert "NotoSansCJK" in fonts and "Symbola" in fonts
    longest = max((len(w) for line in text.splitlines() for w in line.split() if set(w) == {"x"}), default=0)
    assert 0 < longest < 60  # the token is broken into pieces that fit a column


@pytest.mark.parametrize("width", [390, 1280])
def test_no_serious_accessibility_violation_on_any_page(browser, built_site, width):
    """axe-core (shipped by axe-playwright-python) on every page at phone and desktop width, with the rule that
    an accessible name must hold the visible text (still marked experimental, so not run by default)."""
    from axe_playwright_python.sync_playwright import Axe

    site = built_site.parent
    axe, found = Axe(), {}
    options = {"rules": {"label-content-name-mismatch": {"enabled": True}}}
    with visiting(browser, site, width) as visit:
        for path in sorted((built_site / "html").rglob("*.html")):
            if "_static" in path.parts or path.name in ("search.html", "genindex.html"):
                continue
            page = visit.open(path.relative_to(site).as_posix())
            if page.locator(".crobook-chart").count():
                chart_marks(page)
            violations = axe.run(page, options=options).response["violations"]
            serious = [(v["id"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]
            if serious:
                found[path.name] = serious
        assert found == {}
