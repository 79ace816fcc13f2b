"""Lighthouse scores of every page of a built edition, served locally the way a web host would (gzip).

Needs Node and Lighthouse (`npm install lighthouse@12` in a folder of your choice; pass its path with
LIGHTHOUSE=/that/folder/node_modules/.bin/lighthouse) and Debian's Chromium. Mobile preset (Lighthouse's
default: a throttled mid-range phone).

Usage: LIGHTHOUSE=... .venv/bin/python bench/lighthouse.py [EDITION_DIR]   (default: _build/site/latest)
Prints a Markdown table: page, performance, accessibility, first contentful paint, transferred kB.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPRESSED = (".html", ".js", ".css", ".svg", ".json", ".csv")


class Gzipped(SimpleHTTPRequestHandler):
    """Serves text files gzipped, and keeps connections open (HTTP/1.1), as a web host would."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix not in COMPRESSED or not path.is_file() or "gzip" not in self.headers.get("Accept-Encoding", ""):
            return super().do_GET()
        body = gzip.compress(path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def score(lighthouse: str, url: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        subprocess.run(
            [
                lighthouse,
                url,
                "--quiet",
                "--only-categories=performance,accessibility",
                "--chrome-flags=--headless=new --no-sandbox",
                "--output=json",
                f"--output-path={out}",
            ],
            check=True,
            env=os.environ | {"CHROME_PATH": "/usr/bin/chromium"},
        )
        report = json.loads(out.read_text(encoding="utf-8"))
    audits = report["audits"]
    return {
        "performance": round(100 * report["categories"]["performance"]["score"]),
        "accessibility": round(100 * report["categories"]["accessibility"]["score"]),
        "fcp": audits["first-contentful-paint"]["displayValue"],
        "kb": round(audits["total-byte-weight"]["numericValue"] / 1024),
    }


def main() -> None:
    edition = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "site" / "latest"
    edition = edition.absolute()  # not resolved: an edition's name is a link into the site's _editions/
    lighthouse = os.environ.get("LIGHTHOUSE", "lighthouse")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Gzipped, directory=str(edition.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("| page | performance | accessibility | first contentful paint | kB transferred |")
    print("|---|---|---|---|---|")
    for page in sorted((edition / "html" / "chapters").glob("*.html")):
        url = f"http://127.0.0.1:{server.server_port}/{edition.name}/html/chapters/{page.name}"
        f = score(lighthouse, url)
        print(f"| `{page.stem}` | {f['performance']} | {f['accessibility']} | {f['fcp']} | {f['kb']:,} |")
    server.shutdown()


if __name__ == "__main__":
    main()
