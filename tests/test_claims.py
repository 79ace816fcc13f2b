"""Every ledger rule on constructed data that makes it hold and that makes it fail; then on the shipped data."""

import csv
import shutil
from pathlib import Path

import pytest

from crobook import claims
from crobook.data import DEFAULT_DATA_DIR, load

SOURCES = [
    ("article", "ICON plc", "Article", "2023", "", "as-cited", "", "not checked", ""),
    ("pub-a", "Publisher A", "Report A", "2022", "https://example.org/a", "reported", "", "confirmed", ""),
    ("pub-b", "Publisher B", "Report B", "2023", "", "reported", "", "confirmed", ""),
]
SERIES = [
    ("share", "C1", "Share", "A share", "percent"),
    ("share_b", "C1", "Share B", "Another share", "percent"),
    ("money", "C4", "Money", "Money raised", "usd_bn"),
    ("money_b", "C4", "Money B", "Money raised, other estimator", "usd_bn"),
]


def write(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def dataset(tmp_path: Path, observations: list[tuple], claim: dict) -> Path:
    """A minimal data folder: three sources, four series, the given observations and one claim."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(DEFAULT_DATA_DIR / "outsourcing_models.csv", data)
    write(
        data / "sources.csv",
        ["source_id", "publisher", "title", "published", "url", "grade", "via", "check", "check_note"],
        SOURCES + [("icon-article", "ICON plc", "Article", "~2023", "", "as-cited", "", "not checked", "")],
    )
    write(data / "series.csv", ["series_id", "claim", "label", "description", "unit"], SERIES)
    write(
        data / "observations.csv",
        ["series_id", "period", "value", "source_id", "approximate", "forecast", "note"],
        [(s, p, v, src, "false", "false", "") for s, p, v, src in observations],
    )
    row = {
        "claim_id": "C1",
        "statement": "A claim.",
        "cited_series": "",
        "cited_period": "",
        "evidence_series": "",
        "rule": "none",
        "tolerance": "",
        "if_holds": "supported",
        "if_fails": "contradicted",
        "chapter": "pipeline",
        "note": "",
    } | claim
    write(data / "claims.csv", list(row), [tuple(row.values())])
    return data


def status(tmp_path: Path, observations: list[tuple], claim: dict) -> str:
    return claims.evaluate(load(dataset(tmp_path, observations, claim)))["status"].iloc[0]


WITHIN = {
    "rule": "within_points",
    "cited_series": "share",
    "cited_period": "2021",
    "evidence_series": "share share_b",
    "tolerance": "5",
}


@pytest.mark.parametrize(("independent", "expected"), [(66.0, "supported"), (64.0, "contradicted")])
def test_within_points(tmp_path, independent, expected):
    obs = [
        ("share", "2021", 70, "article"),
        ("share_b", "2021", independent, "pub-a"),
        ("share_b", "2015", 70, "pub-b"),
    ]
    assert status(tmp_path, obs, WITHIN) == expected  # the 2015 figure is further from 2021 and is ignored


def test_within_points_takes_the_median_of_the_nearest_year(tmp_path):
    obs = [("share", "2021", 70, "article"), ("share_b", "2022", 60, "pub-a"), ("share", "2022", 74, "pub-b")]
    ledger = claims.evaluate(load(dataset(tmp_path, obs, WITHIN)))
    assert ledger["status"].iloc[0] == "supported"  # median 67 is 3 points away
    assert ledger["best"].iloc[0].startswith("67%")


def test_within_points_without_independent_evidence_is_not_testable(tmp_path):
    assert status(tmp_path, [("share", "2021", 70, "article")], WITHIN) == "not testable"


AT_LEAST = {
    "rule": "at_least",
    "cited_series": "money",
    "cited_period": "2023",
    "evidence_series": "money",
    "tolerance": "0",
}


@pytest.mark.parametrize(("a", "b", "expected"), [(48, 60, "supported"), (40, 45, "contradicted")])
def test_at_least(tmp_path, a, b, expected):
    obs = [("money", "2023", 50, "article"), ("money", "2023", a, "pub-a"), ("money", "2023", b, "pub-b")]
    assert status(tmp_path, obs, AT_LEAST) == expected  # the median of the two estimates against the floor of 50


PEAK = {"rule": "peaks_in", "cited_period": "2021", "evidence_series": "money money_b"}


def test_peaks_in_holds_when_every_series_peaks_in_the_year(tmp_path):
    obs = [
        ("money", "2020", 30, "pub-a"),
        ("money", "2021", 50, "pub-a"),
        ("money", "2022", 35, "pub-a"),
        ("money_b", "2021", 20, "pub-b"),
        ("money_b", "2023", 10, "pub-b"),
    ]
    assert status(tmp_path, obs, PEAK) == "supported"


def test_peaks_in_fails_when_one_series_peaks_later(tmp_path):
    obs = [
        ("money", "2021", 50, "pub-a"),
        ("money", "2022", 35, "pub-a"),
        ("money_b", "2021", 20, "pub-b"),
        ("money_b", "2023", 25, "pub-b"),
    ]
    assert status(tmp_path, obs, PEAK) == "contradicted"


def test_peaks_in_ignores_series_without_a_later_year(tmp_path):
    obs = [("money", "2020", 60, "pub-a"), ("money", "2021", 50, "pub-a")]
    assert status(tmp_path, obs, PEAK) == "not testable"


RISES = {"rule": "rises", "evidence_series": "share_b", "if_holds": "partly supported"}


@pytest.mark.parametrize(("end", "expected"), [(64, "partly supported"), (30, "contradicted")])
def test_rises(tmp_path, end, expected):
    obs = [("share_b", "2015", 42, "pub-a"), ("share_b", "2024", end, "pub-b")]
    assert status(tmp_path, obs, RISES) == expected


LARGER = {"rule": "larger_rise", "evidence_series": "share share_b", "if_holds": "partly supported"}


@pytest.mark.parametrize(("end_b", "expected"), [(84, "partly supported"), (99, "contradicted")])
def test_larger_rise(tmp_path, end_b, expected):
    obs = [
        ("share", "2022", 81, "article"),
        ("share", "2026", 93, "article"),
        ("share_b", "2022", 81, "article"),
        ("share_b", "2026", end_b, "article"),
    ]
    assert status(tmp_path, obs, LARGER) == expected


def test_rule_none_is_not_testable(tmp_path):
    assert status(tmp_path, [("share", "2021", 70, "article")], {"rule": "none"}) == "not testable"


def test_claims_file_problems_are_reported(tmp_path):
    data = dataset(
        tmp_path,
        [("share", "2021", 70, "article")],
        {"rule": "within_points", "evidence_series": "share nope", "cited_series": "share"},
    )
    from crobook.data import DataError

    with pytest.raises(DataError) as err:
        load(data)
    found = [str(p) for p in err.value.problems]
    assert any('claims.csv, row 1 (line 2), column "evidence_series": unknown series "nope"' in p for p in found)
    assert any('column "cited_period": expected a value: rule within_points needs it' in p for p in found)
    assert any('column "tolerance": expected a value' in p for p in found)


def test_shipped_ledger():
    ledger = claims.evaluate(load()).set_index("claim_id")
    assert list(ledger.index) == [f"C{i}" for i in range(1, 10)]
    assert set(ledger["status"]) <= {"supported", "partly supported", "contradicted", "not testable"}
    # C5 and C9 have no public figures that could decide them
    assert ledger.loc["C5", "status"] == ledger.loc["C9", "status"] == "not testable"
    for claim_id, row in ledger.iterrows():
        assert row["sentence"].startswith(f"Claim {claim_id} is {row['status']}")


def test_changing_one_figure_flips_a_claim(data_copy):
    before = claims.evaluate(load(data_copy)).set_index("claim_id").loc["C1", "status"]
    path = data_copy / "observations.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("ebp_share_rd_pipeline,2021,65,", "ebp_share_rd_pipeline,2021,55,"),
        encoding="utf-8",
    )
    after = claims.evaluate(load(data_copy)).set_index("claim_id").loc["C1"]
    assert before == "supported" and after["status"] == "contradicted"
    assert "55%" in after["sentence"]
