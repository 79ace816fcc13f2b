"""Build the book: validate, run every chapter through papermill, then the website and the PDF.

Chapters are MyST-markdown notebooks in `chapters/`; they are executed into a staging folder under
`_build/work/`, which jupyter-book then builds with execution off. Only a whole, successful build is
copied into the site folder.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import jupytext
import papermill
import yaml

from crobook import __version__
from crobook.charts import write_vega_bundle
from crobook.claims import evaluate, summary
from crobook.data import Evidence, load
from crobook.errors import BuildError
from crobook.params import declared, load_params

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS_DIR = ROOT / "chapters"
DEFAULT_PARAMS = ROOT / "params" / "default.yaml"
DEFAULT_SITE = ROOT / "_build" / "site"
BIN = Path(sys.executable).parent


@dataclass
class Edition:
    name: str
    fingerprint: str

    @property
    def label(self) -> str:
        return f"Edition {self.name} · data and parameters {self.fingerprint}"


def log(message: str) -> None:
    print(message, flush=True)


def chapters(chapters_dir: Path = CHAPTERS_DIR) -> dict[str, Path]:
    return {p.stem: p for p in sorted(chapters_dir.glob("*.md"))}


def fingerprint(evidence: Evidence, params: dict) -> str:
    digest = hashlib.sha256()
    for path in evidence.files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(params, sort_keys=True).encode())
    return digest.hexdigest()[:10]


def run_chapter(source: Path, output: Path, parameters: dict) -> float:
    """Execute one chapter with papermill; returns its run time in seconds."""
    start = time.perf_counter()
    unexecuted = output.with_suffix(".in.ipynb")
    jupytext.write(jupytext.read(source), unexecuted)
    try:
        papermill.execute_notebook(
            str(unexecuted),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            cwd=str(output.parent),
        )
    finally:
        unexecuted.unlink(missing_ok=True)
    return time.perf_counter() - start


def _quiet_kernels() -> None:
    # Kernels inherit the worker's stderr and log start-up chatter there; failures reach us as exceptions.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)


def execute_chapters(sources: dict[str, Path], out_dir: Path, params: dict[str, dict], data_dir: Path) -> None:
    """Run every chapter in parallel; pages that read the other chapters' views (they declare `views_dir`) run last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    late = {stem for stem, src in sources.items() if "views_dir" in declared(src)}
    waves = [[s for s in sources if s not in late], sorted(late)]
    workers = max(1, min(len(sources), os.cpu_count() or 1))
    log(f"  running {len(sources)} chapters, {workers} at a time")
    done = 0
    with ProcessPoolExecutor(max_workers=workers, initializer=_quiet_kernels) as pool:
        for wave in waves:
            jobs = {}
            for stem in wave:
                parameters = {"data_dir": str(data_dir), **params.get(stem, {})}
                if stem in late:
                    parameters["views_dir"] = str(out_dir / "views")
                jobs[pool.submit(run_chapter, sources[stem], out_dir / f"{stem}.ipynb", parameters)] = stem
            for job in as_completed(jobs):
                stem, done = jobs[job], done + 1
                try:
                    seconds = job.result()
                except papermill.PapermillExecutionError as err:
                    raise BuildError(
                        f"chapter {stem} failed in cell {err.exec_count}: {err.ename}: {err.evalue}"
                    ) from None
                log(f"  [{done}/{len(sources)}] {stem}: {seconds:.1f} s")


# Appended to the conf.py that `jupyter-book config sphinx` generates. sphinx-thebe and sphinx-comments
# put CDN addresses on every page (this book runs no live code and takes no comments).
CONF_OVERRIDES = """
# --- crobook overrides ---
extensions = [e for e in extensions if e not in ("sphinx_thebe", "sphinx_comments")]
html_js_files = list(dict.fromkeys(html_js_files))
html_css_files = list(dict.fromkeys(html_css_files))
html_theme_options["extra_footer"] = {footer!r}
html_context = {{"default_mode": "light"}}
project = html_title
latex_documents = [({root!r}, "book.tex", project, author, "manual")]
"""


