"""CRO revenues from company filings (claim C8): one basis per series, never summed, the ASC 606 change marked."""

import json

import pandas as pd
import pytest
import vl_convert

from crobook import charts, cro
from crobook.data import load
from crobook.page import chart_data


@pytest.fixture(scope="module")
def evidence():
    return load()


@pytest.fixture(scope="module")
def revenues(evidence):
    return cro.revenue_rows(evidence.observations)


@pytest.fixture(scope="module")
def spec(revenues):
    return charts.company_revenue_chart(revenues).to_dict()


def layers(spec: dict, mark: str) -> list[dict]:
    return [layer for layer in spec["layer"] if layer["mark"]["type"] == mark]


# --- the data ---------------------------------------------------------------------------------------------------


def test_company_revenue_series_are_c8_in_usd_m_and_outside_the_ledger(evidence):
    series = evidence.series[evidence.series["measure"] == cro.MEASURE]
    assert len(series) >= 10
    assert (series["unit"] == "usd_m").all() and (series["claim"] == "C8").all()
    assert (series["geography"] == "global").all()
    # the company figures are shown, never counted: no claim part links them
    assert not set(series["series_id"]) & set(evidence.claim_evidence["series_id"])
    assert not set(series["series_id"]) & set(evidence.claim_evidence["with_series"])


def test_every_series_has_a_single_accounting_basis_and_scope(revenues):
    assert (revenues.groupby("series_id")["accounting"].nunique() == 1).all()
    assert (revenues.groupby("series_id")["scope"].nunique() == 1).all()
    assert (revenues.groupby("series_id")["company"].nunique() == 1).all()


def test_series_ids_and_notes_say_the_same_basis_as_the_labels(revenues):
    for row in revenues.itertuples():
        before = row.accounting == cro.BEFORE
        assert before == any(word in row.series_id for word in ("before_asc606", "asc605", "excl_asc606")), row
        if before:
            assert "before ASC 606" in row.note or "ASC 605" in row.note or "without the effect of ASC 606" in row.note
        else:
            assert row.note.startswith("ASC 606 basis"), row
            assert row.year >= cro.ASC606_YEAR, row


def test_no_series_mixes_asc606_and_earlier_figures(evidence):
    obs = evidence.observations[evidence.observations["measure"] == cro.MEASURE]
    for series_id, group in obs.groupby("series_id"):
        notes = group["note"]
        on_606 = notes.str.startswith("ASC 606 basis")
        assert on_606.all() or not on_606.any(), series_id


def test_whole_company_and_segment_series_are_labelled_as_such(evidence, revenues):
    described = evidence.series.set_index("series_id")
    whole = revenues[revenues["scope"] == cro.WHOLE]
    assert {
        "iqvia_whole_company_revenue",
        "syneos_whole_company_revenue",
        "charles_river_whole_company_revenue",
    } <= set(whole["series_id"])
    for series_id in set(whole["series_id"]):
        assert "whole company" in described.loc[series_id, "label"]
        assert "whole company" in described.loc[series_id, "description"]
    for series_id in set(revenues.loc[revenues["scope"] == cro.SEGMENT, "series_id"]):
        assert "segment" in described.loc[series_id, "label"]


def test_company_names_agree_across_label_definition_and_source(evidence, revenues):
    definitions = evidence.definitions.set_index("definition_id")
    for row in revenues.itertuples():
        assert definitions.loc[row.definition_id, "publisher"] == row.company, row.series_id
        assert row.publisher == row.company, row.source_id
    # one definition per company
    assert revenues.groupby("company")["definition_id"].nunique().eq(1).all()


def test_one_figure_per_company_year_and_basis(revenues):
    assert not revenues.duplicated(["series_id", "year"]).any()
    assert (revenues["value"] > 0).all() and (revenues["forecast"] == False).all()  # noqa: E712


# --- the chart --------------------------------------------------------------------------------------------------


