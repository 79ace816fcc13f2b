"""The loader accepts the shipped data and rejects each kind of broken data with its own message."""

import subprocess
import sys
from pathlib import Path

import pytest

from crobook.data import DEFAULT_DATA_DIR, DataError, load


def problems(data_dir: Path) -> list[str]:
    with pytest.raises(DataError) as err:
        load(data_dir)
    return [str(p) for p in err.value.problems]


def replace_in(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_shipped_data_is_valid():
    evidence = load()
    assert len(evidence.sources) > 0 and len(evidence.series) > 0 and len(evidence.observations) > 0
    # every observation resolved its series and source
    assert evidence.observations["unit"].notna().all()
    assert evidence.observations["publisher"].notna().all()


def test_every_source_is_used_and_every_series_has_data():
    evidence = load()
    used = set(evidence.observations["source_id"]) | set(evidence.models["source_id"])
    used |= set(evidence.definitions["source_id"]) - {""}
    used |= set(evidence.approvals["source_id"]) | set(evidence.rankings["source_id"])
    assert set(evidence.sources["source_id"]) == used
    assert set(evidence.series["series_id"]) == set(evidence.observations["series_id"])


def test_shares_are_within_0_100_and_amounts_not_negative():
    obs = load().observations
    shares = obs[obs["unit"] == "percent"]["value"]
    assert shares.between(0, 100).all()
    assert (obs[obs["unit"].isin(["usd_bn", "count", "factor"])]["value"] >= 0).all()


def first_data_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[1]


@pytest.mark.parametrize(
    ("bad", "expected"),
    [("12%", "expected a plain number"), ("n/a", "expected a plain number"), ("1,234", "expected a plain number")],
)
def test_value_that_is_not_a_plain_number(data_copy, bad, expected):
    obs = data_copy / "observations.csv"
    lines = obs.read_text(encoding="utf-8").splitlines()
    fields = lines[1].split(",")
    fields[2] = f'"{bad}"'
    lines[1] = ",".join(fields)
    obs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = problems(data_copy)
    assert any('observations.csv, row 1 (line 2), column "value"' in p and expected in p and bad in p for p in found)


def test_share_outside_0_100(data_copy):
    replace_in(
        data_copy / "observations.csv",
        "biotech_share_clinical_pipeline,2021,70,",
        "biotech_share_clinical_pipeline,2021,170,",
    )
    found = problems(data_copy)
    assert found == [
        '%s, row 1 (line 2), column "value": expected a share between 0 and 100 (unit percent), got 170'
        % (data_copy / "observations.csv")
    ]


def test_negative_amount(data_copy):
    replace_in(data_copy / "observations.csv", "cro_market,2017,31.2,", "cro_market,2017,-31.2,")
    found = problems(data_copy)
    assert len(found) == 1 and 'column "value": expected a value not negative (unit usd_bn), got -31.2' in found[0]


def test_period_that_does_not_parse(data_copy):
    replace_in(data_copy / "observations.csv", "cro_market,2017,31.2,", "cro_market,2017-13,31.2,")
    found = problems(data_copy)
    assert len(found) == 1 and 'column "period": expected a period YYYY' in found[0] and '"2017-13"' in found[0]


def test_span_that_ends_before_it_starts(data_copy):
    replace_in(data_copy / "observations.csv", "cro_market,2017,31.2,", "cro_market,2017-2015,31.2,")
    assert any('column "period": span "2017-2015" ends before it starts' in p for p in problems(data_copy))


def test_duplicate_key(data_copy):
    obs = data_copy / "observations.csv"
    line = first_data_line(obs)
    obs.write_text(obs.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    found = problems(data_copy)
    assert len(found) == 1 and "duplicate key (series_id=biotech_share_clinical_pipeline" in found[0]
    assert "already on row 1" in found[0]


def test_unknown_source(data_copy):
    replace_in(data_copy / "observations.csv", ",bio-2021-05-as-cited,", ",no-such-source,")
    found = problems(data_copy)
    assert found == [
        '%s, row 1 (line 2), column "source_id": unknown source "no-such-source"; '
        "expected a source_id of sources.csv" % (data_copy / "observations.csv")
    ]


def test_unknown_series(data_copy):
    replace_in(data_copy / "observations.csv", "biotech_share_clinical_pipeline,2021,70,", "no_such_series,2021,70,")
    assert any('column "series_id": unknown series "no_such_series"' in p for p in problems(data_copy))


def test_unit_outside_vocabulary(data_copy):
    replace_in(data_copy / "series.csv", ",percent,pipeline_molecules,", ",per cent,pipeline_molecules,")
    found = problems(data_copy)
    assert (
        len(found) == 1
        and 'series.csv, row 1 (line 2), column "unit": expected one of percent, usd_bn, count, points' in found[0]
    )


def test_undated_source(data_copy):
    replace_in(data_copy / "sources.csv", ",2021-05,,as-cited,", ",,,as-cited,")
    found = problems(data_copy)
    assert (
        len(found) == 1
        and 'sources.csv, row 1 (line 2), column "published": expected a value (the cell is empty)' in found[0]
    )


def test_impossible_date(data_copy):
    replace_in(data_copy / "sources.csv", ",2021-05,,as-cited,", ",2021-02-30,,as-cited,")
    assert any('column "published": expected a real calendar date, got "2021-02-30"' in p for p in problems(data_copy))


def test_unknown_grade(data_copy):
    replace_in(data_copy / "sources.csv", ",2021-05,,as-cited,", ",2021-05,,hearsay,")
    assert any('column "grade": expected one of as-cited' in p and '"hearsay"' in p for p in problems(data_copy))


def test_missing_file(data_copy):
    (data_copy / "series.csv").unlink()
    found = problems(data_copy)
    assert found == [f"{data_copy / 'series.csv'}: file not found; expected the series.csv table in {data_copy}"]


def test_missing_and_extra_column(data_copy):
    replace_in(data_copy / "series.csv", "series_id,claim,label,description,unit", "series_id,claim,label,descr,unit")
    found = problems(data_copy)
    assert any('series.csv, column "description": required column is missing' in p for p in found)
    assert any('series.csv, column "descr": unexpected column' in p for p in found)


def test_empty_and_header_only_files(data_copy):
    (data_copy / "sources.csv").write_text("", encoding="utf-8")
    series = data_copy / "series.csv"
    series.write_text(series.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    found = problems(data_copy)
    assert any("sources.csv: file is empty" in p for p in found)
    assert any("series.csv: file has a header but no data rows" in p for p in found)


def test_bytes_that_are_not_utf8(data_copy):
    path = data_copy / "series.csv"
    path.write_bytes(path.read_bytes().replace(b"Biotech share", b"Biotech \xe9share", 1))
    found = problems(data_copy)
    assert len(found) == 1 and "is not UTF-8" in found[0] and "series.csv" in found[0]


def test_bom_crlf_and_trailing_spaces_are_accepted(data_copy):
    path = data_copy / "observations.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace(",70,", ",70 ,")
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    evidence = load(data_copy)
    assert evidence.observations.loc[0, "value"] == 70


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crobook.cli", *args], capture_output=True, text=True)


def test_cli_validate_ok():
    result = run_cli("validate")
    assert result.returncode == 0 and "valid" in result.stdout


def test_cli_validate_reports_one_line_per_problem_without_traceback(data_copy):
    replace_in(data_copy / "observations.csv", "cro_market,2017,31.2,", "cro_market,2017,31.2%,")
    replace_in(data_copy / "observations.csv", ",bio-2021-05-as-cited,", ",nowhere,")
    result = run_cli("validate", "--data", str(data_copy))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert any('column "value"' in ln and '"31.2%"' in ln for ln in lines)
    # the schema stage stops before relations are checked, so the unknown source is reported after a fix
    assert lines[-1] == "1 problem(s) found."


def test_data_readme_documents_every_column_of_every_table():
    """The field metadata in crobook/schema.py and data/README.md must not drift apart."""
    from crobook.schema import TABLES

    text = (DEFAULT_DATA_DIR / "README.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        assert f"`{table.file}`" in text, table.file
        for column in table.columns:
            assert f"`{column}`" in text, (table.file, column)


def test_vertical_tab_in_a_source_title_names_file_row_column_and_character(data_copy):
    """A word processor's line break (U+000B) fails the PDF; validate names it instead."""
    replace_in(
        data_copy / "sources.csv", "(as cited by the article) BIO industry", "(as cited by the article) BIO\vindustry"
    )
    found = problems(data_copy)
    assert found == [
        f'{data_copy / "sources.csv"}, row 1 (line 2), column "title": contains a vertical tab (U+000B) at character '
        "30, invisible in a spreadsheet (a line or page break pasted from a word processor); expected plain text on "
        "one line: replace it with a space"
    ]


@pytest.mark.parametrize("table", ["sources", "series", "observations", "claims", "claim_parts", "approvals"])
@pytest.mark.parametrize("char", ["\f", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028"])
def test_control_character_in_any_cell_of_any_table(data_copy, table, char):
    from crobook.schema import TABLES

    path = data_copy / TABLES[table].file
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[2] = lines[2] + char  # the end of row 2's last cell: a trailing control must not be stripped silently
    path.write_text("\n".join(lines), encoding="utf-8")
    found = problems(data_copy)
    last = TABLES[table].columns[-1]
    assert len(found) == 1, found
    assert found[0].startswith(f'{path}, row 2 (line 3), column "{last}": contains a ')
    assert f"(U+{ord(char):04X})" in found[0] and "replace it with a space" in found[0]


def test_unknown_csv_file_is_an_error_with_a_suggestion(data_copy):
    (data_copy / "observation.csv").write_text("series_id,period\nx,2021\n", encoding="utf-8")
    (data_copy / "notes.txt").write_text("scratch\n", encoding="utf-8")  # only CSV files are tables
    found = problems(data_copy)
    assert len(found) == 1
    assert found[0].startswith(f"{data_copy / 'observation.csv'}: unexpected file; expected only the tables ")
    assert found[0].endswith('; did you mean "observations.csv"?')


@pytest.mark.parametrize("grade", ["reported", "official"])
def test_not_checked_on_a_checked_grade(data_copy, grade):
    path = data_copy / "sources.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[3].startswith("iqvia-ebp-2022,") and ",reported,,confirmed," in lines[3]
    lines[3] = lines[3].replace(",reported,,confirmed,", f",{grade},,not checked,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = problems(data_copy)
    assert found == [
        f'{path}, row 3 (line 4), column "check": expected "confirmed" or "not found" for grade {grade}: '
        '"not checked" is only for the article\'s own figures (as-cited, as-cited-approximate) and secondary '
        "reports seen in a copy"
    ]


def test_not_checked_stays_valid_for_the_articles_own_figures():
    sources = load().sources
    unchecked = sources[sources["check"] == "not checked"]
    assert len(unchecked) and set(unchecked["grade"]) <= {"as-cited", "as-cited-approximate", "secondary"}


def test_direction_part_whose_period_no_linked_figure_reaches(data_copy):
    """Before, a peak in a year with no figure was silently "not testable"."""
    replace_in(data_copy / "claim_parts.csv", ",peak,venture_dollars,,,,,2021,", ",peak,venture_dollars,,,,,2031,")
    found = problems(data_copy)
    assert len(found) == 1
    assert found[0].startswith(
        f'{data_copy / "claim_parts.csv"}, row 6 (line 7), column "cited_period": no figure for 2031 in the series '
        "linked to claim C4 part a as evidence (biopharma_vc_pitchbook, "
    )
    assert "years with one: 2015, 2019, 2020, 2021, 2022, 2023, 2024, 2025)" in found[0]


def test_rises_whose_window_no_linked_figure_reaches(data_copy):
    part = "C7,a,Total annual trial spend across all phases is expected to rise significantly.,rises,trial_spend,,,,"
    replace_in(data_copy / "claim_parts.csv", part + "2022,2026,,1,", part + "2010,2014,,1,")
    # link a spend series as evidence, so that the part is meant to be tested
    path = data_copy / "claim_evidence.csv"
    path.write_text(path.read_text(encoding="utf-8") + "C7,a,contract_clinical_services_spend,,,evidence,\n")
    found = problems(data_copy)
    assert len(found) == 1 and 'column "from_period": no figure from 2009 to 2015 in the series linked' in found[0]


def test_part_without_linked_evidence_stays_not_testable():
    from crobook.claims import assess

    parts = assess(load()).parts.set_index(["claim_id", "part"])
    assert parts.loc[("C7", "a"), "status"] == "not testable"
    assert "no independent figure was found" in parts.loc[("C7", "a"), "detail"].lower()


def test_claim_period_n_d(data_copy):
    replace_in(
        data_copy / "claim_parts.csv",
        ",falls_after,venture_dollars,,,,,2021,",
        ",falls_after,venture_dollars,,,,,n.d.,",
    )
    found = problems(data_copy)
    assert found == [
        f'{data_copy / "claim_parts.csv"}, row 7 (line 8), column "cited_period": '
        'expected a period with a year, got "n.d."'
    ]


def test_series_without_any_figure(data_copy):
    """The chapters look series up by name; an empty one failed a cell with a KeyError, 90 s into the build."""
    obs = data_copy / "observations.csv"
    lines = obs.read_text(encoding="utf-8").splitlines()
    obs.write_text("\n".join(ln for ln in lines if not ln.startswith("phase23_outsourced_share_large,")) + "\n")
    assert problems(data_copy) == [
        f'{data_copy / "series.csv"}, row 39 (line 40), column "series_id": series "phase23_outsourced_share_large" '
        "has no figure; expected at least one row of observations.csv for it (or remove the series)"
    ]


def test_a_number_with_a_thousands_comma_gets_a_hint(data_copy):
    """An unquoted 5,400 splits into two cells: the line says so, and what to write."""
    line = next(ln for ln in (data_copy / "observations.csv").read_text(encoding="utf-8").splitlines()[1:])
    series, period, value = line.split(",")[:3]
    replace_in(
        data_copy / "observations.csv",
        line,
        line.replace(f"{series},{period},{value},", f"{series},{period},5,400,", 1),
    )
    found = problems(data_copy)
    assert len(found) == 1 and found[0].endswith(
        'has 9 cells; expected 8 (one per column); "5,400" looks like a number with a thousands comma: write 5400'
    )


def test_a_semicolon_separated_file_is_one_line_about_the_separator(data_copy):
    path = data_copy / "definitions.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    found = problems(data_copy)
    assert found == [
        f'{path}: cells are separated by ";"; expected commas (in a spreadsheet, save as "CSV UTF-8 (comma delimited)")'
    ]


def test_spreadsheet_true_and_false_are_accepted(data_copy):
    path = data_copy / "observations.csv"
    text = path.read_text(encoding="utf-8")
    assert ",false," in text and ",true," in text
    path.write_text(text.replace(",false,", ",FALSE,").replace(",true,", ",True,"), encoding="utf-8")
    evidence = load(data_copy)
    assert evidence.observations["forecast"].any() and not evidence.observations["forecast"].all()
    assert evidence.observations["forecast"].sum() == load().observations["forecast"].sum()


@pytest.mark.parametrize(
    ("cell", "what"),
    [('"BIO\nindustry analysis"', "line break (U+000A)"), ('"BIO\rindustry analysis"', "carriage return (U+000D)")],
)
def test_a_line_break_inside_a_cell_is_found_past_the_whole_file_check(data_copy, cell, what):
    """read_table checks row by row only when the whole text hints at a control character: these must hint."""
    title = ",(as cited by the article) BIO industry analysis,2021-05,"
    replace_in(data_copy / "sources.csv", title, f",{cell},2021-05,")
    found = problems(data_copy)
    assert len(found) == 1 and found[0].startswith(f'{data_copy / "sources.csv"}, row 1 (line 2), column "title"')
    assert what in found[0]


def test_growth_factor_not_above_zero(data_copy):
    """Checked column-wise first (crobook.data.suspect_observations), then row by row for the message."""
    obs = data_copy / "observations.csv"
    line = next(
        x for x in obs.read_text(encoding="utf-8").split("\n") if x.startswith("phase3_biotech_products_growth,")
    )
    fields = line.split(",")
    replace_in(obs, line, ",".join([*fields[:2], "0", *fields[3:]]))
    found = problems(data_copy)
    assert len(found) == 1 and 'column "value": expected a growth factor above 0, got 0' in found[0]


def test_an_upper_end_without_between(data_copy):
    obs = data_copy / "observations.csv"
    line = next(x for x in obs.read_text(encoding="utf-8").split("\n") if x.startswith("cro_market,2017,31.2,"))
    fields = line.split(",")
    assert fields[5] == "", line  # value_high
    fields[5] = "40"
    replace_in(obs, line, ",".join(fields))
    found = problems(data_copy)
    assert found and 'column "value_high": expected an empty cell: only bound "between" has an upper end' in found[0]


def test_a_well_formed_file_reads_the_same_fast_and_row_by_row(tmp_path, monkeypatch):
    """read_table hands a well-formed file to pandas' parser and anything else to the csv module row by row; on
    a well-formed but awkward file (BOM, CRLF, quoted commas and doubled quotes, spaces around cells, ASCII or
    not, blank and empty rows, a spreadsheet's TRUE) both readings give the same table."""
    from crobook import data

    table = data.TABLES["observations"]
    lines = [
        ",".join(table.columns),
        ' s_one , 2021 ,65,src_a,about,, TRUE ,"a note, with a comma and ""quotes"""',
        "",
        "   ",
        ",,,,,,,",
        's_two,2022,1.5,src_b,exact,,false,"NA"',
        "\u00a0s_three\u3000,2023,2,src_c,exact,,false,ends with a space ",  # spaces other than ASCII's
    ]
    (tmp_path / table.file).write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    text = (tmp_path / table.file).read_text(encoding="utf-8-sig")
    assert data._well_formed(text, list(table.columns)) is not None  # the fast reading is the one tested
    fast, fast_problems = data.read_table(tmp_path, table)
    monkeypatch.setattr(data, "_well_formed", lambda *_: None)
    slow, slow_problems = data.read_table(tmp_path, table)
    assert fast_problems == slow_problems == []
    assert fast.equals(slow) and list(fast.index) == list(slow.index) == [1, 2, 3]
    assert fast.loc[3, "series_id"] == "s_three" and fast.loc[3, "note"] == "ends with a space"
    assert fast.loc[1, "note"] == 'a note, with a comma and "quotes"' and fast.loc[1, "forecast"] == "true"
    assert fast.loc[2, "note"] == "NA"  # text, never a missing value


@pytest.mark.parametrize(
    "row",
    [
        "s_one,2021,65,src_a,about,,false",
        "s_one,2021,65,src_a,about,,false,,x",
        's_one,2021,65,src_a,about,,false,"a\nb"',
    ],
    ids=["a cell too few", "a cell too many", "a line break in a quoted cell"],
)
def test_a_file_that_is_not_well_formed_is_read_row_by_row(row):
    from crobook import data

    table = data.TABLES["observations"]
    assert data._well_formed(",".join(table.columns) + "\n" + row + "\n", list(table.columns)) is None
