"""The book at scale: a synthetic data folder many times today's, long tables and charts kept to a size a page
can carry, source lines that stay short."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import altair as alt
import pandas as pd
import pytest

from crobook import charts, cro, page, tables
from crobook.data import DEFAULT_DATA_DIR, load

ROOT = Path(__file__).resolve().parent.parent
CLAIMS_TABLES = ("claims.csv", "claim_parts.csv", "claim_evidence.csv")


def _scale_module():
    spec = importlib.util.spec_from_file_location("scale", ROOT / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scaled_3(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scaled") / "data"
    _scale_module().make(3, folder)
    return folder


def test_generator_makes_a_valid_folder_of_the_right_size(scaled_3):
    today = pd.read_csv(DEFAULT_DATA_DIR / "observations.csv")
    scaled = pd.read_csv(scaled_3 / "observations.csv")
    assert len(scaled) == 3 * len(today)
    evidence = load(scaled_3)  # raises DataError on any invalid row
    series = evidence.series
    # Copies are new series with the claim, measure and definition of the series they copy.
    copy = series.set_index("series_id").loc["ebp_share_rd_pipeline_x2"]
    original = series.set_index("series_id").loc["ebp_share_rd_pipeline"]
    assert (
        copy[["claim", "measure", "definition_id"]].tolist() == original[["claim", "measure", "definition_id"]].tolist()
    )
    sources = evidence.sources.set_index("source_id")
    new_source = scaled.loc[scaled["series_id"] == "ebp_share_rd_pipeline_x2", "source_id"].iloc[0]
    old_source = today.loc[today["series_id"] == "ebp_share_rd_pipeline", "source_id"].iloc[0]
    assert new_source != old_source
    assert sources.loc[new_source, "grade"] == sources.loc[old_source, "grade"]
    for name in CLAIMS_TABLES:
        assert (scaled_3 / name).read_bytes() == (DEFAULT_DATA_DIR / name).read_bytes()


def test_generator_is_deterministic_and_moves_values_a_little(scaled_3, tmp_path):
    count = _scale_module().make(3, tmp_path / "again")
    assert count == len(pd.read_csv(scaled_3 / "observations.csv"))
    assert (tmp_path / "again" / "observations.csv").read_bytes() == (scaled_3 / "observations.csv").read_bytes()
    scaled = pd.read_csv(scaled_3 / "observations.csv")
    today = pd.read_csv(DEFAULT_DATA_DIR / "observations.csv")
    copies = scaled.iloc[len(today) : 2 * len(today)].reset_index(drop=True)
    # At most 2% apart, give or take the rounding to the figure's own decimals (at most half a unit).
    assert ((copies["value"] - today["value"]).abs() <= 0.02 * today["value"].abs() + 0.5).all()
    assert not (copies["value"] == today["value"]).all()


def test_a_short_table_is_shown_whole():
    frame = pd.DataFrame({"a": range(tables.LONG_TABLE)})
    shown, more = tables.shortened(frame)
    assert len(shown) == tables.LONG_TABLE and more == ""


def test_a_long_table_shows_its_first_rows_and_the_csv_keeps_every_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = 1_234
    frame = pd.DataFrame({"Figure": [f"series {i}" for i in range(rows)], "Value": [float(i) for i in range(rows)]})
    observations = pd.DataFrame({"source_id": ["s"], "publisher": ["P"], "via": [""], "published": ["2020"]})
    text = tables.table(frame, "tbl-long", "A long table", observations).data.replace("\\", "")
    body = [line for line in text.splitlines() if line.startswith("| series ")]
    assert len(body) == tables.SHOWN_ROWS
    assert body[-1].startswith(f"| series {tables.SHOWN_ROWS - 1} |")
    assert f"first {tables.SHOWN_ROWS} of 1,234 rows" in text
    assert f"{rows - tables.SHOWN_ROWS:,} more rows are in the CSV file" in text
    assert len(pd.read_csv(tmp_path / "views" / "tbl-long.csv")) == rows


def test_a_source_line_names_some_publishers_and_counts_the_rest():
    count = charts.SOURCE_LINE_ENTRIES + 60
    rows = pd.DataFrame(
        {"publisher": [f"Publisher {i}" for i in range(count)], "via": [""] * count, "published": ["2021"] * count}
    )
    line = charts.source_line(rows)
    assert "Publisher 0 (2021)" in line
    assert f"Publisher {charts.SOURCE_LINE_ENTRIES - 1} (2021)" in line
    assert f"Publisher {charts.SOURCE_LINE_ENTRIES} (" not in line
    assert line.endswith("and 60 more sources (see the sources appendix).")
    few = rows.head(3)
    assert charts.source_line(few) == "Sources: Publisher 0 (2021); Publisher 1 (2021); Publisher 2 (2021)."


def _series_rows(series: int, years: int) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"series_id": f"s{s}", "label": f"Series {s}", "year": 2000 + y, "period": str(2000 + y), "value": s + y}
            for s in range(series)
            for y in range(years)
        ]
    )


def _rows_in(spec: dict) -> int:
    return sum(len(rows) for rows in spec.get("datasets", {}).values())


def test_few_series_are_drawn_whole():
    rows = _series_rows(charts.CHART_SERIES, 3)
    kept, left_out = charts.whole_series(rows)
    assert left_out == 0 and kept.equals(rows)


def test_many_series_are_cut_to_whole_series_and_counted():
    rows = _series_rows(300, 7)
    kept, left_out = charts.whole_series(rows)
    assert len(kept) <= charts.CHART_ROWS and kept["series_id"].nunique() <= charts.CHART_SERIES
    assert (kept.groupby("series_id").size() == 7).all()  # never part of a series
    assert left_out == 300 - kept["series_id"].nunique()


def test_many_series_are_taken_in_turns_from_each_group():
    rows = _series_rows(100, 2).assign(company=lambda f: ["A" if i < 180 else "B" for i in range(len(f))])
    kept, _ = charts.whole_series(rows, by="company")
    assert set(kept["company"]) == {"A", "B"}


def test_a_chart_of_more_than_5000_rows_is_drawn_from_a_bounded_number():
    rows = _series_rows(1_000, 8)  # 8,000 rows: Altair alone refuses them
    with pytest.raises(alt.MaxRowsError):
        alt.Chart(rows).mark_line().encode(x="year:Q", y="value:Q").to_dict()
    chart = charts.lines_chart(rows, "Many series", "Value", "A test chart")
    spec = chart.to_dict()
    assert 0 < _rows_in(spec) <= charts.CHART_ROWS
    assert "more not drawn" in spec["title"]["subtitle"][0]


def test_today_charts_are_not_cut():
    rows = _series_rows(5, 6)
    spec = charts.lines_chart(rows, "A few series", "Value", "A test chart").to_dict()
    assert _rows_in(spec) == len(rows) and spec["title"] == "A few series"


def test_the_revenue_chart_of_a_scaled_folder_stays_bounded(tmp_path):
    folder = tmp_path / "data"
    _scale_module().make(100, folder)
    revenues = cro.revenue_rows(load(folder).observations)
    assert len(revenues) > 5_000 or revenues["series_id"].nunique() > charts.CHART_SERIES
    spec = charts.company_revenue_chart(revenues).to_dict()
    assert 0 < _rows_in(spec) <= charts.CHART_ROWS + 1  # the figures, and the one-row frame of the ASC 606 rule
    assert len(spec["description"]) < 20_000


@pytest.mark.build
def test_chapters_run_at_100_times_the_data(tmp_path):
    """Every chapter executes on a folder 100 times today's (the website's chapters; the PDF needs a full build)."""
    folder = tmp_path / "data"
    _scale_module().make(100, folder)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "crobook.cli", "run", "sources", "--data", str(folder), "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    long_listing = pd.read_csv(out / "views" / "tbl-sources.csv")
    assert len(long_listing) > tables.LONG_TABLE


def test_chapters_read_the_data_the_build_validated(data_copy, tmp_path, monkeypatch):
    import pickle

    from crobook.data import EVIDENCE_ENV, load

    handed = load(data_copy)
    path = tmp_path / "evidence.pickle"
    path.write_bytes(pickle.dumps(handed))
    monkeypatch.setenv(EVIDENCE_ENV, str(path))
    calls = []
    monkeypatch.setattr("crobook.data.load", lambda *a, **k: calls.append(a) or handed)
    again = page.load(str(data_copy))
    assert calls == [] and again.observations.equals(handed.observations)
    # Another folder, other parameters: the chapter reads the folder itself.
    page.load("")
    page.load(str(data_copy), {"top_n": 10})
    assert len(calls) == 2


def test_without_a_build_a_chapter_validates_the_folder_itself(data_copy, monkeypatch):
    from crobook.data import EVIDENCE_ENV, DataError

    monkeypatch.delenv(EVIDENCE_ENV, raising=False)
    observations = data_copy / "observations.csv"
    observations.write_text(observations.read_text(encoding="utf-8").replace(",2021,65,", ",2021,6x5,", 1))
    with pytest.raises(DataError):
        page.load(str(data_copy))


def test_a_chart_converted_once_is_read_back_in_later_builds(tmp_path, monkeypatch):
    spec = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_point().encode(x="x:Q", y="y:Q").to_dict()
    monkeypatch.setenv(charts.CHART_CACHE_ENV, str(tmp_path / "charts"))
    svg, pdf = charts.converted(spec, "svg"), charts.converted(spec, "pdf", "fig-test")
    assert svg.startswith(b"<svg") and pdf.startswith(b"%PDF")
    assert len(list((tmp_path / "charts").iterdir())) == 2
    # vl-convert's PDFs may differ run to run (not always: two conversions within a second can match), so a PDF
    # is kept per figure and never shared by two figures of the same chart (see converted)
    charts.converted(spec, "pdf", "fig-other")
    assert len(list((tmp_path / "charts").iterdir())) == 3

    def refuse(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(charts.vl_convert, "vegalite_to_svg", refuse)
    monkeypatch.setattr(charts.vl_convert, "vegalite_to_pdf", refuse)
    assert charts.converted(spec, "svg") == svg and charts.converted(spec, "pdf", "fig-test") == pdf
    other = spec | {"description": "another chart"}
    monkeypatch.delenv(charts.CHART_CACHE_ENV)
    with pytest.raises(AssertionError, match="converted again"):  # without the build's folder, nothing is kept
        charts.converted(other, "svg")
