"""The claims ledger: each claim of `data/claims.csv` evaluated from the observations.

A rule looks at the evidence and says whether it holds; the claim row says which status that gives
(`if_holds`, `if_fails`). With no usable evidence a claim is `not testable`, whatever its rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from crobook import analysis
from crobook.data import Evidence

NOT_TESTABLE = "not testable"


@dataclass(frozen=True)
class Verdict:
    holds: bool | None  # None: the evidence cannot decide
    cited: str  # the article's figure, as text
    best: str  # the best independent value, as text
    reason: str  # one clause saying why, for the chapter's sentence
    sources: tuple[str, ...]  # source_ids of the rows the verdict rests on


def _number(value: float, unit_label: str) -> str:
    text = f"{value:,.1f}".removesuffix(".0")
    return f"{text}%" if unit_label == "%" else f"{text} {unit_label}"


def _rows(evidence: Evidence, series: str) -> pd.DataFrame:
    return evidence.series_data(*series.split()) if series else evidence.observations.iloc[0:0]


def _cited_row(evidence: Evidence, claim: pd.Series) -> pd.Series | None:
    rows = analysis.cited(_rows(evidence, claim["cited_series"]))
    rows = rows[rows["period"] == claim["cited_period"]]
    return rows.iloc[0] if len(rows) else None


def _nearest_independent(evidence: Evidence, claim: pd.Series, year: int) -> pd.DataFrame:
    """Independent figures for the year nearest `year` (all of them, if several sources share it)."""
    rows = analysis.independent(_rows(evidence, claim["evidence_series"]))
    rows = rows[rows["year"].notna()]
    if rows.empty:
        return rows
    distance = (rows["year"] - year).abs()
    nearest = rows[distance == distance.min()]
    return nearest[nearest["year"] == nearest["year"].max()]


def _describe(rows: pd.DataFrame) -> str:
    parts = [f"{r.publisher}, {r.period.lstrip('~')}" for r in rows.itertuples()]
    return "; ".join(dict.fromkeys(parts))


def within_points(evidence: Evidence, claim: pd.Series) -> Verdict:
    cited = _cited_row(evidence, claim)
    if cited is None:
        return Verdict(None, "", "", "the article's figure is not in the data", ())
    nearest = _nearest_independent(evidence, claim, int(cited["year"]))
    cited_text = _number(cited["value"], cited["unit_label"])
    if nearest.empty:
        return Verdict(None, cited_text, "", "no independent figure is available", ())
    best = float(nearest["value"].median())
    gap, tolerance = abs(best - cited["value"]), float(claim["tolerance"])
    best_text = f"{_number(best, cited['unit_label'])} ({_describe(nearest)})"
    reason = (
        f"the best independent figure, {best_text}, is {gap:.1f} points from the cited {cited_text}, "
        f"{'within' if gap <= tolerance else 'beyond'} the tolerance of {tolerance:g} points"
    )
    return Verdict(gap <= tolerance, cited_text, best_text, reason, tuple(nearest["source_id"]))


def at_least(evidence: Evidence, claim: pd.Series) -> Verdict:
    cited = _cited_row(evidence, claim)
    if cited is None:
        return Verdict(None, "", "", "the article's figure is not in the data", ())
    rows = analysis.independent(_rows(evidence, claim["evidence_series"]))
    rows = rows[rows["year"] == cited["year"]]
    cited_text = "at least " + _number(cited["value"], cited["unit_label"])
    if rows.empty:
        return Verdict(None, cited_text, "", "no independent figure exists for the cited year", ())
    median = float(rows["value"].median())
    holds = median >= cited["value"] - float(claim["tolerance"])
    best_text = f"{_number(median, cited['unit_label'])} (median of {len(rows)} estimates for {int(cited['year'])})"
    reason = (
        f"the median independent estimate for {int(cited['year'])}, {_number(median, cited['unit_label'])}, "
        f"{'reaches' if holds else 'falls short of'} the cited lower bound of "
        f"{_number(cited['value'], cited['unit_label'])}"
    )
    return Verdict(holds, cited_text, best_text, reason, tuple(rows["source_id"]))


def peaks_in(evidence: Evidence, claim: pd.Series) -> Verdict:
    """Every series that covers the cited year and a later one reaches its highest value in the cited year."""
    year = int(claim["cited_period"][:4])
    judged, peaking, sources = [], [], []
    for series_id in claim["evidence_series"].split():
        rows = analysis.independent(evidence.series_data(series_id))
        years = set(rows["year"].dropna().astype(int))
        if year not in years or not any(y > year for y in years):
            continue
        by_year = rows.groupby("year")["value"].max()
        judged.append(series_id)
        sources += list(rows["source_id"])
        if int(by_year.idxmax()) == year:
            peaking.append(series_id)
    if not judged:
        return Verdict(None, f"peak in {year}", "", f"no series covers {year} and a later year", ())
    best = f"{len(peaking)} of {len(judged)} series peak in {year}"
    reason = f"{best} among the series that cover {year} and a later year"
    return Verdict(len(peaking) == len(judged), f"peak in {year}", best, reason, tuple(dict.fromkeys(sources)))


def rises(evidence: Evidence, claim: pd.Series) -> Verdict:
    """Every evidence series with two or more years is higher at its latest year than at its earliest."""
    judged, rising, sources, parts = 0, 0, [], []
    for series_id in claim["evidence_series"].split():
        rows = analysis.independent(evidence.series_data(series_id))
        if rows["year"].nunique() < 2:
            continue
        c = analysis.change(rows)
        judged += 1
        rising += c.end_value > c.start_value
        sources += list(rows["source_id"])
        unit = rows["unit_label"].iloc[0]
        parts.append(
            f"{rows['label'].iloc[0]} {_number(c.start_value, unit)} ({c.start_period}) to "
            f"{_number(c.end_value, unit)} ({c.end_period})"
        )
    cited = _cited_row(evidence, claim)
    cited_text = _number(cited["value"], cited["unit_label"]) if cited is not None else ""
    if not judged:
        return Verdict(None, cited_text, "", "no independent series has two years to compare", ())
    best = "; ".join(parts)
    reason = f"{rising} of {judged} independent series rise: {best}"
    return Verdict(rising == judged, cited_text, best, reason, tuple(dict.fromkeys(sources)))


def larger_rise(evidence: Evidence, claim: pd.Series) -> Verdict:
    first, second = claim["evidence_series"].split()
    changes = {}
    for series_id in (first, second):
        rows = evidence.series_data(series_id)
        rows = analysis.cited(rows) if len(analysis.cited(rows)) >= 2 else rows
        if rows["year"].nunique() < 2:
            return Verdict(None, "", "", f"series {series_id} has fewer than two years", ())
        changes[series_id] = (analysis.point_change(rows), rows["label"].iloc[0], tuple(rows["source_id"]))
    (a, label_a, src_a), (b, label_b, src_b) = changes[first], changes[second]
    best = f"{label_a}: {a:+.0f} points; {label_b}: {b:+.0f} points"
    verb = "exceeds" if a > b else "does not exceed"
    reason = f"the rise in {label_a.lower()} ({a:+.0f} points) {verb} that in {label_b.lower()} ({b:+.0f} points)"
    return Verdict(a > b, f"{label_a} rises most", best, reason, src_a + src_b)


def no_rule(evidence: Evidence, claim: pd.Series) -> Verdict:
    return Verdict(None, "qualitative", "", "no public figure can decide it", ())


RULES = {
    "within_points": within_points,
    "at_least": at_least,
    "peaks_in": peaks_in,
    "rises": rises,
    "larger_rise": larger_rise,
    "none": no_rule,
}


def evaluate(evidence: Evidence) -> pd.DataFrame:
    """One row per claim: the claim, the cited and best values, the status, the sources and a sentence."""
    rows = []
    sources = evidence.sources.set_index("source_id")
    for _, claim in evidence.claims.iterrows():
        verdict = RULES[claim["rule"]](evidence, claim)
        if verdict.holds is None:
            status = NOT_TESTABLE
        else:
            status = claim["if_holds"] if verdict.holds else claim["if_fails"]
        publishers = [sources.loc[s, "publisher"] for s in dict.fromkeys(verdict.sources)]
        rows.append(
            {
                "claim_id": claim["claim_id"],
                "statement": claim["statement"],
                "cited": verdict.cited,
                "best": verdict.best,
                "status": status,
                "sources": "; ".join(dict.fromkeys(publishers)),
                "source_ids": list(dict.fromkeys(verdict.sources)),
                "chapter": claim["chapter"],
                "rule": claim["rule"],
                "sentence": f"Claim {claim['claim_id']} is {status}: {verdict.reason}.",
            }
        )
    return pd.DataFrame(rows)


def summary(ledger: pd.DataFrame) -> str:
    counts = ledger["status"].value_counts()
    order = ["supported", "partly supported", "contradicted", NOT_TESTABLE]
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in order)
