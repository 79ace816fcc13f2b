"""CRO revenues as the companies report them (claim C8): one series per company and basis, never added up.

A company-revenue series (measure `company_revenue`) is labelled `Company: what the line is`. The label says
the two things a reader needs to keep lines apart, and the functions here read them from it:

- what the revenue covers: the CRO company itself, a CRO *segment* of a larger company, or the *whole company*
  where it does more than CRO work;
- the accounting: from 1 January 2018 (ASC 606) reimbursed out-of-pocket expenses count as revenue, before it
  they did not. A label says `before ASC 606`, `ASC 605` or `excluding the ASC 606 effect` for the older basis;
  any other figure must be for 2018 or later.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from crobook.analysis import growth_factor

MEASURE = "company_revenue"
ASC606_YEAR = 2018  # ASC 606 applies to US GAAP filers' years beginning on or after 15 December 2017

OWN = "the CRO company"
SEGMENT = "CRO segment of a larger company"
WHOLE = "whole company, beyond CRO work"
SCOPES = (OWN, SEGMENT, WHOLE)

ASC606 = "ASC 606: reimbursed expenses in revenue"
BEFORE = "before ASC 606: net of reimbursed expenses"
ACCOUNTING = (ASC606, BEFORE)
_BEFORE_WORDS = ("before asc 606", "asc 605", "excluding the asc 606", "excluding asc 606")


def company_of(label: str) -> str:
    """`ICON plc: revenue, ASC 606` -> `ICON plc`."""
    company, sep, basis = label.partition(": ")
    if not sep or not company or not basis:
        raise ValueError(f'company-revenue label "{label}" should read "Company: what the line is"')
    return company


def basis_of(label: str) -> str:
    """`ICON plc: revenue, ASC 606` -> `revenue, ASC 606`."""
    company_of(label)
    return label.partition(": ")[2]


def scope_of(label: str) -> str:
    basis = basis_of(label).lower()
    if "whole company" in basis:
        return WHOLE
    if "segment" in basis:
        return SEGMENT
    return OWN


def accounting_of(label: str, year: int) -> str:
    """The accounting basis a figure is on; a figure before 2018 must say it is on the older basis."""
    if any(words in basis_of(label).lower() for words in _BEFORE_WORDS):
        return BEFORE
    if year < ASC606_YEAR:
        raise ValueError(
            f'"{label}" has a figure for {year}, before ASC 606 took effect, but its label does not say '
            '"before ASC 606" or "ASC 605"'
        )
    return ASC606


def revenue_rows(observations: pd.DataFrame) -> pd.DataFrame:
    """The company-revenue figures, with `company`, `basis`, `scope` and `accounting` columns.

    Raises ValueError if a series holds figures on two accounting bases or scopes: a line must never join them."""
    rows = observations[observations["measure"] == MEASURE].copy()
    rows["company"] = rows["label"].map(company_of)
    rows["basis"] = rows["label"].map(basis_of)
    rows["scope"] = rows["label"].map(scope_of)
    rows["accounting"] = [accounting_of(label, int(year)) for label, year in zip(rows["label"], rows["year"])]
    for column in ("company", "scope", "accounting"):
        mixed = rows.groupby("series_id")[column].nunique()
        if (mixed > 1).any():
            raise ValueError(f"series {sorted(mixed[mixed > 1].index)} mix figures of more than one {column}")
    return rows.sort_values(["company", "series_id", "year"]).reset_index(drop=True)


def _figure(rows: pd.DataFrame, series_id: str, year: int) -> pd.Series:
    found = rows[(rows["series_id"] == series_id) & (rows["year"] == year)]
    if len(found) != 1:
        raise KeyError(f"expected one figure of {series_id} for {year}, found {len(found)}")
    return found.iloc[0]


def value(rows: pd.DataFrame, series_id: str, year: int) -> float:
    """The one figure of a series for a year."""
    return float(_figure(rows, series_id, year)["value"])


def growth_pct(rows: pd.DataFrame, series_id: str, from_year: int, to_year: int) -> float:
    """Growth in percent within one series (one company, one basis) from one year to another."""
    start, end = _figure(rows, series_id, from_year), _figure(rows, series_id, to_year)
    return float((growth_factor(start["value"], end["value"]) - 1) * 100)


def ratio_pct(rows: pd.DataFrame, series_id: str, of_series_id: str, year: int) -> float:
    """100 × one series over another for the same company and year: two bases of one company's revenue."""
    first, second = _figure(rows, series_id, year), _figure(rows, of_series_id, year)
    if first["company"] != second["company"]:
        raise ValueError(f"{series_id} and {of_series_id} are not the same company's figures")
    return float(100 * first["value"] / second["value"])


def summary(rows: pd.DataFrame) -> dict:
    """How much the company figures cover: companies, company-years, series, figures and years."""
    return {
        "companies": int(rows["company"].nunique()),
        "company_years": int(rows[["company", "year"]].drop_duplicates().shape[0]),
        "series": int(rows["series_id"].nunique()),
        "figures": len(rows),
        "whole_company_series": int(rows.loc[rows["scope"] == WHOLE, "series_id"].nunique()),
        "segment_series": int(rows.loc[rows["scope"] == SEGMENT, "series_id"].nunique()),
        "before_asc606_series": int(rows.loc[rows["accounting"] == BEFORE, "series_id"].nunique()),
        "first_year": int(rows["year"].min()),
        "last_year": int(rows["year"].max()),
    }


def companies_in(rows: pd.DataFrame, year: int) -> list[str]:
    """The companies with at least one figure for `year`, in alphabetical order."""
    return sorted(rows.loc[rows["year"] == year, "company"].unique())


def spanning(rows: pd.DataFrame, from_year: int, to_year: int) -> list[str]:
    """The series with a figure for both years: only these can show growth between them on one basis."""
    years = rows.groupby("series_id")["year"].agg(set)
    return sorted(s for s, held in years.items() if {from_year, to_year} <= held)


@dataclass(frozen=True)
class ConditionalGrowth:
    """Growth between two figures of which one is not evidence (such as the article's own attribution)."""

    growth_pct: float
    years: int
    direction: str  # "exact", "at most" or "at least": what the figures' bounds make of the growth

    @property
    def words(self) -> str:
        """How the prose introduces the rounded growth: `up to about`, `about`, `at least about`."""
        return {"at most": "up to about", "exact": "about", "at least": "at least about"}[self.direction]

    def as_dict(self) -> dict:
        return asdict(self) | {"words": self.words}


def conditional_growth(start: pd.Series, end: pd.Series) -> ConditionalGrowth:
    """Growth from `start` to `end` (observation rows), with what their bounds make of it: an end figure given as
    "nearly" (less than) or a start given as "more than" make the growth an upper bound, and the reverse a lower one.
    """
    upper = end["bound"] == "less than" or start["bound"] == "more than"
    lower = end["bound"] == "more than" or start["bound"] == "less than"
    if upper and lower:
        raise ValueError("the bounds of the two figures leave the growth open both ways")
    if "between" in (start["bound"], end["bound"]):
        raise ValueError("growth from or to a range is not a single figure")
    direction = "at most" if upper else "at least" if lower else "exact"
    return ConditionalGrowth(
        growth_pct=float((growth_factor(start["value"], end["value"]) - 1) * 100),
        years=int(end["year"] - start["year"]),
        direction=direction,
    )
