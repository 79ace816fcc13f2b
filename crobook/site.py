"""The site: every edition side by side, `latest`, an index, and publishing that is crash-safe.

Layout of a site folder:

    <site>/_editions/<NNNNNN>-<edition>/   an edition as published, never changed afterwards; NNNNNN is its
                                           publication number (the order of publication)
        html/, book.pdf, data.zip          its website, PDF and data
        manifest.json                      what it was built from (see `crobook.build.manifest`)
        data/                              a copy of its data files and params.yaml, for later comparisons
    <site>/<edition> -> _editions/...      symbolic link: the name of an edition and the folder it means
    <site>/latest -> <edition>             the newest edition that is not a variant
    <site>/index.html                      list of editions, newest first, and the replaced ones
    <site>/.cache/, .work-*/, .lock        build cache, builds in progress and the lock (not part of the site)

Publishing moves a finished edition into `_editions/` and then swaps one symbolic link with os.replace, so at
every instant each edition name means one whole folder. `latest` and the index are derived from the folders
and links alone and rewritten atomically; whatever a crash left behind (a folder no link points to, a stale
index, temporary files, work folders of dead builds) is repaired or removed by `repair` at the start of the
next build.
"""

from __future__ import annotations

import errno
import fcntl
import html
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path

from crobook.errors import BuildError

EDITION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RESERVED_NAMES = {"latest", "index.html"}
STORE = "_editions"  # cannot clash with an edition name, which starts with a letter or digit
FOLDER = re.compile(r"(\d{6})-(.+)")
TEMPORARY = (".index-*", ".link-*", ".trash-*", ".staging-*", ".favicon-*")
PACKAGES = ("jupyter-book", "sphinx", "myst-nb", "papermill", "pandas", "pandera", "altair", "vl-convert-python")


def check_edition_name(name: str) -> str:
    if not EDITION_NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise BuildError(
            f'edition name "{name}" is not allowed: expected letters, digits, ".", "-" or "_" '
            '(up to 64, starting with a letter or digit), and not "latest"'
        )
    return name


def fault(point: str) -> None:
    """A test hook: CROBOOK_FAULT="<point>:<action>" makes the build fail at `point` as if the machine did.

    Actions: `exit` (the process dies at once, as if killed), `enospc` (the disk is full), `pause` (print
    "fault <point>" and wait, for a test to send a signal).
    """
    wanted, _, action = os.environ.get("CROBOOK_FAULT", "").rpartition(":")
    if wanted != point:
        return
    if action == "exit":
        os._exit(137)
    if action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"fault injected at {point}")
    if action == "pause":
        print(f"fault {point}", flush=True)
        while True:
            time.sleep(1)


def git_commit(root: Path) -> tuple[str | None, bool]:
    """The commit the source tree is at, and whether it has uncommitted changes (None when not a git checkout)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None, False
    return commit.stdout.strip(), bool(status.stdout.strip())


@cache
def package_versions() -> dict[str, str]:
    versions = {name: metadata.version(name) for name in PACKAGES}
    versions["vega-lite"] = _vega_lite_version(versions["altair"])
    return versions


def _vega_lite_version(altair_version: str) -> str:
    """The Vega-Lite version Altair writes. Altair's own version fixes it, so the user cache remembers it: importing
    Altair would take 0.2 s of a build's start, before its chapters can run."""
    from crobook.cache import USER_CACHE, write_whole

    remembered = USER_CACHE / f"vega-lite-of-altair-{altair_version}"
    try:
        return remembered.read_text(encoding="utf-8").strip()
    except OSError:
        pass
    import altair

    version = altair.SCHEMA_VERSION.lstrip("v")
    write_whole(remembered, version)
    return version