def test_chart_draws_one_line_per_series_and_never_sums(spec, revenues):
    shown = chart_data(spec)
    figures = shown.dropna(subset=["series_id"])
    assert figures["series_id"].nunique() == revenues["series_id"].nunique()
    assert len(figures) == len(revenues)  # each figure once: nothing added, nothing dropped
    assert sorted(figures["value"]) == sorted(revenues["value"])
    (line,) = layers(spec, "line")
    assert line["encoding"]["detail"]["field"] == "series_id"  # two series of one company are never joined
    for layer in spec["layer"]:
        assert "transform" not in layer or all("aggregate" not in t for t in layer["transform"])
        assert all("aggregate" not in enc for enc in layer.get("encoding", {}).values() if isinstance(enc, dict))
        assert layer.get("encoding", {}).get("y", {}).get("stack") in (None,)
    vega = vl_convert.vegalite_to_vega(spec)
    kinds = {t["type"] for d in vega["data"] for t in d.get("transform", [])}
    assert not kinds & {"aggregate", "stack", "joinaggregate"}


def test_chart_marks_the_asc606_change(spec):
    (rule,) = layers(spec, "rule")
    data = spec["datasets"][rule["data"]["name"]]
    assert [row["year"] for row in data] == [cro.ASC606_YEAR - 0.5]
    assert "ASC 606" in data[0]["text"] and "2018" in data[0]["text"]
    texts = [layer for layer in layers(spec, "text") if layer["data"]["name"] == rule["data"]["name"]]
    assert texts and texts[0]["encoding"]["text"]["field"] == "text"


def test_chart_names_whole_company_lines(spec, revenues):
    shown = chart_data(spec).dropna(subset=["series_id"])
    named = shown[shown["end_label"] == "whole company"]
    assert set(named["series_id"]) == set(revenues.loc[revenues["scope"] == cro.WHOLE, "series_id"])
    dash = layers(spec, "line")[0]["encoding"]["strokeDash"]
    assert cro.WHOLE in dash["scale"]["domain"] and "whole company" in cro.WHOLE


def test_chart_carries_its_sources_and_a_description(spec, revenues):
    shown = chart_data(spec).dropna(subset=["series_id"])
    assert {"publisher", "source_id", "company", "basis", "scope", "accounting"} <= set(shown.columns)
    assert set(shown["source_id"]) == set(revenues["source_id"])
    assert len(spec["description"]) > 40 and "never added together" in spec["description"]
    encodings = layers(spec, "line")[0]["encoding"]
    assert encodings["color"]["field"] == "company"
    assert {t["field"] for t in encodings["tooltip"]} >= {"company", "basis", "year", "value", "publisher"}
    json.dumps(spec)  # plain JSON, as the page embeds it


def test_chart_refuses_rows_without_the_basis_columns(evidence):
    rows = evidence.observations[evidence.observations["measure"] == cro.MEASURE]
    with pytest.raises(ValueError, match="revenue_rows"):
        charts.company_revenue_chart(rows)


# --- the helpers, on a small constructed frame ------------------------------------------------------------------


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["series_id", "label", "year", "value", "bound", "measure"])


SMALL = [
    ("a_606", "Acme: revenue, ASC 606", 2018, 200.0, "exact", "company_revenue"),
    ("a_606", "Acme: revenue, ASC 606", 2020, 250.0, "exact", "company_revenue"),
    ("a_before", "Acme: revenue before ASC 606", 2017, 100.0, "exact", "company_revenue"),
    ("a_before", "Acme: revenue before ASC 606", 2018, 160.0, "exact", "company_revenue"),
    ("b_whole", "Bolt: total revenue (whole company)", 2020, 1000.0, "exact", "company_revenue"),
    ("b_segment", "Bolt: CRO segment revenue", 2020, 400.0, "exact", "company_revenue"),
    ("other", "Market", 2020, 9.0, "exact", "cro_revenue"),
]


