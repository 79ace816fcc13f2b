"""Every kind of broken input, through both commands: exit 1, one clear line per problem naming file, row and
column, no traceback, and the published site exactly as it was."""

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from crobook.build import DEFAULT_PARAMS

pytestmark = pytest.mark.build
CROBOOK = [sys.executable, "-m", "crobook.cli"]


def edit(name: str, old: str, new: str) -> Callable[[Path, Path], None]:
    def change(data: Path, params: Path) -> None:
        path = data / name if name.endswith(".csv") else params
        text = path.read_text(encoding="utf-8")
        assert old in text, f"test setup: {old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return change


def write(name: str, content: bytes) -> Callable[[Path, Path], None]:
    def change(data: Path, params: Path) -> None:
        (data / name).write_bytes(content)

    return change


def remove(name: str) -> Callable[[Path, Path], None]:
    return lambda data, params: (data / name).unlink()


def header_only(name: str) -> Callable[[Path, Path], None]:
    def change(data: Path, params: Path) -> None:
        path = data / name
        path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")

    return change


def not_utf8(data: Path, params: Path) -> None:
    path = data / "series.csv"
    path.write_bytes(path.read_bytes().replace(b"Emerging companies", b"Emerging \xe9companies", 1))


OBS = "observations.csv"
FIRST = "biotech_share_clinical_pipeline,2021,70,bio-2021-05-as-cited,about,,false,"
CASES = {
    "missing file": (remove("series.csv"), "series.csv: file not found; expected the series.csv table"),
    "missing column": (
        edit(OBS, ",bound,value_high,forecast,", ",value_high,forecast,"),
        'observations.csv, column "bound": required column is missing',
    ),
    "renamed column": (
        edit(OBS, "series_id,period,value", "series,period,value"),
        'observations.csv, column "series": unexpected column; expected only: series_id',
    ),
    "extra column": (
        edit("series.csv", "description,unit", "description,unit,colour"),
        'series.csv, column "colour": unexpected column',
    ),
    "percent sign": (
        edit(OBS, FIRST, FIRST.replace(",70,", ",70%,")),
        'observations.csv, row 1 (line 2), column "value": expected a plain number such as 12.5',
    ),
    "n/a": (
        edit(OBS, FIRST, FIRST.replace(",70,", ",n/a,")),
        'observations.csv, row 1 (line 2), column "value": expected a plain number',
    ),
    "thousands separator": (
        edit(OBS, "clinical_trial_starts_total,2024,5318,", 'clinical_trial_starts_total,2024,"5,318",'),
        'column "value": expected a plain number such as 12.5 (no %, no thousands separator',
    ),
    "share over 100": (
        edit(OBS, FIRST, FIRST.replace(",70,", ",170,")),
        'row 1 (line 2), column "value": expected a share between 0 and 100 (unit percent), got 170',
    ),
    "negative amount": (
        edit(OBS, "cro_market,2017,31.2,", "cro_market,2017,-31.2,"),
        'column "value": expected a value not negative (unit usd_bn), got -31.2',
    ),
    "duplicate key": (
        edit(OBS, FIRST, FIRST + "\n" + FIRST),
        "duplicate key (series_id=biotech_share_clinical_pipeline, period=2021, source_id=bio-2021-05",
    ),
    "unknown source": (
        edit(OBS, FIRST, FIRST.replace("bio-2021-05-as-cited", "nowhere")),
        'row 1 (line 2), column "source_id": unknown source "nowhere"; expected a source_id of sources.csv',
    ),
    "claim naming a chapter that does not exist": (
        edit("claims.csv", ",cro-market,", ",cro-markets,"),
        'claims.csv, row 8 (line 9), column "chapter": no chapter "cro-markets"; expected the name of a file in',
    ),
    "cited period with no row": (
        edit("claim_parts.csv", "biotech_share_fda_approvals,,2021,", "biotech_share_fda_approvals,,2020,"),
        'claim_parts.csv, row 5 (line 6), column "cited_period": no figure of the article for series '
        '"biotech_share_fda_approvals" and period "2020"',
    ),
    "claim part naming an unknown definition": (
        edit(
            "claim_parts.csv",
            ",novel_approvals,bio-emerging book-outside-top-n,",
            ",novel_approvals,bio-emergent book-outside-top-n,",
        ),
        'claim_parts.csv, row 5 (line 6), column "definitions": unknown definition "bio-emergent"',
    ),
    "unknown unit": (
        edit("series.csv", ",percent,pipeline_molecules,", ",per cent,pipeline_molecules,"),
        'series.csv, row 1 (line 2), column "unit": expected one of percent, usd_bn, count, points, percent_change, '
        'factor, usd_m, got "per cent"',
    ),
    "period that does not parse": (
        edit(OBS, FIRST, FIRST.replace(",2021,", ",2021-13,")),
        'row 1 (line 2), column "period": expected a period YYYY, YYYY-MM or YYYY-YYYY',
    ),
    "period after the as-of date": (
        edit(OBS, FIRST, FIRST.replace(",2021,", ",2027,")),
        'row 1 (line 2), column "period": period "2027" lies after the as-of date 2026-11-26',
    ),
    "empty file": (write("sources.csv", b""), "sources.csv: file is empty; expected a header row: source_id,publisher"),
    "header-only file": (header_only("claims.csv"), "claims.csv: file has a header but no data rows"),
    "bytes that are not UTF-8": (not_utf8, "series.csv, row 1 (line 2): byte 0xe9 at line 2 is not UTF-8"),
    "vertical tab in a source title": (
        edit("sources.csv", "(as cited by the article) BIO industry", "(as cited by the article) BIO\vindustry"),
        'sources.csv, row 1 (line 2), column "title": contains a vertical tab (U+000B) at character 30',
    ),
    "not checked on a reported source": (
        edit("sources.csv", ",reported,,confirmed,", ",reported,,not checked,"),
        'column "check": expected "confirmed" or "not found" for grade reported',
    ),
    "misspelt table file": (
        write("observation.csv", b"series_id,period\nx,2021\n"),
        "observation.csv: unexpected file; expected only the tables approvals.csv",
    ),
    "peak in a year without figures": (
        edit("claim_parts.csv", ",peak,venture_dollars,,,,,2021,", ",peak,venture_dollars,,,,,2031,"),
        'claim_parts.csv, row 6 (line 7), column "cited_period": no figure for 2031 in the series linked to claim C4',
    ),
    "base year the data cannot serve": (
        edit("params", "base_year: 2023", "base_year: 2024"),
        'line 22, column "cro-market.base_year": cro-market.base_year = 2024: no market-research figure of series '
        "cro_market for 2024",
    ),
    "YAML syntax error": (edit("params", "horizon_year: 2030", "horizon_year: [2030"), "line 26: YAML syntax error"),
    "unknown parameter": (
        edit("params", "horizon_year: 2030", "horizon: 2030"),
        'line 24, column "cro-market.horizon": unknown parameter; chapter cro-market accepts:',
    ),
    "parameter of the wrong type": (
        edit("params", "horizon_year: 2030", "horizon_year: soon"),
        "line 24, column \"cro-market.horizon_year\": expected int, got str 'soon'",
    ),
}


