"""The computations behind the chapters: growth, compound rates, spreads, projections, changes in points."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

CITED_GRADES = ("as-cited", "as-cited-approximate")
EVIDENCE_GRADES = ("official", "reported", "secondary")  # strongest first (see book.min_grade)


def growth_factor(start: float, end: float) -> float:
    if start <= 0:
        raise ValueError(f"growth needs a positive starting value, got {start}")
    return end / start


def cagr(start: float, end: float, years: float) -> float:
    """Compound annual growth rate, as a fraction (0.08 is 8% a year)."""
    if years <= 0:
        raise ValueError(f"a compound rate needs a positive number of years, got {years}")
    return growth_factor(start, end) ** (1 / years) - 1


@dataclass(frozen=True)
class Change:
    start_period: str
    start_value: float
    end_period: str
    end_value: float
    years: int
    factor: float
    growth_pct: float
    cagr_pct: float
    end_approximate: bool

    def as_dict(self) -> dict:
        return asdict(self)


def change(rows: pd.DataFrame) -> Change:
    """Change from the earliest to the latest of `rows` (observations of one series)."""
    if len(rows) < 2:
        raise ValueError(f"a change needs two observations, got {len(rows)}")
    ordered = rows.sort_values(["year", "period"])
    first, last = ordered.iloc[0], ordered.iloc[-1]
    years = int(last["year"] - first["year"])
    factor = growth_factor(first["value"], last["value"])
    return Change(
        start_period=first["period"],
        start_value=float(first["value"]),
        end_period=last["period"],
        end_value=float(last["value"]),
        years=years,
        factor=float(factor),
        growth_pct=float((factor - 1) * 100),
        cagr_pct=float(cagr(first["value"], last["value"], years) * 100),
        end_approximate=bool(last["approximate"]),
    )


def cited(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["grade"].isin(CITED_GRADES)]


def independent(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[~rows["grade"].isin(CITED_GRADES)]


@dataclass(frozen=True)
class Spread:
    count: int
    minimum: float
    median: float
    maximum: float

    @property
    def ratio(self) -> float:
        """How many times the highest estimate is the lowest."""
        return self.maximum / self.minimum


def spread(values: pd.Series) -> Spread:
    values = values.dropna()
    if values.empty:
        raise ValueError("no values to summarise")
    return Spread(int(values.size), float(values.min()), float(values.median()), float(values.max()))


def implied_rates(rows: pd.DataFrame) -> pd.DataFrame:
    """Each source's own compound growth rate, from its earliest to its latest figure (forecasts included)."""
    out = []
    for source_id, group in rows.groupby("source_id", sort=True):
        if group["year"].nunique() < 2:
            continue
        c = change(group)
        out.append(
            {
                "source_id": source_id,
                "publisher": group["publisher"].iloc[0],
                "from": c.start_period,
                "to": c.end_period,
                "cagr_pct": c.cagr_pct,
            }
        )
    return pd.DataFrame(out, columns=["source_id", "publisher", "from", "to", "cagr_pct"])


def projection(start_year: int, start_value: float, horizon: int, rates_pct: dict[str, float]) -> pd.DataFrame:
    """Value per year from start_year to horizon under each named compound growth rate (in percent)."""
    if horizon <= start_year:
        raise ValueError(f"the horizon year {horizon} must come after the start year {start_year}")
    rows = [
        {
            "scenario": name,
            "year": year,
            "rate_pct": rate,
            "value": start_value * (1 + rate / 100) ** (year - start_year),
        }
        for name, rate in rates_pct.items()
        for year in range(start_year, horizon + 1)
    ]
    return pd.DataFrame(rows)


def point_change(rows: pd.DataFrame) -> float:
    """Change in percentage points from the earliest to the latest observation of a share."""
    c = change(rows)
    return c.end_value - c.start_value


def newest(rows: pd.DataFrame) -> pd.DataFrame:
    """One figure per series and year: the one from the most recently published source."""
    published = rows["published"].str.lstrip("~")
    ordered = rows.assign(_published=published).sort_values("_published", kind="stable")
    return ordered.drop_duplicates(["series_id", "year"], keep="last").drop(columns="_published").sort_index()


def peak_and_fall(rows: pd.DataFrame) -> pd.DataFrame:
    """Per series (one figure per year): years covered, peak year and value, latest year and value, the lowest
    figure after the peak and the fall from the peak to the latest figure in percent (None with no later year)."""
    out = []
    for series_id in dict.fromkeys(rows["series_id"]):
        group = rows[rows["series_id"] == series_id].sort_values("year")
        top, last = group.loc[group["value"].idxmax()], group.iloc[-1]
        after = group[group["year"] > top["year"]]
        out.append(
            {
                "series_id": series_id,
                "label": top["label"],
                "first": int(group["year"].min()),
                "peak_year": int(top["year"]),
                "peak": float(top["value"]),
                "latest_year": int(last["year"]),
                "latest": float(last["value"]),
                "low_after": float(after["value"].min()) if len(after) else None,
                "fall_pct": float((1 - last["value"] / top["value"]) * 100) if len(after) else None,
            }
        )
    return pd.DataFrame(out)
