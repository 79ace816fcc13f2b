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

import pytest
import yaml

from crobook.build import DEFAULT_PARAMS, ROOT, build
from crobook.data import DEFAULT_DATA_DIR

pytestmark = pytest.mark.build
CROBOOK = [sys.executable, "-m", "crobook.cli"]


def snapshot(site: Path) -> dict[str, str]:
    """Every published file of a site (not the cache or work folders) with its checksum."""
    files = {}
    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site)
        if rel.parts[0].startswith(".") or not path.is_file():
            continue
        files[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
    files["latest ->"] = os.readlink(site / "latest") if (site / "latest").is_symlink() else ""
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
    assert manifest["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", manifest["git_commit"])
    digest = hashlib.sha256((changed_data / "observations.csv").read_bytes()).hexdigest()
    assert manifest["data"]["observations.csv"] == digest
    assert manifest["parameters"]["cro-market"] == {"horizon_year": 2030}
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
    assert "claim C1 : supported → contradicted" in text
    first = (site / "first" / "html" / "chapters" / "changes.html").read_text(encoding="utf-8")
    assert "first edition in this site" in first


def test_every_page_shows_its_edition_and_links_the_others(site, second):
    for page in (site / "second" / "html").rglob("*.html"):
        if "_static" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        if page == site / "second" / "html" / "index.html":  # the root page: a title page that opens the book
            assert "Edition second · data and parameters" in text
            continue
        assert "Edition <strong>second</strong>" in text, page
        nav = re.search(r'<nav class="crobook-editions".*?</nav>', text, flags=re.S).group(0)
        targets = {(page.parent / href).resolve() for href in re.findall(r'href="([^"]+)"', nav)}
        assert (site / "first" / "html" / "index.html").resolve() in targets, page
        assert (site / "index.html").resolve() in targets, page
        if page.name != "changes.html":  # on that page itself Sphinx links to "#"
            assert (site / "second" / "html" / "chapters" / "changes.html").resolve() in targets, page


def test_diff_command_prints_the_same(site, second):
    result = subprocess.run([*CROBOOK, "diff", "first", "second", "--site", str(site)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "value changed: ebp_share_rd_pipeline 2021 (iqvia-ebp-2022): 65 -> 55" in result.stdout
    assert "claim C1: supported -> contradicted" in result.stdout
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
    assert "claim C3 : supported → contradicted" in text
    manifest = json.loads((site / "top10" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["parameters"]["book"]["top_n"] == 10 and manifest["claims"]["C3"] == "contradicted"


def test_failed_build_leaves_the_site_as_it_was(site, second, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(
        "cro-market:\n  horizon_year: 2000\n", encoding="utf-8"
    )  # before the base year: the chapter fails
    before = snapshot(site)
    result = subprocess.run(
        [*CROBOOK, "build", "--site", str(site), "--params", str(params), "--edition", "broken"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "chapter cro-market failed" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(site) == before
    assert not list(site.glob(".work-*"))


def test_interrupted_build_leaves_the_site_as_it_was(site, second):
    before = snapshot(site)
    process = subprocess.Popen(
        [*CROBOOK, "build", "--site", str(site), "--edition", "interrupted", "--force"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    for line in process.stdout:
        if "running chapters" in line:
            break
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    assert process.returncode != 0
    assert snapshot(site) == before
    assert not (site / "interrupted").exists()


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
    assert os.readlink(site / "latest") in ("left", "right")
    assert not list(site.glob(".work-*")) and not list(site.glob(".trash-*"))