def _read(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    data["dir"] = str(folder)
    data["id"] = folder.name
    data["sequence"] = int(FOLDER.fullmatch(folder.name).group(1))
    return data


def _folders(site: Path) -> list[Path]:
    store = site / STORE
    found = [p for p in store.iterdir() if FOLDER.fullmatch(p.name) and p.is_dir()] if store.is_dir() else []
    return sorted(found, key=lambda p: p.name)


def _links(site: Path) -> dict[str, Path]:
    """Edition name -> the folder its link points to."""
    links = {}
    for link in site.iterdir() if site.is_dir() else []:
        if link.is_symlink() and link.name not in RESERVED_NAMES and EDITION_NAME.fullmatch(link.name):
            target = os.readlink(link)
            if target.startswith(STORE + "/"):
                links[link.name] = site / target
    return links


def editions(site: Path) -> list[dict]:
    """Manifests of the published editions (the folders their names point to), in order of publication."""
    found = [m for folder in _links(site).values() if (m := _read(folder)) is not None]
    return sorted(found, key=lambda m: m["sequence"])


def replaced(site: Path) -> list[dict]:
    """Manifests of editions replaced on purpose (`--replace`): kept, reachable through the index."""
    current = {folder.name for folder in _links(site).values()}
    return [m for folder in _folders(site) if folder.name not in current and (m := _read(folder)) is not None]


def newest(site: Path) -> dict | None:
    """The edition `latest` means: the last published that is not a variant (or was published with --latest)."""
    eligible = [m for m in editions(site) if m.get("may_be_latest", True)]
    return eligible[-1] if eligible else None


def edition(site: Path, name: str) -> dict | None:
    """The published edition `name` (or the one `latest` means)."""
    if name == "latest":
        return newest(site)
    folder = _links(site).get(name)
    return _read(folder) if folder is not None else None


def edition_folder(site: Path, folder: str) -> dict | None:
    """The edition published in `_editions/<folder>`, even if its name now means a newer one."""
    return _read(site / STORE / folder) if FOLDER.fullmatch(folder) else None


@contextmanager
def locked(path: Path, wait: bool = True) -> Iterator[bool]:
    """An exclusive lock on `path` (created if missing); yields False when `wait` is off and another holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def work_folder_held(work: Path) -> Iterator[None]:
    """Mark a work folder as in use for as long as its build runs (the lock ends with the process, however it
    ends). The lock file gets its name only once locked, so `repair` never sees it unlocked while in use."""
    temporary = work / f".lock-{uuid.uuid4().hex}"
    with temporary.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        os.rename(temporary, work / ".lock")
        yield


FAVICON_SVG = Path(__file__).resolve().parent.parent / "_static" / "favicon.svg"


def write_favicon(folder: Path) -> None:
    """`folder/favicon.ico`, which browsers ask a site's root for whatever the page says: the book's SVG icon as
    a 32-pixel PNG inside an ICO header (one image, 32 bits a pixel)."""
    import struct

    import vl_convert

    png = vl_convert.svg_to_png(FAVICON_SVG.read_text(encoding="utf-8"), scale=1)
    header = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32, len(png), 22)
    temporary = folder / f".favicon-{uuid.uuid4().hex}"
    try:
        temporary.write_bytes(header + png)
        os.replace(temporary, folder / "favicon.ico")  # never a half-written icon
    finally:
        temporary.unlink(missing_ok=True)


def _in_use(work: Path) -> bool:
    try:
        handle = (work / ".lock").open("r")
    except FileNotFoundError:  # not locked yet: a build just made it, unless it is old
        try:
            return time.time() - work.stat().st_mtime < 3600
        except FileNotFoundError:
            return True  # gone already
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


def site_lock(site: Path):
    """Only one build changes the published site at a time."""
    return locked(site / ".lock")


def _write_atomic(path: Path, text: str, fault_point: str = "") -> None:
    """Readers see the old or the new file, never a part; a failure leaves no temporary file."""
    temporary = path.with_name(f".index-{uuid.uuid4().hex}")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            fault(fault_point)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _sync_dir(path.parent)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point(link: Path, target: str) -> None:
    """Point a symbolic link at `target` atomically: readers see the old or the new target, never none."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    temporary = link.with_name(f".link-{uuid.uuid4().hex}")
    try:
        temporary.symlink_to(target)
        os.replace(temporary, link)
    finally:
        temporary.unlink(missing_ok=True)
    _sync_dir(link.parent)


def _commit_cell(m: dict) -> str:
    commit = html.escape((m.get("git_commit") or "no git commit")[:10])
    dirty = " <strong>+ uncommitted changes</strong>" if m.get("git_dirty") else ""
    return f"<code>{commit}</code>{dirty}"


def _when(m: dict) -> str:
    return html.escape((m.get("published_at") or m["built_at"])[:19].replace("T", " "))


def index_page(site: Path) -> str:
    latest = newest(site)
    rows = []
    for m in reversed(editions(site)):
        name = html.escape(m["edition"])
        marks = []
        if latest and m["id"] == latest["id"]:
            marks.append("latest")
        if m.get("variant"):
            marks.append("variant")
        label = f" ({', '.join(marks)})" if marks else ""
        claims = ", ".join(f"{html.escape(k)} {html.escape(v)}" for k, v in m.get("claims", {}).items())
        rows.append(
            f'<tr><td><a href="{name}/html/index.html">{name}</a>{label}</td><td>{_when(m)}</td>'
            f"<td><code>{html.escape(m['fingerprint'])}</code></td><td>{_commit_cell(m)}</td>"
            f'<td><a href="{name}/book.pdf">PDF</a></td>'
            f'<td><a href="{name}/html/chapters/changes.html">what changed</a></td><td>{claims}</td></tr>'
        )
    old = [
        f'<li><a href="{STORE}/{html.escape(m["id"])}/html/index.html">{html.escape(m["edition"])}</a>, '
        f"published {_when(m)}, data and parameters <code>{html.escape(m['fingerprint'])}</code>: replaced</li>"
        for m in reversed(replaced(site))
    ]
    history = f"<h2>Replaced editions</h2><ul>{''.join(old)}</ul>" if old else ""
    reading = '<a href="latest/html/index.html">Read the latest edition</a>.' if latest else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Editions: Biotech and its CROs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;margin:2rem;max-width:72rem}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:.4rem .6rem;text-align:left;vertical-align:top}}</style></head>
