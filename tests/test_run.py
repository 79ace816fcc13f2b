"""`crobook run CHAPTER -p NAME VALUE`: one chapter with parameters, checked before a kernel starts, run outside
the repository."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def crobook(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crobook.cli", *args], capture_output=True, text=True, cwd=ROOT)


def repository_state() -> tuple[str, set[str]]:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    return status, {p.name for p in ROOT.iterdir()}


def injected(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "".join(next(c for c in cells if "injected-parameters" in c["metadata"].get("tags", []))["source"])


def test_chapter_runs_with_parameters_outside_the_repository(tmp_path):
    before = repository_state()
    result = crobook("run", "cro-market", "-p", "horizon_year", "2035", "-p", "growth_base_pct", "7.5")
    assert result.returncode == 0, result.stderr
    notebook = Path(result.stdout.strip().splitlines()[-1].split(": ", 1)[1].split(" (views")[0])
    assert notebook.is_file() and not notebook.is_relative_to(ROOT)
    assert "horizon_year = 2035" in injected(notebook) and "growth_base_pct = 7.5" in injected(notebook)
    views = notebook.parent / "views"
    assert json.loads((views / "fig-market-projection.json").read_text())["title"].endswith("projected to 2035")
    projection = pd.read_csv(views / "fig-market-projection.csv")
    assert set(projection.loc[projection["scenario"] == "base", "rate_pct"]) == {7.5}
    assert repository_state() == before  # nothing written into the repository, not even ignored files


def test_book_parameter_and_output_folder(tmp_path):
    out = tmp_path / "run"
    result = crobook("run", "definitions", "-p", "book.min_grade", "reported", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert '"min_grade": "reported"' in injected(out / "definitions.ipynb")


def test_wrong_name_and_wrong_type_are_refused_before_a_kernel_starts(tmp_path):
    out = tmp_path / "run"
    result = crobook("run", "cro-market", "-p", "horizon_yr", "2035", "-p", "base_year", "twenty", "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "command line -p horizon_yr: unknown parameter; cro-market accepts: base_year, horizon_year, "
        "growth_low_pct, growth_base_pct, growth_high_pct, as_of, book.top_n, book.min_grade, book.exclude_sources",
        "command line -p base_year: expected int, got str 'twenty'",
        "2 problem(s) found; no kernel was started.",
    ]
    assert not out.exists()


def test_value_the_data_cannot_serve_names_the_option(tmp_path):
    result = crobook("run", "cro-market", "-p", "horizon_year", "2020", "--out", str(tmp_path / "run"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        "command line -p horizon_year: expected a year after base_year (2023): "
        "the projection runs from one to the other"
    )


def test_unknown_chapter():
    result = crobook("run", "cro-markets")
    assert result.returncode == 1
    assert result.stderr.startswith('run failed: no chapter "cro-markets"; expected one of: approvals,')


def test_a_second_source_for_a_year_the_approvals_chapter_totals(data_copy, tmp_path):
    """Data may give one series' figure for a year from two sources; the chapter uses the share's own source."""
    with (data_copy / "sources.csv").open("a", encoding="utf-8") as sources:
        sources.write("other-total-2025,Other Publisher,Approvals in 2024,2025-02,,reported,,confirmed,,\n")
    with (data_copy / "observations.csv").open("a", encoding="utf-8") as observations:
        observations.write("fda_novel_approvals_cder_cber,2024,60,other-total-2025,exact,,false,\n")
    assert crobook("validate", "--data", str(data_copy)).returncode == 0
    result = crobook("run", "approvals", "--data", str(data_copy), "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    cells = json.loads((tmp_path / "run" / "approvals.ipynb").read_text(encoding="utf-8"))["cells"]
    glued = {
        output["metadata"]["scrapbook"]["name"]: output["data"].get("application/papermill.record/text/plain")
        for cell in cells
        for output in cell.get("outputs", [])
        if "scrapbook" in output.get("metadata", {})
    }
    assert glued["approvals_evaluate_late_total"] == "61.0"  # Evaluate's own total, not the other source's 60