def test_revenue_rows_reads_company_scope_and_accounting_from_labels():
    rows = cro.revenue_rows(frame(SMALL)).set_index(["series_id", "year"])
    assert len(rows) == 6  # the market figure is not a company's
    assert rows.loc[("a_606", 2018), "company"] == "Acme" and rows.loc[("a_606", 2018), "basis"] == "revenue, ASC 606"
    assert rows.loc[("a_before", 2017), "accounting"] == cro.BEFORE
    assert rows.loc[("a_606", 2020), "accounting"] == cro.ASC606
    assert rows.loc[("b_whole", 2020), "scope"] == cro.WHOLE
    assert rows.loc[("b_segment", 2020), "scope"] == cro.SEGMENT
    assert rows.loc[("a_606", 2020), "scope"] == cro.OWN


def test_a_figure_before_2018_must_say_its_basis():
    with pytest.raises(ValueError, match="before ASC 606"):
        cro.revenue_rows(frame([("x", "Acme: revenue", 2017, 1.0, "exact", "company_revenue")]))
    with pytest.raises(ValueError, match="Company: what the line is"):
        cro.revenue_rows(frame([("x", "Acme revenue", 2019, 1.0, "exact", "company_revenue")]))


def test_a_series_whose_figures_differ_in_basis_is_refused():
    mixed = frame(
        [
            ("x", "Acme: revenue, ASC 606", 2019, 1.0, "exact", "company_revenue"),
            ("x", "Acme: revenue (whole company)", 2020, 1.0, "exact", "company_revenue"),
        ]
    )
    with pytest.raises(ValueError, match="mix figures of more than one scope"):
        cro.revenue_rows(mixed)


def test_growth_and_ratios_stay_within_a_series_or_a_company():
    rows = cro.revenue_rows(frame(SMALL))
    assert cro.growth_pct(rows, "a_606", 2018, 2020) == pytest.approx(25.0)
    assert cro.growth_pct(rows, "a_before", 2017, 2018) == pytest.approx(60.0)
    assert cro.value(rows, "b_whole", 2020) == 1000.0
    assert cro.ratio_pct(rows, "a_606", "a_before", 2018) == pytest.approx(125.0)
    assert cro.ratio_pct(rows, "b_segment", "b_whole", 2020) == pytest.approx(40.0)
    with pytest.raises(ValueError, match="not the same company"):
        cro.ratio_pct(rows, "a_606", "b_whole", 2020)
    with pytest.raises(KeyError):
        cro.growth_pct(rows, "a_606", 2017, 2020)  # no 2017 figure on the ASC 606 basis


def test_summary_counts_companies_company_years_and_series():
    rows = cro.revenue_rows(frame(SMALL))
    summary = cro.summary(rows)
    assert summary["companies"] == 2
    assert summary["company_years"] == 4  # Acme 2017, 2018, 2020; Bolt 2020
    assert summary["series"] == 4 and summary["figures"] == 6
    assert summary["whole_company_series"] == 1 and summary["segment_series"] == 1
    assert summary["before_asc606_series"] == 1
    assert (summary["first_year"], summary["last_year"]) == (2017, 2020)
    assert cro.companies_in(rows, 2020) == ["Acme", "Bolt"]
    assert cro.spanning(rows, 2017, 2018) == ["a_before"]
    assert cro.spanning(rows, 2017, 2020) == []


@pytest.mark.parametrize(
    ("start_bound", "end_bound", "direction", "words"),
    [
        ("exact", "exact", "exact", "about"),
        ("exact", "less than", "at most", "up to about"),
        ("exact", "more than", "at least", "at least about"),
        ("more than", "exact", "at most", "up to about"),
    ],
)
def test_conditional_growth_follows_the_bounds(start_bound, end_bound, direction, words):
    start = pd.Series({"value": 31.2, "bound": start_bound, "year": 2017})
    end = pd.Series({"value": 50.0, "bound": end_bound, "year": 2022})
    growth = cro.conditional_growth(start, end)
    assert growth.growth_pct == pytest.approx((50 / 31.2 - 1) * 100)
    assert growth.years == 5 and growth.direction == direction and growth.words == words


def test_conditional_growth_refuses_bounds_open_both_ways():
    start = pd.Series({"value": 30.0, "bound": "less than", "year": 2017})
    end = pd.Series({"value": 50.0, "bound": "less than", "year": 2022})
    with pytest.raises(ValueError, match="both ways"):
        cro.conditional_growth(start, end)
