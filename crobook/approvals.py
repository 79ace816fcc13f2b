"""FDA novel approvals counted by company size: the direct test of claim C3.

Every applicant is resolved to its group by a rule a reader can see: a name of `companies.csv` is its own
group; an alias of `company_aliases.csv` (a subsidiary, unit or former name) belongs to the group it names.
A group is *large* when it is among the top N of the year's revenue ranking (`company_rankings.csv`),
N being the book parameter `top_n`. Nothing is matched by guesswork: a name that is neither a company nor an
alias is a validation error, and a fuzzy match is only ever offered as a suggestion in that message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from rapidfuzz import fuzz, process

TOP_N = 20  # the book's default size line (params/default.yaml, book.top_n)
SENSITIVITY = (10, 15, 20, 25)
SHARE_SERIES = "fda_approvals_outside_top_n_share"  # the derived series the ledger reads for C3


@dataclass(frozen=True)
class Register:
    """The four tables the count needs: approvals, companies, aliases and revenue rankings."""

    approvals: pd.DataFrame
    companies: pd.DataFrame
    aliases: pd.DataFrame
    rankings: pd.DataFrame

    @classmethod
    def of(cls, evidence) -> Register:
        return cls(evidence.approvals, evidence.companies, evidence.aliases, evidence.rankings)


def groups(companies: pd.DataFrame, aliases: pd.DataFrame) -> dict[str, str]:
    """Name as printed -> company group: every company is its own group, every alias names one."""
    return {name: name for name in companies["company"]} | dict(zip(aliases["alias"], aliases["company"]))


def suggestion(name: str, names: list[str]) -> str:
    """A hint for a name that matches nothing: the closest known names, for the analyst to judge."""
    found = process.extract(name, names, scorer=fuzz.WRatio, limit=2, score_cutoff=80)
    if not found:
        return ""
    return "; did you mean " + " or ".join(f'"{match}"' for match, _, _ in found) + "?"


def ranking(rankings: pd.DataFrame, year: int, n: int, lookup: dict[str, str]) -> dict | None:
    """The ranking that draws the top-`n` line for approvals of `year`: that year's, else the nearest earlier
    one; among a year's rankings, the deepest that lists every rank from 1 to n. None when none does."""
    frame = rankings.assign(year=rankings["year"].astype(int), rank=rankings["rank"].astype(int))
    for ranked_year in sorted({y for y in frame["year"] if y <= year}, reverse=True):
        candidates = []
        for source_id, table in frame[frame["year"] == ranked_year].groupby("source_id", sort=False):
            if set(range(1, n + 1)) <= set(table["rank"]):
                candidates.append((int(table["rank"].max()), source_id, table))
        if candidates:
            depth, source_id, table = max(candidates, key=lambda c: c[0])
            top = table[table["rank"] <= n]
            return {
                "year": ranked_year,
                "source_id": source_id,
                "depth": depth,
                "measure": top["measure"].iloc[0],
                "ranked": top["ranked"].iloc[0],
                "groups": {lookup[c] for c in top["company"]},
            }
    return None


def covered_years(approvals: pd.DataFrame) -> list[int]:
    """Years whose every approval has its applicant."""
    filled = approvals.groupby("year")["applicant"].agg(lambda s: bool((s != "").all()))
    return sorted(int(y) for y, complete in filled.items() if complete)


def classify(approvals: pd.DataFrame, lookup: dict[str, str], large: set[str], by: str = "applicant") -> pd.DataFrame:
    """Each approval with its group and whether it is large. `by="developer"` counts the developer where a
    source names one (the applicant elsewhere)."""
    names = approvals["applicant"]
    if by == "developer":
        names = approvals["developer"].where(approvals["developer"] != "", names)
    group = names.map(lambda name: lookup.get(name, "") if name else "")
    return approvals.assign(group=group, large=group.isin(large))


def outside_top(register: Register, year: int, n: int, by: str = "applicant") -> dict | None:
    """Count and share of the year's approvals whose group is outside the top n; None when no ranking lists
    n companies for that year or earlier."""
    lookup = groups(register.companies, register.aliases)
    approvals = register.approvals[register.approvals["year"] == str(year)]
    drawn = ranking(register.rankings, year, n, lookup)
    if drawn is None or approvals.empty:
        return None
    rows = classify(approvals, lookup, drawn["groups"], by)
    outside = int((~rows["large"]).sum())
    return {
        "year": year,
        "n": n,
        "by": by,
        "outside": outside,
        "total": len(rows),
        "share": 100 * outside / len(rows),
        "ranking": drawn,
        "rows": rows,
    }


def sensitivity(register: Register, year: int, ns=SENSITIVITY) -> pd.DataFrame:
    """The share outside the top n for each n, counted by applicant and by developer; NaN where no ranking
    lists n companies."""
    records = []
    for n in ns:
        for by in ("applicant", "developer"):
            found = outside_top(register, year, n, by)
            records.append(
                {
                    "n": n,
                    "counted_by": by,
                    "outside": found["outside"] if found else math.nan,
                    "total": found["total"] if found else math.nan,
                    "share": found["share"] if found else math.nan,
                    "ranking_source": found["ranking"]["source_id"] if found else "",
                }
            )
    return pd.DataFrame(records)


def derived_observations(tables: dict[str, pd.DataFrame], top_n: int) -> pd.DataFrame:
    """Rows for observations (as text, like the CSV's): the share outside the top `top_n`, counted by
    applicant, for each year the approvals table covers completely. The ledger reads them as any figure."""
    register = Register(tables["approvals"], tables["companies"], tables["aliases"], tables["rankings"])
    rows = []
    for year in covered_years(register.approvals):
        found = outside_top(register, year, top_n)
        if found is None:
            continue
        drawn = found["ranking"]
        earlier = f" (the {drawn['year']} ranking, the nearest earlier)" if drawn["year"] != year else ""
        source_id = tables["approvals"].loc[tables["approvals"]["year"] == str(year), "source_id"].iloc[0]
        lines = sensitivity(register, year)
        lines = lines[lines["counted_by"] == "applicant"]
        spread = "; ".join(
            f"top {n}: no ranking lists {n} companies" if math.isnan(share) else f"top {n}: {round(share)}%"
            for n, share in zip(lines["n"], lines["share"], strict=True)
        )
        rows.append(
            {
                "series_id": SHARE_SERIES,
                "period": str(year),
                "value": repr(round(found["share"], 6)),
                "source_id": source_id,
                "bound": "exact",
                "value_high": "",
                "forecast": "false",
                "note": (
                    f"computed from approvals.csv: {found['outside']} of {found['total']} approvals by applicant "
                    f"groups outside the top {top_n} of {drawn['source_id']}{earlier}"
                ),
                # How the figure reads in a verdict, and how it moves with the size line (for its certainty).
                "derivation": f"the book's count (size line: top {top_n}) of",
                "derivation_note": f"the share outside the line is {spread}",
            }
        )
    return pd.DataFrame(rows, columns=[*tables["observations"].columns, "derivation", "derivation_note"])
