"""The approvals register: FDA's list by applicant, classified by company size from data (claim C3)."""

from pathlib import Path

import pandas as pd
import pytest

from crobook import approvals, claims
from crobook.data import DataError, load

APPROVALS = approvals.Register(
    approvals=pd.DataFrame(
        {
            "year": ["2021"] * 4 + ["2022"] * 2,
            "drug": ["A", "B", "C", "D", "E", "F"],
            "applicant": ["Big One Inc", "Small Bio", "Big Two", "Tiny Tx", "Big Two", "Small Bio"],
            "developer": ["", "", "Tiny Tx", "", "", ""],
        }
    ),
    companies=pd.DataFrame({"company": ["Big One", "Big Two", "Mid Co", "Small Bio", "Tiny Tx"]}),
    aliases=pd.DataFrame({"alias": ["Big One Inc"], "company": ["Big One"]}),
    rankings=pd.DataFrame(
        {
            "year": ["2021", "2021", "2021"],
            "rank": ["1", "2", "3"],
            "company": ["Big Two", "Big One Inc", "Mid Co"],
            "measure": ["revenue"] * 3,
            "ranked": ["as published"] * 3,
            "source_id": ["r-2021"] * 3,
        }
    ),
)


def test_share_outside_the_top_n_on_constructed_data():
    found = approvals.outside_top(APPROVALS, 2021, 2)
    assert (found["outside"], found["total"], found["share"]) == (2, 4, 50.0)  # the alias counts with its group
    assert approvals.outside_top(APPROVALS, 2021, 1)["outside"] == 3
    assert approvals.outside_top(APPROVALS, 2021, 4) is None  # no ranking lists four companies


def test_a_later_year_uses_the_nearest_earlier_ranking():
    found = approvals.outside_top(APPROVALS, 2022, 2)
    assert found["ranking"]["year"] == 2021 and found["outside"] == 1


def test_counting_the_developer_moves_an_acquired_drug_to_its_smaller_developer():
    assert approvals.outside_top(APPROVALS, 2021, 2, by="developer")["outside"] == 3


def test_sensitivity_lists_every_line_and_says_where_none_can_be_drawn():
    table = approvals.sensitivity(APPROVALS, 2021, ns=(1, 2, 4))
    by_applicant = table[table["counted_by"] == "applicant"].set_index("n")["share"]
    assert by_applicant[1] == 75.0 and by_applicant[2] == 50.0 and pd.isna(by_applicant[4])


def test_shipped_2021_count_follows_the_size_line():
    shares = {n: approvals.outside_top(approvals.Register.of(load()), 2021, n)["share"] for n in (10, 15, 20)}
    assert shares == {10: 74.0, 15: 66.0, 20: 64.0}
    assert approvals.outside_top(approvals.Register.of(load()), 2021, 25) is None  # ranks 21-25 were not found


def test_only_completely_covered_years_reach_the_ledger():
    evidence = load()
    assert approvals.covered_years(evidence.approvals) == [2021]
    rows = evidence.observations[evidence.observations["series_id"] == approvals.SHARE_SERIES]
    assert list(rows["period"]) == ["2021"] and rows["grade"].iloc[0] == "official"


@pytest.mark.parametrize(("top_n", "status"), [(20, "supported"), (15, "supported"), (10, "contradicted")])
def test_the_size_line_moves_the_c3_verdict(top_n, status):
    ledger = claims.assess(load(book={"top_n": top_n}))
    part = ledger.parts.set_index(["claim_id", "part"]).loc[("C3", "a")]
    assert part["status"] == status and part["tier"] == "direct"
    assert f"size line: top {top_n}" in part["sentence"]


# ------------------------------------------------------------------ validation


def problems(data: Path) -> list[str]:
    with pytest.raises(DataError) as err:
        load(data)
    return [str(p) for p in err.value.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_unmatched_applicant_fails_with_its_row_and_a_suggestion(data_copy):
    edit(data_copy / "approvals.csv", ",Janssen Biotech,", ",Janssen Biotec,")
    found = problems(data_copy)
    assert len(found) == 1
    assert 'approvals.csv, row 20 (line 21), column "applicant": no company or alias "Janssen Biotec"' in found[0]
    assert 'did you mean "Janssen Biotech"' in found[0]


def test_an_unmatched_ranking_company_fails(data_copy):
    edit(data_copy / "company_rankings.csv", ",Merck & Co. (MSD),", ",Merck and Co,")
    found = problems(data_copy)
    assert any(
        'company_rankings.csv, row 16 (line 17), column "company": no company or alias "Merck and Co"' in p
        for p in found
    )


def test_a_year_whose_count_differs_from_cders_fails_naming_both_numbers(data_copy):
    path = data_copy / "approvals.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if ",Lybalvi," not in line), encoding="utf-8")
    found = problems(data_copy)
    assert any("2021 has 49 approvals; CDER's published count is 50" in p for p in found), found


def test_a_date_outside_its_year_and_a_drug_twice_in_a_year_fail(data_copy):
    edit(data_copy / "approvals.csv", "2021,2021-01-22,Lupkynis,", "2021,2022-01-22,Lupkynis,")
    edit(data_copy / "approvals.csv", "2021,2021-02-05,Ukoniq,", "2021,2021-02-05,Cosela,")
    found = problems(data_copy)
    assert any('column "approval_date": expected a date in 2021, got "2022-01-22"' in p for p in found)
    assert any("duplicate key (year=2021, drug=Cosela)" in p for p in found)


def test_an_applicant_and_its_check_must_agree(data_copy):
    edit(data_copy / "approvals.csv", ",Aurinia Pharmaceuticals,,", ",,,")
    found = problems(data_copy)
    assert any('column "check": expected an applicant, or check "not found"' in p for p in found)


def test_an_alias_must_name_a_known_company(data_copy):
    edit(data_copy / "company_aliases.csv", "ViiV Healthcare,GSK,", "ViiV Healthcare,GSKK,")
    found = problems(data_copy)
    assert any(
        "company_aliases.csv" in p and 'unknown company "GSKK"' in p and 'did you mean "GSK"' in p for p in found
    )


def test_a_data_folder_without_the_register_has_no_approvals(data_copy):
    for name in ("approvals.csv", "companies.csv", "company_aliases.csv", "company_rankings.csv"):
        (data_copy / name).unlink()
    evidence = load(data_copy)
    assert evidence.approvals.empty
    assert approvals.SHARE_SERIES not in set(evidence.observations["series_id"])


def test_half_a_register_is_an_error(data_copy):
    (data_copy / "company_aliases.csv").unlink()
    assert any("company_aliases.csv: file not found" in p for p in problems(data_copy))
