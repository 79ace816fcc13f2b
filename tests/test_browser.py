"""The built website in a real browser (Debian's Chromium driven by Playwright), served from a local server
while every request to anywhere else is blocked and recorded; and text from the data that holds HTML or script
shown as plain text, never run."""

import csv
import functools
import shutil
import subprocess
import threading
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


def chart_marks(page) -> list[int]:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.crobook-chart')].every(c => c.querySelector('svg'))", timeout=20_000
    )
    return page.eval_on_selector_all(".crobook-chart", f"els => els.map(e => e.querySelectorAll('{MARKS}').length)")


def test_every_page_renders_offline_with_charts_and_no_errors(browser, built_site):
    site = built_site.parent
    server = serve(site)
    origin = f"http://127.0.0.1:{server.server_port}/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = sorted(p for p in (built_site / "html").rglob("*.html") if "_static" not in p.parts)
    visit = Visit(browser, origin)
    try:
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
    finally:
        visit.close()
        server.shutdown()


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
    server = serve(site)
    origin = f"http://127.0.0.1:{server.server_port}/"
    visit = Visit(browser, origin)
    try:
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
    finally:
        visit.close()
        server.shutdown()
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


@pytest.mark.parametrize("width", [390, 1280])
def test_charts_and_tables_fit_the_column_or_scroll_in_a_focusable_box(browser, built_site, width):
    site = built_site.parent
    server = serve(site)
    origin = f"http://127.0.0.1:{server.server_port}/"
    visit = Visit(browser, origin)
    visit.page.set_viewport_size({"width": width, "height": 900})
    try:
        for stem in chapters():
            page = visit.open(f"{built_site.name}/html/chapters/{stem}.html")
            if page.locator(".crobook-chart").count():
                chart_marks(page)
            page.wait_for_timeout(400)  # the theme marks scrollable tables focusable after a short delay
            assert page.evaluate(FIT) == [], (stem, width)
            page.screenshot(path=SCREENSHOTS / f"{stem}-{width}.png", full_page=True)
    finally:
        visit.close()
        server.shutdown()


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
    server = serve(site)
    visit = Visit(browser, f"http://127.0.0.1:{server.server_port}/")
    try:
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
    finally:
        visit.close()
        server.shutdown()


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


def test_no_serious_accessibility_violation_on_any_page(browser, built_site):
    """axe-core (shipped by axe-playwright-python) on every page at phone width."""
    from axe_playwright_python.sync_playwright import Axe

    site = built_site.parent
    server = serve(site)
    visit = Visit(browser, f"http://127.0.0.1:{server.server_port}/")
    visit.page.set_viewport_size({"width": 390, "height": 844})
    axe, found = Axe(), {}
    try:
        for path in sorted((built_site / "html").rglob("*.html")):
            if "_static" in path.parts or path.name in ("search.html", "genindex.html"):
                continue
            page = visit.open(path.relative_to(site).as_posix())
            if page.locator(".crobook-chart").count():
                chart_marks(page)
            violations = axe.run(page).response["violations"]
            serious = [(v["id"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]
            if serious:
                found[path.name] = serious
        assert found == {}
    finally:
        visit.close()
        server.shutdown()
