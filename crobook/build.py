"""Build an edition: validate, run the chapters that need it, build the website and the PDF, publish.

Chapters are MyST-markdown notebooks in `chapters/`. Each build works in a folder of its own inside the site
(`<site>/.work-*`): chapters are executed there by papermill, in warm kernels (see `crobook.kernel`), or restored
from the cache when nothing they depend on changed. Sphinx builds HTML and LaTeX/PDF side by side, with every
warning an error, in the site's kept folder (`<site>/.cache/.sphinx`, see `sphinx_folder`), where it re-reads
only the pages whose notebooks changed; only a whole, successful edition is moved into the site (see
`crobook.site`). Nothing in the source tree is written.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import html
import itertools
import json
import math
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from urllib.parse import quote

import yaml

from crobook import __version__, quick, site, webpages
from crobook.cache import (
    USER_CACHE,
    ChapterCache,
    assessed,
    chapter_key,
    code_digest,
    file_digest,
    folder_digest,
    prune,
    write_whole,
)
from crobook.claims import assess, ledger_json, ledger_table, summary
from crobook.data import CHAPTERS_DIR as CHAPTERS_DIR
from crobook.data import CHART_CACHE_ENV, EVIDENCE_ENV, RECORD_ENV, Evidence
from crobook.errors import BuildError, ChapterFailed
from crobook.kernel import run_chapter, start_pool, stop_pool
from crobook.params import DEFAULT_PARAMS, declared, load_inputs, with_defaults
from crobook.params import chapters as chapters
from crobook.schema import TABLES
from crobook.sphinx_ahead import request as sphinx_request
from crobook.tex import MISSING, fill_in, first_pass, latex_pdf
from crobook.tools import finish_tool, run, start_tool, stop_tool, stop_tools, tool_failure

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SITE = ROOT / "_build" / "site"
BIN = Path(sys.executable).parent


@dataclass
class Edition:
    name: str
    fingerprint: str
    as_of: date  # the date the edition speaks for; also the date on its title page


def log(message: str) -> None:
    print(message, flush=True)


def step(name: str, since: float) -> float:
    """Log a finished step with its time; returns now, the start of the next step."""
    now = time.perf_counter()
    log(f"  {name}: {now - since:.1f} s")
    return now


@cache
def _declared(source: Path, digest: str) -> frozenset[str]:
    return frozenset(declared(source))


def declared_names(source: Path) -> frozenset[str]:
    return _declared(source, file_digest(source))


def data_digests(data_dir: Path) -> dict[str, str]:
    return {table.file: file_digest(data_dir / table.file) for table in TABLES.values()}


def fingerprint(evidence: Evidence, params: dict) -> str:
    """Short digest of the data files and parameters: what a reader compares to know two copies agree."""
    digest = hashlib.sha256()
    for name, value in sorted(data_digests(evidence.data_dir).items()):
        digest.update(f"{name}\0{value}\0".encode())
    digest.update(json.dumps(params, sort_keys=True).encode())
    return digest.hexdigest()[:10]


def default_name(fingerprint: str, as_of: date, site_dir: Path | None = None) -> str:
    """`<version>-<as-of date>-<fingerprint>`: new data or parameters give a new edition name. In `site_dir`,
    the first of that name, `<name>-2`, `<name>-3`… that is free or was built from the same inputs: a change of
    code alone gives a new edition too, never a refusal."""
    base = f"{__version__}-{as_of.isoformat()}-{fingerprint}"
    for number in itertools.count(1):
        name = base if number == 1 else f"{base}-{number}"
        existing = site.edition(site_dir, name) if site_dir is not None else None
        if existing is None or site.same_inputs(existing, inputs_digest(Edition(name, fingerprint, as_of))):
            return name
    raise AssertionError("unreachable")


def inputs_digest(edition: Edition) -> str:
    """What an edition name promises: its data and parameters, code, chapters and book configuration.

    The previous edition (what the What changed page compares with) is not part of it: rebuilding an edition
    after a newer one was published gives the same edition."""
    digest = hashlib.sha256()
    digest.update(f"{edition.name}\0{edition.fingerprint}\0{code_digest()}\0".encode())
    for path in [*chapters().values(), ROOT / "_config.yml", ROOT / "_toc.yml"]:
        digest.update(f"{path.name}\0{file_digest(path)}\0".encode())
    digest.update(folder_digest(ROOT / "_static").encode() + folder_digest(ROOT / "_templates").encode())
    return digest.hexdigest()


def describe_reads(reads: list[str]) -> str:
    """'observations.csv (4 series), sources.csv': whole files by name, row-by-row reads by how many keys."""
    keyed: dict[str, int] = {}
    for item in reads:
        name, _, key = item.partition(":")
        keyed[name] = keyed.get(name, 0) + (1 if key else 0)
    whole = {item for item in reads if ":" not in item}
    kinds = {"observations.csv": "series", "series.csv": "series", "sources.csv": "sources"}
    return (
        ", ".join(
            name if name in whole else f"{name} ({count} {kinds.get(name, 'claims')})"
            for name, count in sorted(keyed.items())
        )
        or "no data"
    )


def _ignore_signals() -> None:
    """Once a build is stopping, a second Ctrl-C or SIGTERM must not interrupt the clean-up."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done (then stop the build as usual)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def handed_to_chapters(evidence: Evidence, as_of: date, previous_dir: str = "", manifest_path: str = "") -> dict:
    """The parameters the build hands to the chapters that declare them (see params.RESERVED). Without an
    edition (a single run, the preview) there is no previous edition and no manifest.

    The views folder is named relative to the folder the chapters run in (`execute_chapters`), and so should the
    manifest be: a path into a build's own temporary folder would differ in every run of a page that declares
    it, and Sphinx would read that page again although it shows the same."""
    return {
        "data_dir": str(evidence.data_dir),
        "views_dir": "views",
        "previous_dir": previous_dir,
        "manifest_path": manifest_path,
        "as_of": as_of.isoformat(),
        "book": evidence.book,
    }


