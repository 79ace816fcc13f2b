"""The site: every edition side by side, `latest`, an index, and publishing that is all or nothing.

Layout of a site folder:

    <site>/index.html              list of editions (regenerated on every publish)
    <site>/<edition>/html/         the website of that edition
    <site>/<edition>/book.pdf      its PDF
    <site>/<edition>/manifest.json what it was built from (see `manifest`)
    <site>/<edition>/data/         a copy of its data files, and params.yaml, for later comparisons
    <site>/latest -> <edition>     symbolic link to the newest edition
    <site>/.cache/, .work-*/       build cache and builds in progress (not part of the published site)
"""

from __future__ import annotations

import fcntl
import html
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from crobook.errors import BuildError

EDITION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RESERVED_NAMES = {"latest", "index.html"}
PACKAGES = ("jupyter-book", "sphinx", "myst-nb", "papermill", "pandas", "pandera", "altair", "vl-convert-python")


def check_edition_name(name: str) -> str:
    if not EDITION_NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise BuildError(
            f'edition name "{name}" is not allowed: expected letters, digits, ".", "-" or "_" '
            '(up to 64, starting with a letter or digit), and not "latest"'
        )
    return name


def git_commit(root: Path) -> tuple[str | None, bool]:
    """The commit the source tree is at, and whether it has uncommitted changes (None when not a git checkout)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None, False
    return commit.stdout.strip(), bool(status.stdout.strip())


def package_versions() -> dict[str, str]:
    import altair

    versions = {name: metadata.version(name) for name in PACKAGES}
    versions["vega-lite"] = altair.SCHEMA_VERSION.lstrip("v")
    return versions


def editions(site: Path) -> list[dict]:
    """Manifests of the published editions, oldest first."""
    found = []
    for manifest in site.glob("*/manifest.json"):
        if manifest.parent.name.startswith(".") or manifest.parent.is_symlink():
            continue
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["dir"] = str(manifest.parent)
        found.append(data)
    return sorted(found, key=lambda m: m["built_at"])


def previous(site: Path, name: str) -> dict | None:
    """The newest published edition other than `name`: what an edition named `name` is compared with."""
    others = [m for m in editions(site) if m["edition"] != name]
    return others[-1] if others else None


@contextmanager
def locked(site: Path) -> Iterator[None]:
    """Only one build publishes into a site at a time."""
    site.mkdir(parents=True, exist_ok=True)
    with (site / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _replace_symlink(link: Path, target: str) -> None:
    temporary = link.with_name(f".{link.name}-{uuid.uuid4().hex}")
    temporary.symlink_to(target)
    os.replace(temporary, link)  # atomic: readers see the old or the new edition, never none


FAVICON_SVG = Path(__file__).resolve().parent.parent / "_static" / "favicon.svg"


def write_favicon(folder: Path) -> None:
    """`folder/favicon.ico`, which browsers ask a site's root for whatever the page says: the book's SVG icon as
    a 32-pixel PNG inside an ICO header (one image, 32 bits a pixel)."""
    import struct

    import vl_convert

    png = vl_convert.svg_to_png(FAVICON_SVG.read_text(encoding="utf-8"), scale=1)
    header = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32, len(png), 22)
    (folder / "favicon.ico").write_bytes(header + png)


def write_index(site: Path) -> None:
    rows = []
    for m in reversed(editions(site)):
        name = html.escape(m["edition"])
        claims = ", ".join(f"{html.escape(k)} {html.escape(v)}" for k, v in m.get("claims", {}).items())
        commit = html.escape((m.get("git_commit") or "no git commit")[:10])
        rows.append(
            f'<tr><td><a href="{name}/html/index.html">{name}</a></td><td>{html.escape(m["built_at"])}</td>'
            f"<td><code>{html.escape(m['fingerprint'])}</code></td><td><code>{commit}</code></td>"
            f'<td><a href="{name}/book.pdf">PDF</a></td>'
            f'<td><a href="{name}/html/chapters/changes.html">what changed</a></td><td>{claims}</td></tr>'
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Editions: Biotech and its CROs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;margin:2rem;max-width:72rem}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:.4rem .6rem;text-align:left;vertical-align:top}}</style></head>
<body><h1>Biotech and its CROs: the evidence</h1>
<p>Every edition of the book, newest first. <a href="latest/html/index.html">Read the latest edition</a>.</p>
<table><caption>Editions</caption><thead><tr><th>Edition</th><th>Built (UTC)</th><th>Data and parameters</th>
<th>Commit</th><th>PDF</th><th>Changes</th><th>Claims</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></body></html>
"""
    write_favicon(site)
    temporary = site / f".index-{uuid.uuid4().hex}.html"
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, site / "index.html")


def publish(staged: Path, site: Path, name: str) -> Path:
    """Move a finished edition into the site, point `latest` at it and rewrite the index, under the site lock."""
    with locked(site):
        target = site / name
        trash = site / f".trash-{uuid.uuid4().hex}"
        if target.exists():
            target.rename(trash)
        staged.rename(target)
        _replace_symlink(site / "latest", name)
        write_index(site)
        shutil.rmtree(trash, ignore_errors=True)
    return target


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def citation(edition: str, fingerprint: str, as_of: str, config: Path) -> tuple[str, str]:
    """How to cite one edition: a sentence and a BibTeX entry, both naming the edition and its fingerprint."""
    import yaml

    book = yaml.safe_load(config.read_text(encoding="utf-8"))
    title, author, year = book["title"], book["author"], as_of[:4]
    text = f"{author} ({year}). {title}, edition {edition} (data and parameters {fingerprint}), as of {as_of}."
    key = re.sub(r"\W+", "_", f"crobook {edition}").strip("_")
    bibtex = "\n".join(
        [
            f"@book{{{key},",
            f"  title = {{{title}}},",
            f"  author = {{{{{author}}}}},",
            f"  year = {{{year}}},",
            f"  edition = {{{edition}}},",
            f"  note = {{Data and parameters {fingerprint}; as of {as_of}}},",
            "}",
        ]
    )
    return text, bibtex