def stage(work: Path, edition: Edition) -> Path:
    """Copy the book's configuration into a clean staging folder, with the edition written in."""
    src = work / "src"
    src.mkdir(parents=True)
    shutil.copy(ROOT / "_toc.yml", src / "_toc.yml")
    shutil.copytree(ROOT / "_static", src / "_static")
    write_vega_bundle(src / "_static")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    sphinx = config.setdefault("sphinx", {}).setdefault("config", {})
    sphinx["version"] = sphinx["release"] = f"{edition.name} (data and parameters {edition.fingerprint})"
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    run([str(BIN / "jupyter-book"), "config", "sphinx", str(src)], "jupyter-book config")
    root = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
    footer = f'<p class="crobook-edition">{html.escape(edition.label)}</p>'
    with (src / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write(CONF_OVERRIDES.format(footer=footer, root=root))
    return src


def run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).splitlines()
        lines = [ln for ln in output if "WARNING" in ln or "ERROR" in ln or "Error" in ln or ln.startswith("!")]
        raise BuildError(f"{what} failed:\n" + "\n".join((lines or output)[-30:]))


def sphinx(src: Path, out: Path, builder: str) -> None:
    """sphinx-build with every warning an error; `latexpdf` also runs latexmk."""
    command = [str(BIN / "sphinx-build"), "-M", builder, str(src), str(out), "-W", "-n", "--keep-going", "-q"]
    run(command, f"sphinx-build {builder}")


def publish(work: Path, site: Path, edition: Edition) -> Path:
    """Swap the finished edition into `<site>/latest` in one rename, so readers never see half a build."""
    staged = work / "publish"
    shutil.copytree(work / "html" / "html", staged / "html")
    shutil.copy(work / "latex" / "latex" / "book.pdf", staged / "book.pdf")
    site.mkdir(parents=True, exist_ok=True)
    target, old = site / "latest", site / ".latest-old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def step(name: str, since: float) -> float:
    """Log a finished step with its time; returns now, the start of the next step."""
    now = time.perf_counter()
    log(f"  {name}: {now - since:.1f} s")
    return now


def build(data_dir: Path | None = None, params_file: Path | None = None, site: Path | None = None) -> Path:
    started = time.perf_counter()
    log("1/4 validating data")
    evidence = load(data_dir)
    sources = chapters()
    params = load_params(Path(params_file or DEFAULT_PARAMS), sources)
    edition = Edition(name=__version__, fingerprint=fingerprint(evidence, params))
    step(f"data valid, edition {edition.name}, fingerprint {edition.fingerprint}", started)
    ledger = evaluate(evidence)
    for row in ledger.itertuples():
        log(f"  {row.claim_id}: {row.status}")
    log(f"  claims: {summary(ledger)}")
    # Each build stages in a folder of its own, so two builds at once do not meet.
    (ROOT / "_build").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=ROOT / "_build"))
    try:
        return _build_in(work, evidence, sources, params, edition, Path(site or DEFAULT_SITE), started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build_in(
    work: Path, evidence: Evidence, sources: dict[str, Path], params: dict, edition: Edition, site: Path, started: float
) -> Path:
    t = time.perf_counter()
    src = stage(work, edition)
    log("2/4 running chapters")
    execute_chapters(sources, src / "chapters", params, evidence.data_dir)
    t = step("chapters", t)
    log("3/4 building website and PDF, side by side")
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(sphinx, src, work / "html", "html"), pool.submit(sphinx, src, work / "latex", "latexpdf")]
        for job in jobs:
            job.result()
    t = step("website and PDF", t)
    log("4/4 publishing")
    target = publish(work, site, edition)
    step("published", t)
    log(f"done in {time.perf_counter() - started:.1f} s: {target / 'html' / 'index.html'} and {target / 'book.pdf'}")
    return target
