"""Editions side by side, what changed, incremental rebuilds and safe publishing (one site per test module)."""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from crobook import __version__
from crobook.build import DEFAULT_PARAMS, ROOT, build
from crobook.data import DEFAULT_DATA_DIR

pytestmark = pytest.mark.build
CROBOOK = [sys.executable, "-m", "crobook.cli"]


def snapshot(site: Path) -> dict[str, str]:
    """Every published file of a site, through the editions' links (not the cache or work folders), with its
    checksum, and where each link points."""
    files = {}
    for folder, dirs, names in os.walk(site, followlinks=True):
        rel = Path(folder).relative_to(site)
        if rel.parts and rel.parts[0].startswith("."):
            dirs.clear()
            continue
        for name in names:
            path = Path(folder) / name
            if not (rel / name).parts[0].startswith("."):
                files[str(rel / name)] = hashlib.sha256(path.read_bytes()).hexdigest()
    for link in site.iterdir():
        if link.is_symlink():
            files[f"{link.name} ->"] = os.readlink(link)
    return files


def executed(output: str) -> set[str]:
    return set(re.findall(r"\] ([\w-]+): ran in", output))


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A site holding edition "first", built from the shipped data."""
    site = tmp_path_factory.mktemp("editions") / "site"
    build(site_dir=site, edition_name="first")
    return site


@pytest.fixture(scope="module")
def changed_data(tmp_path_factory) -> Path:
    """A copy of data/ in which IQVIA's and EY's pipeline shares fall from 65 to 55: claim C1 flips."""
    data = tmp_path_factory.mktemp("changed") / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    replace(data / "observations.csv", "ebp_share_rd_pipeline,2021,65,", "ebp_share_rd_pipeline,2021,55,")
    replace(
        data / "observations.csv",
        "ey_biotech_share_clinical_assets,2022,65,",
        "ey_biotech_share_clinical_assets,2022,55,",
    )
    return data


@pytest.fixture(scope="module")
def second(site, changed_data):
    before = snapshot(site)
    build(data_dir=changed_data, site_dir=site, edition_name="second")
    return before


def test_second_edition_sits_beside_the_first_which_is_untouched(site, second):
    after = snapshot(site)
    first_files = {k: v for k, v in second.items() if k.startswith("first/")}
    assert first_files and all(after[k] == v for k, v in first_files.items())
    assert (site / "second" / "html" / "index.html").is_file() and (site / "second" / "book.pdf").is_file()
    assert os.readlink(site / "latest") == "second"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="first/html/index.html"' in index and 'href="second/html/index.html"' in index


def test_manifest_records_what_the_edition_was_built_from(site, second, changed_data):
    manifest = json.loads((site / "second" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["edition"] == "second" and manifest["previous"] == "first"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["built_at"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", manifest["published_at"])
    first = json.loads((site / "first" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["previous_id"] == Path(os.readlink(site / "first")).name and first["previous"] is None
    assert manifest["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", manifest["git_commit"])
    digest = hashlib.sha256((changed_data / "observations.csv").read_bytes()).hexdigest()
    assert manifest["data"]["observations.csv"] == digest
    given = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))["cro-market"]
    assert manifest["parameters"]["cro-market"] == given and given["horizon_year"] == 2030
    assert {"jupyter-book", "pandas", "altair", "papermill"} <= set(manifest["packages"])
    assert manifest["claims"]["C1"] == "contradicted"
    assert (site / "second" / "data" / "observations.csv").read_bytes() == (
        changed_data / "observations.csv"
    ).read_bytes()


def test_what_changed_page_names_the_figure_and_the_flipped_claim(site, second):
    page = (site / "second" / "html" / "chapters" / "changes.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", page).replace("\u200b", "")  # break points in long identifiers
    text = re.sub(r"\s+", " ", text)
    assert "ebp_share_rd_pipeline 2021 iqvia-ebp-2022 65.0 55.0" in text
    assert re.search(
        r"claim C1 : supported \(low certainty\) → contradicted( \(\w[\w ]* certainty\))?, moved by the data", text
    )
    first = (site / "first" / "html" / "chapters" / "changes.html").read_text(encoding="utf-8")
    assert "first edition in this site" in first


def test_every_page_shows_its_edition_and_links_the_others(site, second):
    pdf = site / "second" / "book.pdf"
    title = subprocess.run(["pdftotext", "-l", "2", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Release second \(data and\s+parameters [0-9a-f]{10}\)", title)
    for page in (site / "second" / "html").rglob("*.html"):
        if "_static" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        if page == site / "second" / "html" / "index.html":  # the root page: a title page that opens the book
            assert "Edition second · data and parameters" in text
            continue
        assert "Edition <strong>second</strong>" in text, page
        assert "crobookedition" not in text, page  # every stand-in filled in (crobook.build.EDITION_TOKEN)
        nav = re.search(r'<nav class="crobook-editions".*?</nav>', text, flags=re.S).group(0)
        # as a browser resolves them: by the address, not by where the edition's link points on disk
        targets = {Path(os.path.normpath(page.parent / href)) for href in re.findall(r'href="([^"]+)"', nav)}
        assert site / "first" / "html" / "index.html" in targets, page
        assert site / "index.html" in targets, page
        if page.name != "changes.html":  # on that page itself Sphinx links to "#"
            assert site / "second" / "html" / "chapters" / "changes.html" in targets, page


def test_diff_command_prints_the_same(site, second):
    result = subprocess.run([*CROBOOK, "diff", "first", "second", "--site", str(site)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "value changed: ebp_share_rd_pipeline 2021 (iqvia-ebp-2022): 65 -> 55" in result.stdout
    assert re.search(r"claim C1: supported \(low certainty\) -> contradicted.*, moved by the data\n", result.stdout)
    missing = subprocess.run([*CROBOOK, "diff", "first", "nope", "--site", str(site)], capture_output=True, text=True)
    assert missing.returncode == 1 and 'no edition "nope"' in missing.stderr and "Traceback" not in missing.stderr


def test_rebuild_with_nothing_changed_executes_nothing(site, second, changed_data, capsys):
    start = time.perf_counter()
    build(data_dir=changed_data, site_dir=site, edition_name="second")
    seconds = time.perf_counter() - start
    out = capsys.readouterr().out
    assert "up to date" in out and executed(out) == set()
    assert seconds < 5


def test_one_data_file_change_reexecutes_only_the_chapters_that_read_it(site, second, changed_data, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(changed_data, data)
    path = data / "outsourcing_models.csv"
    replace(path, "One-off (transactional) contracts,", "Single-study contracts,")  # rename the first model
    build(data_dir=data, site_dir=site, edition_name="third")
    out = capsys.readouterr().out
    # models reads the file; the sources appendix lists its views; the changes page compares the data files;
    # the first page cites the edition by its fingerprint, which the data change
    assert executed(out) == {"models", "sources", "changes", "intro"}


def test_one_row_change_reexecutes_only_the_chapters_that_read_its_series(site, second, changed_data, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(changed_data, data)
    replace(data / "observations.csv", "ebp_share_rd_pipeline,2021,55,", "ebp_share_rd_pipeline,2021,54,")
    notebooks = site / ".cache" / ".sphinx" / "src" / "chapters"
    before = {p.stem: p.read_bytes() for p in notebooks.glob("*.ipynb")}
    start = time.time()
    build(data_dir=data, site_dir=site, edition_name="one-row")
    out = capsys.readouterr().out
    # Sphinx keeps its environment in the site: it reads again the pages whose notebook differs from the last
    # build's in this site (the chapters that ran, and any restored from another build's data), and no other.
    changed = {p.stem for p in notebooks.glob("*.ipynb") if before.get(p.stem) != p.read_bytes()}
    assert {"pipeline", "findings"} <= changed
    for builder in ("html", "latex"):
        doctrees = site / ".cache" / ".sphinx" / builder / "doctrees" / "chapters"
        reread = {p.stem for p in doctrees.glob("*.doctree") if p.stat().st_mtime >= start}
        assert changed <= reread <= changed | executed(out), builder
    # Chapters read observations series by series: the pipeline chapter draws this series and the findings
    # judge its claim; the sources appendix, the changes page and the first page (which cites the edition's
    # fingerprint) read every observation. The other six chapters are reused.
    assert executed(out) == {"pipeline", "findings", "sources", "changes", "intro"}
    assert "observations.csv (6 series)" in out


def test_parameter_change_reexecutes_only_the_chapters_that_use_it(site, second, changed_data, tmp_path, capsys):
    params = tmp_path / "params.yaml"
    as_of = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))["as_of"]  # the same edition date
    params.write_text(f"as_of: {as_of}\ncro-market:\n  horizon_year: 2035\n", encoding="utf-8")
    build(data_dir=changed_data, params_file=params, site_dir=site, edition_name="horizon")
    out = capsys.readouterr().out
    assert executed(out) == {"cro-market", "sources", "changes", "intro"}
    page = (site / "horizon" / "html" / "chapters" / "cro-market.html").read_text(encoding="utf-8")
    assert "projected to 2035" in page


def test_a_size_line_variant_shows_the_moved_verdict_on_its_what_changed_page(site, second, changed_data, tmp_path):
    params = tmp_path / "params.yaml"
    as_of = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))["as_of"]
    params.write_text(f"as_of: {as_of}\nbook:\n  top_n: 10\n", encoding="utf-8")
    build(data_dir=changed_data, params_file=params, site_dir=site, edition_name="top10")
    page = (site / "top10" / "html" / "chapters" / "changes.html").read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "parameter book.top_n : 20 → 10" in text
    assert re.search(
        r"claim C3 : supported \(low certainty\) → contradicted.*moved by the parameters \(book\.top_n\b", text
    )
    manifest = json.loads((site / "top10" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["book"]["top_n"] == 10 and manifest["claims"]["C3"] == "contradicted"


def test_failed_build_leaves_the_site_as_it_was(site, second, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(
        "cro-market:\n  horizon_year: 2000\n", encoding="utf-8"
    )  # before the base year: once a chapter failure 90 s in, now refused before anything runs
    before = snapshot(site)
    result = subprocess.run(
        [*CROBOOK, "build", "--site", str(site), "--params", str(params), "--edition", "broken"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert 'column "cro-market.horizon_year"' in result.stderr and "Traceback" not in result.stderr
    assert snapshot(site) == before
    assert not list(site.glob(".work-*"))


def as_at_a_terminal() -> None:
    """Ctrl-C as at a terminal: a shell that started pytest as a background job made it ignore SIGINT, and a
    build would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_build(site: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [*CROBOOK, "build", "--site", str(site), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
        preexec_fn=as_at_a_terminal,
    )


def wait_for(process: subprocess.Popen, text: str) -> None:
    for line in process.stdout:
        if text in line:
            return
    pytest.fail(f"the build ended before {text!r}: {process.stderr.read()}")


def started(process: subprocess.Popen, what: str) -> list[psutil.Process]:
    """The build's processes once one of them runs `what` (a kernel, TeX)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        family = psutil.Process(process.pid).children(recursive=True)
        if any(what in command_line(p) for p in family):
            return family
        time.sleep(0.2)
    pytest.fail(f"no {what} started")


def command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # gone, or a zombie: it runs nothing
        return ""


def alive(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    """Those still running (not zombies) after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        left = []
        for p in processes:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
            except psutil.NoSuchProcess:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def working_in(site: Path) -> list[psutil.Process]:
    """Processes whose current folder is inside the site (a build's tools work in its .work-* folder)."""
    found = []
    for p in psutil.process_iter():
        try:
            if str(site) in p.cwd():
                found.append(p)
        except psutil.Error:
            pass
    return found


INTERRUPTED = "interrupted; nothing was published and the site is as it was."


@pytest.mark.parametrize(
    "signals", [[signal.SIGINT], [signal.SIGTERM], [signal.SIGINT] * 3], ids=["ctrl-c", "sigterm", "ctrl-c-thrice"]
)
def test_a_signal_while_chapters_run_stops_the_build_at_once_with_its_kernels(site, second, signals):
    before = snapshot(site)
    process = start_build(site, "--edition", "interrupted", "--force")
    wait_for(process, "running chapters")
    family = started(process, "ipykernel")
    start = time.monotonic()
    for number in signals:
        process.send_signal(number)
        time.sleep(0.2)
    out, err = process.communicate(timeout=60)
    seconds = time.monotonic() - start
    assert seconds < 3, seconds
    assert process.returncode == 130 and err.strip().splitlines() == [INTERRUPTED], err
    assert alive(family, within=2) == []
    assert snapshot(site) == before and not list(site.glob(".work-*"))


def test_ctrl_c_while_tex_runs_stops_the_build_at_once(site, second):
    before = snapshot(site)
    process = start_build(site, "--edition", "interrupted-tex")  # chapters mostly reused: TeX soon
    wait_for(process, "Sphinx latex")  # done: TeX starts
    family = started(process, "xelatex")
    start = time.monotonic()
    family += working_in(site)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert time.monotonic() - start < 3
    assert process.returncode == 130 and err.strip().splitlines() == [INTERRUPTED], err
    assert alive(family + working_in(site), within=2) == []  # Sphinx's website build, xelatex
    assert snapshot(site) == before and not list(site.glob(".work-*"))


def test_killing_only_the_build_leaves_no_worker_or_kernel_and_the_next_build_cleans_up(site, second, capsys):
    before = snapshot(site)
    process = start_build(site, "--edition", "killed", "--force")
    wait_for(process, "running chapters")
    family = started(process, "ipykernel")
    process.kill()
    process.communicate(timeout=30)
    assert alive(family, within=5) == []  # the workers notice, and end their kernels
    assert snapshot(site) == before and list(site.glob(".work-*"))
    build(site_dir=site, edition_name="first")  # up to date, and it removes the dead build's folder
    assert "up to date" in capsys.readouterr().out and not list(site.glob(".work-*"))


def test_killing_only_the_build_while_tex_runs_leaves_no_sphinx_or_tex(site, second):
    process = start_build(site, "--edition", "killed-tex")  # chapters mostly reused: TeX soon
    wait_for(process, "Sphinx latex")  # done: TeX starts
    family = started(process, "xelatex")
    family += working_in(site)
    process.kill()
    process.communicate(timeout=30)
    assert alive(family + working_in(site), within=3) == []  # Sphinx's website build, xelatex


def test_a_crash_while_publishing_a_real_build_leaves_the_site_whole_and_the_next_build_repairs_it(site, second):
    env = os.environ | {"CROBOOK_FAULT": "publish:after-link:exit"}
    process = start_build(site, "--edition", "crashed", env=env)
    process.communicate(timeout=900)
    assert process.returncode == 137
    assert (site / "crashed" / "html" / "index.html").is_file() and (site / "crashed" / "book.pdf").is_file()
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="crashed/' not in index  # published, the index not yet rewritten
    for href in re.findall(r'href="([^"]+)"', index):
        assert (site / href).is_file(), href
    # The same build again: the edition is published, so it has nothing to do, but it repairs the index first
    result = subprocess.run(
        [*CROBOOK, "build", "--site", str(site), "--edition", "crashed"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "up to date" in result.stdout, result.stderr
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="crashed/html/index.html"' in index and not list(site.glob(".work-*"))
    assert os.readlink(site / "latest") == "crashed"
    for href in re.findall(r'href="([^"]+)"', index):
        assert (site / href).is_file(), href


def test_an_up_to_date_build_repairs_a_stale_index(site, second, capsys):
    index = site / "index.html"
    good = index.read_text(encoding="utf-8")
    index.write_text("<p>stale</p>", encoding="utf-8")
    build(site_dir=site, edition_name="first")
    assert "up to date" in capsys.readouterr().out and index.read_text(encoding="utf-8") == good


def test_a_name_published_from_other_data_is_refused_in_one_line(site, second, changed_data):
    before = snapshot(site)
    result = subprocess.run(
        [*CROBOOK, "build", "--site", str(site), "--data", str(changed_data), "--edition", "first"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "edition first is already published from other inputs" in result.stderr and "--replace" in result.stderr
    assert snapshot(site) == before


def test_new_data_gives_a_new_default_edition_name_and_missing_tex_is_one_line(site, second, changed_data):
    as_of = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))["as_of"]
    names = []
    for data in (DEFAULT_DATA_DIR, changed_data):
        result = subprocess.run(
            [*CROBOOK, "build", "--site", str(site), "--data", str(data)],
            capture_output=True,
            text=True,
            env=os.environ | {"PATH": "/nonexistent"},  # no TeX (and no git: the build does without)
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.startswith("build failed: xelatex is not on PATH") and "make tex" in result.stderr
        names += re.findall(r"data valid, edition (\S+), data and parameters", result.stdout)
    first = json.loads((site / "first" / "manifest.json").read_text(encoding="utf-8"))
    assert names[0] == f"{__version__}-{as_of}-{first['fingerprint']}"
    assert names[1].startswith(f"{__version__}-{as_of}-") and names[1] != names[0]


def test_a_full_disk_or_a_read_only_site_is_one_line(site, second, tmp_path):
    before = snapshot(site)
    env = os.environ | {"CROBOOK_FAULT": "chapters:enospc"}
    result = subprocess.run(
        [*CROBOOK, "build", "--site", str(site), "--edition", "full"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no space left on the device" in result.stderr and "free some space" in result.stderr
    assert snapshot(site) == before and not list(site.glob(".work-*"))
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    if subprocess.run(["chattr", "+i", str(read_only)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available to make a folder read-only for root")
    try:
        result = subprocess.run(
            [*CROBOOK, "build", "--site", str(read_only), "--edition", "x"], capture_output=True, text=True
        )
    finally:
        subprocess.run(["chattr", "-i", str(read_only)], check=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot write" in result.stderr and "--site" in result.stderr, result.stderr


def test_two_builds_at_once_both_publish(site, second, changed_data):
    runs = [
        subprocess.Popen(
            [*CROBOOK, "build", "--site", str(site), "--data", str(changed_data), "--edition", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    for name in ("left", "right"):
        manifest = json.loads((site / name / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["edition"] == name
        assert (site / name / "book.pdf").stat().st_size > 10_000
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="left/html/index.html"' in index and 'href="right/html/index.html"' in index
    # `latest` is the edition the index lists first (newest), whichever of the two published last
    newest = re.search(r'<tr><td><a href="([^"/]+)/html/index.html">', index).group(1)
    assert newest in ("left", "right") and os.readlink(site / "latest") == newest
    assert not list(site.glob(".work-*")) and not list(site.glob(".trash-*"))