@contextmanager
def _handed_to_kernels(evidence: Evidence, out_dir: Path, chapter_cache: ChapterCache) -> Iterator[dict[str, str]]:
    """While chapters run, their kernels find the validated evidence (a pickle, see crobook.page.load) and the
    chart cache through these environment variables."""
    handed_file = out_dir / ".evidence.pickle"
    out_dir.mkdir(parents=True, exist_ok=True)
    handed_file.write_bytes(pickle.dumps(evidence))
    try:
        yield {EVIDENCE_ENV: str(handed_file), CHART_CACHE_ENV: str(chapter_cache.root / "charts")}
    finally:
        handed_file.unlink(missing_ok=True)


def execute_chapters(
    sources: dict[str, Path],
    out_dir: Path,
    params: dict[str, dict],
    handed: dict[str, str],
    handed_digests: dict[str, str],
    evidence: Evidence,
    chapter_cache: ChapterCache,
    force: bool,
    pool: ProcessPoolExecutor | None = None,
    keep_pool: bool = False,
) -> int:
    """Run the chapters whose inputs changed (all with `force`), in parallel; restore the others from the cache.

    Pages that read the other chapters' views (they declare `views_dir`) run after them. The chapters get the
    validated `evidence` as a pickle (see crobook.page.load). They run in `pool` (see `start_pool`; a new one by
    default), which is stopped when they are done unless `keep_pool` (the preview keeps its kernels warm between
    edits); a failed chapter stops it in any case. Returns how many chapters were executed.
    """
    pool = pool or start_pool(len(sources))
    with _handed_to_kernels(evidence, out_dir, chapter_cache) as environ:
        args = (sources, out_dir, params, handed, handed_digests, evidence.data_dir, chapter_cache, force)
        return _run_waves(*args, pool, environ, keep_pool)


