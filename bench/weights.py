"""Weigh every page of a built edition as a phone would load it: Chromium (Debian's) opens each page from a local
server with scripts on, and every byte it fetches is counted; requests that leave the machine are blocked.

Usage: .venv/bin/python bench/weights.py [EDITION_DIR]   (default: _build/site/latest)
Prints a Markdown table (page, requests, kB, whether it draws a chart) for the README.
"""

from __future__ import annotations

import functools
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def weigh(edition: Path) -> list[tuple[str, int, int, bool]]:
    edition = edition.absolute()  # not resolved: an edition's name is a link into the site's _editions/
    site = edition.parent
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}/"
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for page_path in sorted((edition / "html").rglob("*.html")):
            if "_static" in page_path.parts or page_path.name in ("search.html", "genindex.html"):
                continue
            context = browser.new_context(viewport={"width": 390, "height": 844})
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(origin) else r.abort())
            page = context.new_page()
            sizes = []

            def count(request, sizes=sizes):
                try:
                    sizes.append(request.sizes()["responseBodySize"])
                except Exception:  # the page closed before the size was known: nothing more to count
                    pass

            page.on("requestfinished", count)
            rel = page_path.relative_to(site).as_posix()
            page.goto(origin + rel, wait_until="networkidle")
            charts = page.locator(".crobook-chart").count() > 0
            rows.append((page_path.relative_to(edition / "html").as_posix(), len(sizes), sum(sizes) // 1024, charts))
            context.close()
        browser.close()
    server.shutdown()
    return rows


def main() -> None:
    edition = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "site" / "latest"
    print("| page | requests | kB | chart |")
    print("|---|---|---|---|")
    for name, requests, kb, charts in weigh(edition):
        print(f"| `{name}` | {requests} | {kb:,} | {'yes' if charts else 'no'} |")


if __name__ == "__main__":
    main()
