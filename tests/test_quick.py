"""The no-change rebuild: the site remembers which raw inputs gave which edition, and nothing else passes."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crobook import quick
from crobook.build import DEFAULT_PARAMS
from crobook.data import DEFAULT_DATA_DIR


def published(site: Path, name: str) -> None:
    (site / name).mkdir(parents=True)
    (site / name / "manifest.json").write_text("{}", encoding="utf-8")


def test_same_inputs_find_the_edition_and_any_change_does_not(tmp_path):
    data, site = tmp_path / "data", tmp_path / "site"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    published(site, "first")
    quick.remember(data, DEFAULT_PARAMS, site, "first", default=True)
    assert quick.up_to_date(data, DEFAULT_PARAMS, site, None) == "first"
    assert quick.up_to_date(data, DEFAULT_PARAMS, site, "first") == "first"
    assert quick.up_to_date(data, DEFAULT_PARAMS, site, "another") is None  # a name asked for is built
    obs = data / "observations.csv"
    obs.write_text(obs.read_text(encoding="utf-8").replace(",2021,65,", ",2021,64,", 1), encoding="utf-8")
    assert quick.up_to_date(data, DEFAULT_PARAMS, site, None) is None
    (data / "notes.txt").write_text("x", encoding="utf-8")  # even a stray file: validate must see it
    assert quick.up_to_date(data, DEFAULT_PARAMS, site, None) is None


def test_an_edition_named_by_hand_does_not_answer_for_the_default_name(tmp_path):
    site = tmp_path / "site"
    published(site, "mine")
    quick.remember(DEFAULT_DATA_DIR, DEFAULT_PARAMS, site, "mine", default=False)
    assert quick.up_to_date(DEFAULT_DATA_DIR, DEFAULT_PARAMS, site, None) is None  # the build makes the default
    assert quick.up_to_date(DEFAULT_DATA_DIR, DEFAULT_PARAMS, site, "mine") == "mine"


def test_a_removed_edition_is_not_up_to_date(tmp_path):
    site = tmp_path / "site"
    published(site, "first")
    quick.remember(DEFAULT_DATA_DIR, DEFAULT_PARAMS, site, "first", default=True)
    shutil.rmtree(site / "first")
    assert quick.up_to_date(DEFAULT_DATA_DIR, DEFAULT_PARAMS, site, None) is None


def test_parameters_without_as_of_speak_for_today(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("book:\n  top_n: 20\n", encoding="utf-8")
    dated = tmp_path / "dated.yaml"
    dated.write_text("as_of: 2026-01-01\n", encoding="utf-8")
    assert quick.raw_digest(DEFAULT_DATA_DIR, params) != quick.raw_digest(DEFAULT_DATA_DIR, dated)


@pytest.mark.build
def test_the_command_answers_without_pandas(built_site):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "crobook.cli", "build", "--site", str(built_site.parent)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"edition {built_site.name} is up to date in")
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "pandas" not in imported and "papermill" not in imported and "sphinx" not in imported


def test_a_build_called_in_process_hands_sigterm_back(tmp_path, capsys):
    import signal

    from crobook.cli import main

    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    obs = data / "observations.csv"  # a value validation refuses, before any kernel starts
    obs.write_text(obs.read_text(encoding="utf-8").replace(",2021,65,", ",2021,6 5,", 1), encoding="utf-8")
    before = signal.getsignal(signal.SIGTERM)
    assert main(["build", "--data", str(data), "--site", str(tmp_path / "site")]) == 1
    assert "observations.csv, row" in capsys.readouterr().err
    # Left installed, a later SIGTERM to the caller (CI's time limit) would surface as a KeyboardInterrupt.
    assert signal.getsignal(signal.SIGTERM) is before