def _run_waves(
    sources, out_dir, params, handed, handed_digests, data_dir, chapter_cache, force, pool, environ, keep_pool
) -> int:
    # Arguments as execute_chapters documents them (typed there), with the evidence's data folder and what the
    # kernels find in their environment.
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "views").mkdir(exist_ok=True)
    late = {stem for stem, src in sources.items() if "views_dir" in declared_names(src)}
    waves = [longest_first([s for s in sources if s not in late]), sorted(late)]
    done = executed = 0
    run_times = {}
    try:
        for wave in waves:
            if wave and wave[0] in late:
                handed_digests = handed_digests | {"views_dir": folder_digest(out_dir / "views")}
            jobs = {}
            for stem in wave:
                names = declared_names(sources[stem])
                given = {k: v for k, v in handed.items() if k in names or k == "data_dir"}
                hashed = {k: v for k, v in handed_digests.items() if k in names}
                site.fault("chapters")
                reads = chapter_cache.reads(stem)
                if reads is not None and not force:
                    key = chapter_key(sources[stem], params.get(stem, {}), reads, data_dir, hashed)
                    if chapter_cache.restore(stem, key, out_dir):
                        done += 1
                        log(f"  [{done}/{len(sources)}] {stem}: unchanged, reused")
                        continue
                record = out_dir / f".{stem}.record.json"
                parameters = {**given, **params.get(stem, {})}
                job = pool.submit(
                    run_chapter,
                    sources[stem],
                    out_dir / f"{stem}.ipynb",
                    parameters,
                    environ | {RECORD_ENV: str(record)},
                )
                jobs[job] = (stem, hashed, record)
            for job in as_completed(jobs):
                stem, hashed, record = jobs[job]
                done, executed = done + 1, executed + 1
                try:
                    seconds = run_times[stem] = job.result()
                except ChapterFailed as err:
                    raise BuildError(f"chapter {stem} failed in cell {err.cell}: {err.name}: {err.message}") from None
                found = json.loads(record.read_text(encoding="utf-8")) if record.exists() else {}
                record.unlink(missing_ok=True)
                reads, views = found.get("reads", []), found.get("views", [])
                key = chapter_key(sources[stem], params.get(stem, {}), reads, data_dir, hashed)
                chapter_cache.store(stem, key, out_dir, reads, views, found.get("files", []))
                log(f"  [{done}/{len(sources)}] {stem}: ran in {seconds:.1f} s (reads {describe_reads(reads)})")
    except BaseException as err:
        # An interrupt or a failed chapter: kill the chapters running now with their kernels and drop the
        # ones not yet started, rather than run them all first.
        if isinstance(err, KeyboardInterrupt):
            _ignore_signals()
        stop_pool(pool, kill=True)
        raise
    if not keep_pool:
        stop_pool(pool)
    remember_run_times(run_times)
    return executed


# The last run time of each chapter, kept in the user's cache folder: the order chapters start in, never what
# they produce.
RUN_TIMES = USER_CACHE / "run-times.json"