<body><h1>Biotech and its CROs: the evidence</h1>
<p>Every edition of the book, newest first. {reading}</p>
<table><caption>Editions</caption><thead><tr><th>Edition</th><th>Published (UTC)</th><th>Data and parameters</th>
<th>Commit</th><th>PDF</th><th>Changes</th><th>Claims</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>{history}</body></html>
"""


def point_latest(site: Path) -> None:
    latest = newest(site)
    if latest is not None:
        _point(site / "latest", latest["edition"])


def write_index(site: Path, fault_point: str = "") -> None:
    """Rewrite the index from the published editions, only if it changed."""
    page = index_page(site)
    index = site / "index.html"
    if not index.is_file() or index.read_text(encoding="utf-8") != page:
        _write_atomic(index, page, fault_point)
    if not (site / "favicon.ico").is_file():
        write_favicon(site)


def _migrate(site: Path) -> None:
    """Sites from before `_editions/`: move each edition folder there and leave a link in its place."""
    legacy = []
    for folder in site.iterdir():
        if folder.is_dir() and not folder.is_symlink() and EDITION_NAME.fullmatch(folder.name):
            if (manifest := folder / "manifest.json").is_file():
                legacy.append((json.loads(manifest.read_text(encoding="utf-8")).get("built_at", ""), folder))
    for _, folder in sorted(legacy):
        target = f"{STORE}/{_next_number(site):06d}-{folder.name}"
        (site / STORE).mkdir(exist_ok=True)
        folder.rename(site / target)
        _point(site / folder.name, target)


def _next_number(site: Path) -> int:
    folders = _folders(site)
    return int(FOLDER.fullmatch(folders[-1].name).group(1)) + 1 if folders else 1


def repair(site: Path) -> None:
    """Finish what a crashed or killed build left (call under the site lock): drop folders no link took up,
    temporary files and the work folders of builds no longer running; bring `latest` and the index up to date."""
    if not site.is_dir():
        return
    _migrate(site)
    links = _links(site)
    numbers = {name: int(FOLDER.fullmatch(folder.name).group(1)) for name, folder in links.items()}
    for folder in _folders(site):
        number, name = FOLDER.fullmatch(folder.name).groups()
        if int(number) > numbers.get(name, 0):  # moved in, but its link was never swapped: not published
            shutil.rmtree(folder, ignore_errors=True)
    for pattern in TEMPORARY:
        for path in [*site.glob(pattern), *site.glob(f"{STORE}/{pattern}")]:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() and not path.is_symlink() else path.unlink()
    for work in site.glob(".work-*"):
        if not _in_use(work):
            shutil.rmtree(work, ignore_errors=True)
    if links or (site / "index.html").exists():
        write_index(site)
        point_latest(site)


def same_inputs(published: dict, inputs: str) -> bool:
    return published.get("inputs") == inputs


def publish(staged: Path, site: Path, name: str, replace: bool = False, may_be_latest: bool = True) -> Path:
    """Move a finished edition into the site and link its name to it; point `latest` and rewrite the index.

    An edition of the same name built from other inputs is replaced only with `replace`; it stays in
    `_editions/` and the index lists it as replaced.
    """
    with site_lock(site):
        repair(site)
        manifest_path = staged / "manifest.json"
        record = json.loads(manifest_path.read_text(encoding="utf-8"))
        current = edition(site, name)
        if current is not None and not replace and not same_inputs(current, record["inputs"]):
            raise BuildError(refusal(name))
        # The order of publication, to the microsecond; `_editions/NNNNNN-` numbers it too
        record["published_at"] = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        record["may_be_latest"] = may_be_latest
        manifest_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        fault("publish:before-move")
        (site / STORE).mkdir(exist_ok=True)
        folder = f"{STORE}/{_next_number(site):06d}-{name}"
        staged.rename(site / folder)
        try:
            _sync_dir(site / STORE)
            fault("publish:after-move")
            _point(site / name, folder)  # the moment of publication
        except BaseException:
            link = site / name
            if not (link.is_symlink() and os.readlink(link) == folder):  # not published: leave the site as it was
                shutil.rmtree(site / folder, ignore_errors=True)
            raise
        try:
            fault("publish:after-link")
            # The index first: after a crash here it lists every published edition; `latest` follows at once
            write_index(site, "publish:writing-index")
            fault("publish:after-index")
            point_latest(site)
            fault("publish:after-latest")
        except OSError as err:
            raise BuildError(
                f"edition {name} is published, but latest and the index could not be updated "
                f"({describe(err)}); the next build repairs them",
                site_untouched=False,
            ) from None
    return site / name


def refusal(name: str) -> str:
    return (
        f"edition {name} is already published from other inputs, and an edition name always means the same "
        f"inputs: build a new edition (leave out --edition for a name made from the data, or give another "
        f"--edition NAME), or replace {name} on purpose with --replace (the old one stays in the index)"
    )


def describe(err: OSError) -> str:
    """An OSError in words, with what to do about it."""
    where = f" ({err.filename})" if err.filename else ""
    if err.errno == errno.ENOSPC:
        return f"no space left on the device{where}: free some space and build again"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write{where}: {err.strerror}; make the folder writable or choose another with --site"
    return f"{err.strerror or err}{where}"


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