PARAMS_CASES = (
    "YAML syntax error",
    "unknown parameter",
    "parameter of the wrong type",
    "base year the data cannot serve",
)


def published(site: Path) -> dict[str, str]:
    return {
        str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(site.rglob("*"))
        if p.is_file() and not p.relative_to(site).parts[0].startswith(".")
    }


@pytest.fixture
def inputs(data_copy: Path, tmp_path: Path) -> tuple[Path, Path]:
    params = tmp_path / "params.yaml"
    params.write_bytes(DEFAULT_PARAMS.read_bytes())
    return data_copy, params


@pytest.mark.parametrize("case", list(CASES))
def test_broken_input_is_reported_by_validate_and_build(case, inputs, built_site):
    data, params = inputs
    change, expected = CASES[case]
    change(data, params)
    site = built_site.parent
    before = published(site)
    for command in (["validate"], ["build", "--site", str(site), "--edition", "broken"]):
        result = subprocess.run(
            [*CROBOOK, *command, "--data", str(data), "--params", str(params)], capture_output=True, text=True
        )
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert expected in result.stderr, (command, result.stderr)
        problems = result.stderr.strip().splitlines()
        where = str(params) if case in PARAMS_CASES else str(data)
        assert all(line.startswith(where) for line in problems[:-1]), problems  # each line names its file
    assert published(site) == before
    assert not (site / "broken").exists()


def test_bom_crlf_and_trailing_spaces_pass_both_commands(inputs, tmp_path):
    data, params = inputs
    for path in data.glob("*.csv"):
        lines = [
            line + "  " if i == 0 else line for i, line in enumerate(path.read_text(encoding="utf-8").splitlines())
        ]
        path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    result = subprocess.run(
        [*CROBOOK, "validate", "--data", str(data), "--params", str(params)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