def _run_times() -> dict[str, float]:
    try:
        return json.loads(RUN_TIMES.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def longest_first(stems: list[str]) -> list[str]:
    """Chapters by their last run time, longest first and never-run ones before all: started last, a long
    chapter would keep one worker busy while the others idle at the end."""
    times = _run_times()
    return sorted(stems, key=lambda stem: -times.get(stem, math.inf))


def remember_run_times(seconds: dict[str, float]) -> None:
    write_whole(RUN_TIMES, json.dumps(_run_times() | seconds, sort_keys=True))


# Appended to the conf.py that `jupyter-book config sphinx` generates. sphinx-thebe and sphinx-comments
# put CDN addresses on every page (this book runs no live code and takes no comments).
CONF_OVERRIDES = """
# --- crobook overrides ---
# The book uses no copy buttons (no code is shown), no toggles and no design components: their scripts and
# stylesheets would only weigh on every page.
unused = ("sphinx_thebe", "sphinx_comments", "sphinx_copybutton", "sphinx_togglebutton", "sphinx_design")
extensions = [e for e in extensions if e not in unused]
extensions += ["crobook.sphinx_pdf", "crobook.sphinx_html"]
# jupyter-book loads every script of _static on every page; Vega goes only where a chart is (crobook.sphinx_html).
html_js_files = [f for f in html_js_files if f != "vega-bundle.js"]
html_css_files = list(dict.fromkeys(html_css_files))
templates_path = ["_templates"]
html_theme_options["footer_content_items"] = ["author.html", "copyright.html", "crobook-editions.html"]
html_context = {{
    "default_mode": "light",
    "crobook_edition": {name!r},
    "crobook_fingerprint": {fingerprint!r},
}}
project = html_title
latex_documents = [({root!r}, "book.tex", project, author, "manual")]
html_copy_source = False  # the executed notebooks hold build paths and times; the chapters' sources are in git
today = {today!r}
"""


TOOLS = {
    "xelatex": "the PDF needs TeX",
    "xdvipdfmx": "the PDF needs TeX",
}


def check_tools() -> None:
    """Fail before any work when a program the build runs is missing."""
    for tool, why in TOOLS.items():
        if shutil.which(tool) is None:
            raise BuildError(
                f"{tool} is not on PATH ({why}): install the Debian TeX packages with `make tex` "
                "(texlive-xetex and the others listed in the Makefile), or add their folder to PATH"
            )


def stage(work: Path, edition: Edition) -> Path:
    """Copy the book's configuration into the work folder, with the edition written in."""
    src = work / "src"
    src.mkdir(parents=True)
    shutil.copy(ROOT / "_toc.yml", src / "_toc.yml")
    shutil.copytree(ROOT / "_static", src / "_static")
    shutil.copytree(ROOT / "_templates", src / "_templates")
    webpages.write_vega_bundle(src / "_static")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx_config["version"] = sphinx_config["release"] = f"{edition.name} (data and parameters {edition.fingerprint})"
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    run([str(BIN / "jupyter-book"), "config", "sphinx", str(src)], "jupyter-book config")
    root = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
    overrides = CONF_OVERRIDES.format(
        root=root,
        name=edition.name,
        fingerprint=edition.fingerprint,
        today=edition.as_of.strftime("%d %B %Y").lstrip("0"),
    )
    with (src / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write(overrides)
    return src


def sphinx_ahead() -> subprocess.Popen:
    """A process that imports Sphinx and the book's extensions now, then runs the Sphinx builds it is asked for
    (`website_and_pdf`), each in a process forked from it (crobook.sphinx_ahead)."""
    return start_tool([sys.executable, "-m", "crobook.sphinx_ahead"], stdin=subprocess.PIPE)


def website_and_pdf(built: Path, src: Path, edition: Edition, ahead: subprocess.Popen, **then) -> None:
    """Sphinx's HTML build beside its LaTeX build and TeX, into `built`/html and `built`/latex, both run by
    `ahead` (from `sphinx_ahead`); `then`: what else to do meanwhile, by name (`website`: after the HTML build;
    any other: at once)."""
    after_html = then.pop("website", None)
    first = first_pass(built / "latex" / "latex")
    builds = {}
    for builder in ("html", "latex"):
        status = built / f".{builder}.status"
        status.unlink(missing_ok=True)
        arguments = ["-M", builder, str(src), str(built / builder), "-W", "-n", "--keep-going", "-q"]
        builds[builder] = {"arguments": arguments, "output": str(built / f".{builder}.output"), "status": str(status)}
    # While that first TeX pass reads its preamble beside the LaTeX build, the website's build yields to both: it
    # is the shorter of the two.
    builds["html"]["nicer"] = 9 if first else 0
    ahead.stdin.write(sphinx_request(*builds.values()))
    ahead.stdin.flush()  # left open: `finish_tool` closes it
    asked = time.perf_counter()

    def website() -> None:
        sphinx_done(ahead, "html", builds["html"], asked)
        if after_html:
            after_html()

    def pdf() -> None:
        sphinx_done(ahead, "latex", builds["latex"], asked)
        tex_pdf(built / "latex" / "latex", edition, first)

    threads = ThreadPoolExecutor(max_workers=2 + len(then))
    try:
        jobs = [threads.submit(website), threads.submit(pdf)] + [threads.submit(task) for task in then.values()]
        for job in jobs:
            job.result()
        finish_tool(ahead, "sphinx-build")
    except BaseException as err:
        if isinstance(err, KeyboardInterrupt):
            _ignore_signals()
        stop_tools()  # the other of the two would otherwise run on to its end
        raise
    finally:
        threads.shutdown(wait=True, cancel_futures=True)


def sphinx_done(ahead: subprocess.Popen, builder: str, build: dict, asked: float) -> None:
    """Wait for one of the builds asked of `ahead`; BuildError if it failed, with what Sphinx said."""
    status = Path(build["status"])
    while not status.is_file():
        if ahead.poll() is not None and not status.is_file():  # stopped: its builds with it
            raise BuildError(f"sphinx-build {builder} was stopped")
        time.sleep(0.02)
    if status.read_text(encoding="utf-8") != "0":
        output = Path(build["output"]).read_text(encoding="utf-8", errors="replace")
        raise BuildError(tool_failure(f"sphinx-build {builder}", output))
    log(f"  Sphinx {builder}: {time.perf_counter() - asked:.1f} s")


def tex_pdf(folder: Path, edition: Edition, first: tuple[str, subprocess.Popen] | None) -> None:
    """TeX over the book.tex Sphinx wrote in `folder`, its first pass waiting in `first` if given."""
    tex = folder / "book.tex"
    tex.write_text(fill_in_latex(tex.read_text(encoding="utf-8"), edition), encoding="utf-8")
    t = time.perf_counter()
    passes, ahead_passes = latex_pdf(folder, edition.as_of, first)
    how = f" ({ahead_passes} of them with the preamble read ahead)" if ahead_passes else ""
    log(f"  TeX: xelatex ran {passes} time(s){how}, then xdvipdfmx: {time.perf_counter() - t:.1f} s")


# Stand-ins for what differs between editions built from one Sphinx source (`sphinx_source`): Sphinx sees the
# same configuration for every edition, so it re-reads only the pages whose notebooks changed, and the edition's
# name, fingerprint and links to the others are written into its website and LaTeX afterwards. Lower-case
# letters only: nothing escapes or splits them.
EDITION_TOKEN = "crobookeditionnamehere"
FINGERPRINT_TOKEN = "crobookeditionfingerprinthere"
OTHERS_MARK = re.compile(r"<!--crobook-others (.*?)-->")  # written by _templates/crobook-editions.html


def fill_in_latex(text: str, edition: Edition) -> str:
    # Of the characters an edition name may hold (letters, digits, ".", "-", "_"), only "_" means something to TeX.
    name, fingerprint = (value.replace("_", r"\_") for value in (edition.name, edition.fingerprint))
    return fill_in(text, {EDITION_TOKEN: name, FINGERPRINT_TOKEN: fingerprint})


def fill_in_website(html_dir: Path, edition: Edition, others: list[str]) -> None:
    """Write the edition's name and fingerprint, and the footer's links to the other editions, into its pages."""

    def links(mark: re.Match) -> str:
        root = mark.group(1)
        named = [f'<a href="{root}{quote(n)}/html/index.html">{html.escape(n)}</a>' for n in others]
        return " · other editions:\n  " + ", ".join(named) if named else ""

    for path in html_dir.rglob("*"):
        if path.suffix not in (".html", ".js", ".inv") or not path.is_file():
            continue
        data = path.read_bytes()
        filled = data.replace(EDITION_TOKEN.encode(), edition.name.encode())
        filled = filled.replace(FINGERPRINT_TOKEN.encode(), edition.fingerprint.encode())
        if path.suffix == ".html":
            filled = OTHERS_MARK.sub(links, filled.decode("utf-8")).encode("utf-8")
        if filled != data:
            path.write_bytes(filled)


def copy_if_changed(source: Path, target: Path) -> bool:
    """Copy a file unless the target already holds the same bytes (its time stays, so Sphinx skips it)."""
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return True


def mirror(source: Path, target: Path, keep: tuple[str, ...] = ()) -> int:
    """Make `target` hold the files of `source` (changed ones copied, vanished ones removed, except under the
    folders `keep`); count the changes."""
    changed = 0
    for path in source.rglob("*"):
        if path.is_file():
            changed += copy_if_changed(path, target / path.relative_to(source))
    for path in list(target.rglob("*")) if target.is_dir() else []:
        relative = path.relative_to(target)
        if any(relative.is_relative_to(folder) for folder in keep):
            continue
        if path.is_file() and not (source / relative).exists():
            path.unlink()
            changed += 1
    return changed


def sphinx_source(folder: Path, edition: Edition) -> Path:
    """`folder/src`: the Sphinx source of `edition` (its chapters come from `take_chapters`).

    Staging runs jupyter-book (about 2 s), so it is kept and done again only when the book's configuration, the
    package or the as-of date changed; then everything Sphinx built in `folder` goes too, because Sphinx notices
    neither a changed extension nor a changed template of pages it does not re-read."""
    src, marker = folder / "src", folder / "source.digest"
    parts = [file_digest(ROOT / "_config.yml"), file_digest(ROOT / "_toc.yml"), code_digest()]
    parts += [folder_digest(ROOT / "_static"), folder_digest(ROOT / "_templates"), edition.as_of.isoformat()]
    parts += [edition.name, edition.fingerprint]
    digest = "\0".join(parts)
    if marker.is_file() and marker.read_text(encoding="utf-8") == digest:
        return src
    for path in folder.iterdir() if folder.is_dir() else []:
        if path.name not in (".cache", BUILDING):  # a preview's chapter cache; the mark of a build under way
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.move(stage(Path(tmp), edition), src)
    marker.write_text(digest, encoding="utf-8")
    return src


def take_chapters(run_dir: Path, src: Path, stems: list[str]) -> int:
    """Bring the executed chapters and their views from `run_dir` into the Sphinx source `src`, touching only
    files that changed; returns how many did."""
    chapters_dir = src / "chapters"
    changed = sum(copy_if_changed(run_dir / f"{s}.ipynb", chapters_dir / f"{s}.ipynb") for s in stems)
    for stale in chapters_dir.glob("*.ipynb") if chapters_dir.is_dir() else []:
        if stale.stem not in stems:  # a chapter taken out of the book
            stale.unlink()
            changed += 1
    changed += mirror(run_dir / "views", chapters_dir / "views")
    changed += mirror(run_dir / "views" / "charts", src / "_static" / "charts")
    return changed


def drop_stale_outputs(built: Path, stems: list[str]) -> None:
    """Sphinx copies every download, static file and LaTeX image again on each build that writes a page, but
    never removes what no page uses any more (an earlier edition's data and charts); drop those first, so an
    edition holds its own."""
    website = built / "html" / "html"
    for folder in (website / "_downloads", website / "_static" / "charts"):
        shutil.rmtree(folder, ignore_errors=True)
    # myst-nb writes its stylesheet when the build finishes; found there already, Sphinx would stamp its links
    # with a checksum that a build in a fresh folder does not give (the same inputs must give the same pages).
    for sheet in (website / "_static").glob("mystnb.*.css"):
        sheet.unlink()
    for page in (website / "chapters").glob("*.html"):
        if page.stem not in stems:  # a chapter taken out of the book
            page.unlink()
    for image in (built / "latex" / "latex").glob("*.pdf"):
        if image.name != "book.pdf":
            image.unlink()


BUILDING = ".building"  # in the kept Sphinx folder while a build uses it


@contextmanager
def sphinx_folder(site_dir: Path, work: Path) -> Iterator[Path]:
    """Where Sphinx builds: the site's kept folder, where it re-reads only the pages that changed since the last
    build and TeX starts from the last cross-references; or, while another build holds that, a fresh folder in
    `work`. A failed build empties the kept folder: Sphinx would not repeat the warnings of pages it skips. So
    does the next build after one that was killed outright (its mark is still there): it may have left files
    half written (a TeX .aux file, a doctree)."""
    kept = site_dir / ".cache" / ".sphinx"
    kept.parent.mkdir(parents=True, exist_ok=True)
    with (kept.parent / ".sphinx.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield work / "sphinx"
            return
        if (kept / BUILDING).exists():
            shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True, exist_ok=True)
        (kept / BUILDING).touch()
        try:
            yield kept
        except BaseException:
            shutil.rmtree(kept, ignore_errors=True)
            raise
        (kept / BUILDING).unlink()


def manifest(
    edition: Edition, evidence: Evidence, params: dict, ledger, previous: dict | None, variant: bool = False
) -> dict:
    commit, dirty = site.git_commit(ROOT)
    return {
        "edition": edition.name,
        "built_at": site.now(),
        "git_commit": commit,
        "git_dirty": dirty,
        "fingerprint": edition.fingerprint,
        "inputs": inputs_digest(edition),
        "variant": variant,
        "previous": previous["edition"] if previous else None,
        "previous_id": previous["id"] if previous else None,  # its folder: the name may be replaced later
        "parameters": params,
        "data": data_digests(evidence.data_dir),
        "claims": dict(zip(ledger["claim_id"], ledger["status"], strict=True)),
        "certainty": dict(zip(ledger["claim_id"], ledger["certainty"], strict=True)),
        "packages": site.package_versions(),
    }


def missing_glyphs(log: Path, data_dir: Path) -> None:
    """Fail the build when TeX found a character that no font of the PDF has (it would print as an empty box),
    naming the data file, row and column that hold it."""
    found = {
        char: (code, font) for char, code, font in MISSING.findall(log.read_text(encoding="utf-8", errors="replace"))
    }
    if not found:
        return
    lines = []
    for table in TABLES.values():
        path = data_dir / table.file
        if not path.is_file():
            continue
        with path.open(encoding="utf-8-sig", newline="") as f:
            for row, cells in enumerate(csv.DictReader(f), start=1):
                for column, text in cells.items():
                    for char in sorted(set(text or "") & set(found)):
                        code, font = found[char]
                        lines.append(
                            f'{path}, row {row} (line {row + 1}), column "{column}": character {char} (U+{code}) '
                            f"has no glyph in the PDF's fonts ({font} and the CJK and symbol fallbacks); "
                            "expected text the PDF can print"
                        )
    if not lines:
        lines = [
            f"character {c} (U+{code}) has no glyph in the PDF's fonts ({font})" for c, (code, font) in found.items()
        ]
    raise BuildError("the PDF would print empty boxes:\n" + "\n".join(lines))


def root_page(path: Path, edition: str, fingerprint: str) -> None:
    """The website's index.html: Jupyter Book writes a bare redirect; readers and crawlers get a real page that
    says what the book is and links its first page (and still forwards there)."""
    target = re.search(r'url=([^"]+)"', path.read_text(encoding="utf-8")).group(1)
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    title = html.escape(f"{config['title']}, edition {edition}")
    path.write_text(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="description" content="{title}: an industry article\'s claims about biotech companies and '
        'contract research organisations, each set against public evidence and graded.">\n'
        '<link rel="icon" href="_static/favicon.svg">\n'
        f'<meta http-equiv="refresh" content="0; url={html.escape(target)}">\n</head>\n<body>\n'
        f'<h1>{title}</h1>\n<p><a href="{html.escape(target)}">Open the book</a> · <a href="../book.pdf">PDF</a> · '
        '<a href="../data.zip">data (ZIP)</a></p>\n'
        f"<p>Edition {html.escape(edition)} · data and parameters {html.escape(fingerprint)}</p>\n</body>\n</html>\n",
        encoding="utf-8",
    )


def assemble_website(built: Path, edition_dir: Path, edition: Edition, record: dict, others: list[str]) -> None:
    """The edition's website: Sphinx's, from the folder `built`, filled in with the edition and links to the
    `others`."""
    shutil.copytree(built / "html" / "html", edition_dir / "html")
    fill_in_website(edition_dir / "html", edition, others)
    root_page(edition_dir / "html" / "index.html", record["edition"], record["fingerprint"])
    webpages.lighten(edition_dir / "html")


def assemble_data(edition_dir: Path, evidence: Evidence, params_file: Path, record: dict) -> None:
    """The rest of the edition but its website and PDF: the manifest, the claims ledger (CSV and JSON), and a
    copy of the data and parameters it was built from, as files and as one archive."""
    data_dir = evidence.data_dir
    site.fault("assemble")
    (edition_dir / "data").mkdir()
    for table in TABLES.values():
        if (data_dir / table.file).is_file():  # the approvals register is optional
            shutil.copy(data_dir / table.file, edition_dir / "data" / table.file)
    shutil.copy(params_file, edition_dir / "data" / "params.yaml")
    # The same files as one download (every page links it); fixed dates, so the same data give the same bytes.
    with zipfile.ZipFile(edition_dir / "data.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((edition_dir / "data").iterdir()):
            archive.writestr(zipfile.ZipInfo(f"data/{path.name}"), path.read_bytes(), zipfile.ZIP_DEFLATED)
    site.fault("manifest")
    (edition_dir / "manifest.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    ledger = assess(evidence)
    ledger_table(ledger).to_csv(edition_dir / "ledger.csv", index=False, lineterminator="\n")
    text = json.dumps(ledger_json(ledger) | {"edition": record["edition"]}, indent=1, ensure_ascii=False)
    (edition_dir / "ledger.json").write_text(text + "\n", encoding="utf-8")


def previous_edition(site_dir: Path, name: str) -> dict | None:
    """What a new edition `name` is compared with: the edition `latest` meant when the build started. When that
    is `name` itself (a rebuild or replacement), its own previous, so an edition never follows itself."""
    latest = site.newest(site_dir)
    if latest is None or latest["edition"] != name:
        return latest
    earlier = latest.get("previous_id")
    return site.edition_folder(site_dir, earlier) if earlier else None


def build(
    data_dir: Path | None = None,
    params_file: Path | None = None,
    site_dir: Path | None = None,
    edition_name: str | None = None,
    force: bool = False,
    replace: bool = False,
    variant: bool = False,
    latest: bool | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> Path:
    """Build an edition into `site_dir` and return its folder. Raises DataError, ParamsError or BuildError.

    `edition_name` defaults to `default_name`. A published edition of that name built from other inputs is
    replaced only with `replace`. A `variant` does not become `latest` unless `latest` is True. The chapters
    run in `pool` (from `crobook.kernel.start_pool`, stopped when the build ends), or in one of its own.
    """
    started, began = time.perf_counter(), time.time()
    params_file = Path(params_file or DEFAULT_PARAMS).resolve()
    site_dir = Path(site_dir or DEFAULT_SITE).resolve()
    sources = chapters()
    pool = pool or start_pool(len(sources))  # the chapters' kernels warm up while the data are checked
    try:
        if edition_name is not None:
            site.check_edition_name(edition_name)
        log("1/4 checking data and parameters")
        checked, evidence = load_inputs(data_dir, params_file, sources)
        params = checked.chapters
        digest = fingerprint(evidence, checked.as_dict())
        name = edition_name if edition_name is not None else default_name(digest, checked.as_of, site_dir)
        site.check_edition_name(name)
        edition = Edition(name=name, fingerprint=digest, as_of=checked.as_of)
        ledger = assessed(evidence, site_dir / ".cache").claims  # a claim whose data did not change comes from it
        step(f"data valid, edition {edition.name}, data and parameters {edition.fingerprint}", started)
        for row in ledger.itertuples():
            log(f"  {row.claim_id}: {row.status}" + (f" ({row.certainty} certainty)" if row.certainty else ""))
        log(f"  claims: {summary(ledger)}")
        site_dir.mkdir(parents=True, exist_ok=True)
        with site.site_lock(site_dir):
            site.repair(site_dir)  # a crashed or killed build may have left the index stale, or folders behind
        existing = site.edition(site_dir, name)
        if existing is not None and not force and site.same_inputs(existing, inputs_digest(edition)):
            log(f"edition {name} is up to date in {site_dir}; nothing to do (use --force to rebuild it)")
            quick.remember(evidence.data_dir, params_file, site_dir, name, edition_name is None)
            return site_dir / name
        if existing is not None and not replace and not site.same_inputs(existing, inputs_digest(edition)):
            raise BuildError(site.refusal(name))
        check_tools()
        previous = previous_edition(site_dir, name)
        work = Path(tempfile.mkdtemp(prefix=".work-", dir=site_dir))
        published = False
        try:
            with site.work_folder_held(work):  # tells `site.repair` in other builds that this folder is in use
                record = manifest(edition, evidence, with_defaults(checked, sources), ledger, previous, variant)
                target = _build_in(
                    work, evidence, sources, params, params_file, edition, record, previous, site_dir, force, pool
                )
                t = time.perf_counter()
                may_be_latest = latest if latest is not None else not variant
                with _signals_held():  # publishing takes a moment and must not stop half-way
                    site.publish(target, site_dir, name, replace=replace, may_be_latest=may_be_latest)
                    published = True
                step(f"published as {site_dir / name}", t)
                prune(site_dir / ".cache", began)  # what none of the site's last ten builds used
        except KeyboardInterrupt:
            _ignore_signals()
            stop_tools()
            if published:
                raise BuildError(f"interrupted after edition {name} was published", site_untouched=False) from None
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        quick.remember(evidence.data_dir, params_file, site_dir, name, edition_name is None)
        target = site_dir / name
        log(
            f"done in {time.perf_counter() - started:.1f} s: {target / 'html' / 'index.html'} and {target / 'book.pdf'}"
        )
        return site_dir / name
    finally:
        stop_pool(pool, kill=True)  # stopped already unless the build ended before its chapters


def _build_in(
    work: Path,
    evidence: Evidence,
    sources: dict[str, Path],
    params: dict,
    params_file: Path,
    edition: Edition,
    record: dict,
    previous: dict | None,
    site_dir: Path,
    force: bool,
    pool: ProcessPoolExecutor,
) -> Path:
    t = time.perf_counter()
    others = [m["edition"] for m in reversed(site.editions(site_dir)) if m["edition"] != edition.name]
    manifest_path = work / "manifest.json"
    manifest_path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    out_dir = work / "run"  # fresh: a late page's inputs (the others' views) must not include its own last ones
    handed = handed_to_chapters(
        evidence, edition.as_of, previous["dir"] if previous else "", os.path.relpath(manifest_path, out_dir)
    )
    # What the chapters' outputs depend on through the handed parameters (paths themselves do not matter).
    handed_digests = {
        "as_of": edition.as_of.isoformat(),
        "book": json.dumps(evidence.book, sort_keys=True),
        "previous_dir": (previous or {}).get("inputs") or "none",
        "manifest_path": hashlib.sha256(
            json.dumps({k: record[k] for k in ("edition", "parameters", "data", "claims")}, sort_keys=True).encode()
        ).hexdigest(),
    }
    log("2/4 running chapters")
    ahead = sphinx_ahead()  # Sphinx imports while the chapters run
    try:
        executed = execute_chapters(
            sources, out_dir, params, handed, handed_digests, evidence, ChapterCache(site_dir / ".cache"), force, pool
        )
        t = step(f"chapters ({executed} executed, {len(sources) - executed} reused)", t)
        with sphinx_folder(site_dir, work) as built:
            src = sphinx_source(built, Edition(EDITION_TOKEN, FINGERPRINT_TOKEN, edition.as_of))
            # With no file changed, Sphinx's HTML builder writes nothing, not even the downloads and static files
            # dropped here: its last output is this build's.
            if take_chapters(out_dir, src, list(sources)):
                drop_stale_outputs(built, list(sources))
            log("3/4 building website and PDF, side by side, and assembling the edition")
            edition_dir = work / "edition"
            edition_dir.mkdir()
            website_and_pdf(
                built,
                src,
                edition,
                ahead,
                website=lambda: assemble_website(built, edition_dir, edition, record, others),
                data=lambda: assemble_data(edition_dir, evidence, params_file, record),
            )
            missing_glyphs(built / "latex" / "latex" / "book.log", evidence.data_dir)
            shutil.copy(built / "latex" / "latex" / "book.pdf", edition_dir / "book.pdf")
    finally:
        if ahead.returncode is None:  # still waiting: the build stopped before its Sphinx step
            stop_tool(ahead)
    step("website and PDF, edition assembled", t)
    log("4/4 publishing")
    return edition_dir
