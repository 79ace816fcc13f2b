"""The claims ledger: each claim split into parts, each part tested on every comparable figure.

How a verdict is reached (data/README.md says the same for analysts):

- A part names its test, the measures that are the claim's own, the definitions that match the article's and a
  window of years. `claim_evidence.csv` names the series that bear on it; their figures are graded:
  *direct* (same measure, matching definition and geography), *indirect* (same measure, another definition or
  geography), *proxy* (a related measure), or *context* (shown, never counted). The article's own figures and
  the book's readings of its words are never evidence.
- Figures are compared as what the words say: a bound is an open interval, so "almost two thirds" can agree
  with "about two thirds" but never confirm a figure above it.
- Within each definition, the figures nearest the claim's period decide; the verdict rests on the most direct
  tier that decides. Definitions that disagree give "depends on definition". A proxy speaks to direction only:
  it can lift a direction part to "partly supported" and never contradict anything.
- Certainty starts high (official or the publisher's own material) or moderate (secondary reports) and is
  lowered, one step each, for risk of bias, indirectness, inconsistency and imprecision, each with its reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from crobook.analysis import CITED_GRADES, EVIDENCE_GRADES
from crobook.data import DIRECTION_TESTS, Evidence, capturing, period_bounds, record
from crobook.schema import UNITS
from crobook.text import number, value_text

SUPPORTED, PARTLY, DEPENDS, CONTRADICTED, NOT_TESTABLE = (
    "supported",
    "partly supported",
    "depends on definition",
    "contradicted",
    "not testable",
)
STATUSES = (SUPPORTED, PARTLY, DEPENDS, CONTRADICTED, NOT_TESTABLE)
CERTAINTY = ("very low", "low", "moderate", "high")
TIERS = ("direct", "indirect", "proxy")
EPS = 1e-9


# ------------------------------------------------------------------ numbers as the words say them


# ------------------------------------------------------------------ intervals


def interval(value: float, bound: str, high: float | None = None, tolerance: float = 0.0) -> tuple[float, float]:
    """The values a figure admits (widened by `tolerance`): a bound is open on one side."""
    if bound == "more than":
        return value - tolerance, math.inf
    if bound == "less than":
        return -math.inf, value + tolerance
    if bound == "between":
        return value - tolerance, high + tolerance
    return value - tolerance, value + tolerance


def compare(figure: tuple[float, float], band: tuple[float, float]) -> tuple[str, float | None]:
    """agrees (inside the band), disagrees (outside), consistent (a bound whose limit lies in the band) or
    inconclusive (a bound that reaches past the band); with the margin to the band's nearer edge."""
    (lo, hi), (low, high) = figure, band
    if lo >= low - EPS and hi <= high + EPS:
        return "agrees", min(x for x in (lo - low, high - hi) if not math.isnan(x))
    if hi < low - EPS or lo > high + EPS:
        return "disagrees", None
    limits = [x for x in (lo, hi) if math.isfinite(x)]
    return ("consistent" if any(low - EPS <= x <= high + EPS for x in limits) else "inconclusive"), None


def distance(period: str, year: int) -> int:
    """Years between a figure's period and the claim's year (0 when a span covers it)."""
    start, end = period_bounds(period) or (None, None)
    if start is None:
        return 999
    return 0 if start <= year <= end else min(abs(year - start), abs(year - end))


def year_of(period: str) -> int:
    return period_bounds(period)[1]


# ------------------------------------------------------------------ figures


def _combined(a: pd.Series, b: pd.Series, combine: str, unit_a: str, unit_b: str) -> dict:
    """One figure from two of the same source: a + b, or 100 × a / b (the whole a share is of, or a share)."""
    flip = {"more than": "less than", "less than": "more than"}
    if combine == "plus":
        value = a["value"] + b["value"]
        bound = b["bound"] if a["bound"] == "exact" else a["bound"] if b["bound"] == "exact" else "about"
        later = a if year_of(a["period"]) >= year_of(b["period"]) else b
        period, unit, base = later["period"], unit_a, a
        text = f"{number(a['value'])} + {number(b['value'])}"
    else:
        value = 100 * a["value"] / b["value"]
        bound = (
            a["bound"]
            if b["bound"] == "exact"
            else flip.get(b["bound"], b["bound"])
            if a["bound"] == "exact"
            else "about"
        )
        whole = unit_b == "percent" and unit_a != "percent"  # revenue / share of the market = the market
        period, unit, base = a["period"], unit_a if whole else "percent", b if whole else a
        text = f"100 × {number(a['value'])} / {number(b['value'])}"
    if bound == "between":
        bound = "about"
    return {
        "period": period,
        "value": float(value),
        "value_high": None,
        "bound": bound,
        "unit": unit,
        "measure": base["measure"],
        "definition_id": base["definition_id"],
        "geography": base["geography"],
        "forecast": bool(a["forecast"] or b["forecast"]),
        "unit_label": UNITS[unit][1],
        "label": f"{a['label']} {'+' if combine == 'plus' else '÷'} {b['label']}",
        "computed": text,
        "check": "not found" if "not found" in (a["check"], b["check"]) else a["check"],
        "caution": a["caution"] or b["caution"],
    }


def _pairs(first: pd.DataFrame, second: pd.DataFrame) -> list[tuple[pd.Series, pd.Series]]:
    """Figures of two series to combine: same source and period; or a source's only figure in each."""
    pairs = []
    for source_id, group in first.groupby("source_id", sort=False):
        other = second[second["source_id"] == source_id]
        for _, a in group.iterrows():
            same = other[other["period"] == a["period"]]
            if len(same):
                pairs.append((a, same.iloc[0]))
            elif len(group) == 1 and len(other) == 1:
                pairs.append((a, other.iloc[0]))
    return pairs


# Memos of the claims engine, for one data set at a time: `_for` empties them when other data come, so their
# keys need not name the data.
_FIGURES: dict[tuple, list[dict]] = {}
_VERDICTS: dict[tuple, PartVerdict] = {}
_CITED: dict[tuple, pd.Series] = {}
_MEMO_OF: list = [None]  # the evidence the memos hold (kept alive, so no other object takes its id)


def _for(evidence: Evidence) -> None:
    if _MEMO_OF[0] is not evidence:
        for memo in (_FIGURES, _VERDICTS, _CITED):
            memo.clear()
        _MEMO_OF[0] = evidence


def part_figures(evidence: Evidence, part: pd.Series, exclude: frozenset[str] = frozenset()) -> list[dict]:
    """Every figure linked to a part, graded by directness; the article's own rows and `exclude`d sources left
    out. Computed once per part (the sensitivity analysis asks many times)."""
    _for(evidence)
    key = (part["claim_id"], part["part"])
    if key not in _FIGURES:
        _FIGURES[key] = _part_figures(evidence, part)
    figures = _FIGURES[key]
    return [f for f in figures if f["source_id"] not in exclude] if exclude else figures


def _part_figures(evidence: Evidence, part: pd.Series) -> list[dict]:
    links = evidence.rows("claim_evidence", part["claim_id"])
    links = links[links["part"] == part["part"]]
    rows = []
    for _, link in links.iterrows():
        first = evidence.series_data(link["series_id"])
        first = first[~first["grade"].isin(CITED_GRADES) & ~left_out_rows(evidence, first)]
        if link["with_series"]:
            second = evidence.series_data(link["with_series"])
            second = second[~left_out_rows(evidence, second)]
            both = pd.concat([first, second])
            units = dict(zip(both["series_id"], both["unit"]))
            figures = [
                a.to_dict() | _combined(a, b, link["combine"], units[link["series_id"]], units[link["with_series"]])
                for a, b in _pairs(first, second)
            ]
        else:
            figures = [r.to_dict() | {"computed": ""} for _, r in first.iterrows()]
        for figure in figures:
            figure["role"], figure["link_note"] = link["role"], link["note"]
            figure["directness"] = directness(figure, part)
            figure["value_high"] = None if pd.isna(figure["value_high"]) else figure["value_high"]
            rows.append(figure)
    return rows


def left_out_rows(evidence: Evidence, rows: pd.DataFrame) -> pd.Series:
    """Which of these observation rows the edition leaves out of the evidence (a sensitivity edition): those
    from sources graded below the book's `min_grade`, and those from sources it names in `exclude_sources`.
    Found from the rows' own source columns, so that only their sources count as read."""
    lowest = EVIDENCE_GRADES.index(evidence.book.get("min_grade", EVIDENCE_GRADES[-1]))
    return rows["grade"].isin(EVIDENCE_GRADES[lowest + 1 :]) | rows["source_id"].isin(
        evidence.book.get("exclude_sources", [])
    )


def directness(figure: dict, part: pd.Series) -> str:
    if figure["role"] == "context":
        return "context"
    if figure["measure"] not in part["measures"].split():
        return "proxy"
    definitions = part["definitions"].split()
    if definitions and figure["definition_id"] not in definitions:
        return "indirect"
    if part["geography"] and figure["geography"] != part["geography"]:
        return "indirect"
    return "direct"


# ------------------------------------------------------------------ the tests


@dataclass
class Judged:
    """One figure (level, growth) or one estimator (direction tests) as the test saw it."""

    tier: str
    group: tuple[str, str]  # (definition_id, measure)
    outcome: str  # agrees, consistent, disagrees, inconclusive
    distance: int
    rows: list[dict]  # the observations behind it
    text: str  # how it reads in a sentence
    margin: float | None = None
    approximate: bool = False
    decides: bool = True  # False when a nearer figure of the same definition decides
    value: float | None = None  # the figure as compared (a growth factor for growth tests)
    bound: str = "exact"


@dataclass
class PartVerdict:
    status: str
    cited: str = ""
    target: str = ""
    tier: str = ""
    judged: list[Judged] = field(default_factory=list)
    why: str = ""
    band: tuple[float, float] | None = None  # the values that count as the article's figure
    cited_value: float | None = None
    unit: str = ""


def _cited(evidence: Evidence, series_id: str, period: str) -> pd.Series:
    """The article's own figure for a series and period (the tolerance slider asks for it many times)."""
    _for(evidence)
    key = (series_id, period)
    if key not in _CITED:
        obs = evidence.series_data(series_id)
        rows = obs[(obs["series_id"] == series_id) & (obs["period"] == period) & obs["grade"].isin(CITED_GRADES)]
        _CITED[key] = rows.iloc[0]
    return _CITED[key]


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def plain(text: str) -> str:
    """A label or term without its parenthetical asides, for use inside a sentence."""
    return re.sub(r"\s*\([^)]*\)", "", text).strip()


def _describe(figure: dict, definitions: pd.DataFrame) -> str:
    who = figure["publisher"]
    term = (
        plain(definitions.loc[figure["definition_id"], "term"]) if figure["definition_id"] in definitions.index else ""
    )
    shown = value_text(figure["value"], figure["bound"], figure["unit"], figure.get("value_high"))
    extra = f", {term}" if term else ""
    if figure.get("derivation"):
        return (
            f"{shown} in {figure['derivation']} {possessive(plain(who))} list ({figure['period'].lstrip('~')}{extra})"
        )
    return f"{possessive(plain(who))} {shown} ({figure['period'].lstrip('~')}{extra})"


@dataclass(frozen=True)
class Target:
    """The article's figure for a part and the values that count as it."""

    cited: str
    band_text: str
    band: tuple[float, float]
    value: float
    unit: str
    forecast: bool


def _level_target(evidence: Evidence, part: pd.Series) -> Target:
    tolerance = float(part["tolerance"] or 0)
    if part["test"] == "growth":
        start = _cited(evidence, part["cited_series"], part["from_period"])
        end = _cited(evidence, part["cited_series"], part["cited_period"])
        factor = end["value"] / start["value"]
        bound = end["bound"] if start["bound"] == "exact" else "about"
        return Target(
            value_text(factor, bound, "factor"),
            _band_text(factor, bound, "factor", tolerance),
            interval(factor, bound, None, tolerance),
            factor,
            "factor",
            False,
        )
    row = _cited(evidence, part["cited_series"], part["cited_period"])
    high = row["value_high"] if pd.notna(row["value_high"]) else None
    reading = " (the book's reading of its words)" if row["grade"] == "as-cited-approximate" else ""
    return Target(
        value_text(row["value"], row["bound"], row["unit"], high) + reading,
        _band_text(row["value"], row["bound"], row["unit"], tolerance, high),
        interval(row["value"], row["bound"], high, tolerance),
        float(row["value"]),
        row["unit"],
        bool(row["forecast"]),
    )


def _band_text(value: float, bound: str, unit: str, tolerance: float, high: float | None = None) -> str:
    low, top = interval(value, bound, high, tolerance)
    if math.isinf(top):
        return value_text(low, "more than", unit)
    if math.isinf(low):
        return value_text(top, "less than", unit)
    if abs(top - low) < EPS:
        return value_text(low, "exact", unit)
    return value_text(low, "between", unit, top)


def _judge_levels(evidence: Evidence, part: pd.Series, figures: list[dict], band, forecast: bool) -> list[Judged]:
    definitions = evidence.definitions.set_index("definition_id")
    window, judged = int(part["window"]), []
    if part["test"] == "growth":
        candidates = _growth_figures(part, figures)
    else:
        year = year_of(part["cited_period"])
        candidates = [
            (f, distance(f["period"], year), interval(f["value"], f["bound"], f.get("value_high")), [f])
            for f in figures
            if f["role"] == "evidence" and bool(f["forecast"]) == forecast
        ]
    for figure, gap, span, rows in candidates:
        if gap > window:
            continue
        outcome, margin = compare(span, band)
        text = figure.get("text") or _describe(figure, definitions)
        judged.append(
            Judged(
                figure["directness"],
                (figure["definition_id"], figure["measure"]),
                outcome,
                gap,
                rows,
                text,
                margin,
                any(r["bound"] != "exact" for r in rows),
                value=figure["value"] if part["test"] == "level" else figure["factor"],
                bound=figure["bound"] if part["test"] == "level" else figure["factor_bound"],
            )
        )
    return judged


def estimators(figures: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Counted figures that are not forecasts, by estimator: one series from one source (one vintage)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for f in figures:
        if f["role"] == "evidence" and not f["forecast"]:
            groups.setdefault((f["series_id"], f["source_id"]), []).append(f)
    return groups


def _growth_figures(part: pd.Series, figures: list[dict]) -> list[tuple]:
    """Growth factors from one source's own figures near both ends (or a factor the source states)."""
    start_year, end_year, out = year_of(part["from_period"]), year_of(part["cited_period"]), []
    for records in estimators(figures).values():
        if records[0]["unit"] == "factor":
            for f in records:
                first, last = period_bounds(f["period"])
                gap = max(abs(first - start_year), abs(last - end_year))
                span = interval(f["value"], f["bound"], f.get("value_high"))
                out.append((f | {"text": None, "factor": f["value"], "factor_bound": f["bound"]}, gap, span, [f]))
            continue
        near_start = min(records, key=lambda f: distance(f["period"], start_year))
        near_end = min(records, key=lambda f: distance(f["period"], end_year))
        if near_start is near_end or near_start["value"] <= 0:
            continue
        gap = max(distance(near_start["period"], start_year), distance(near_end["period"], end_year))
        factor = near_end["value"] / near_start["value"]
        bound = near_end["bound"] if near_start["bound"] == "exact" else "about"
        text = (
            f"{possessive(plain(near_start['publisher']))} {value_text(factor, bound, 'factor')} "
            f"({near_start['period'].lstrip('~')} to {near_end['period'].lstrip('~')})"
        )
        figure = near_end | {
            "text": text,
            "factor": factor,
            "factor_bound": bound,
            "period": (f"{near_start['period'].lstrip('~')}-{near_end['period'].lstrip('~')}"),
        }
        out.append((figure, gap, interval(factor, bound), [near_start, near_end]))
    return out


def _judge_directions(evidence: Evidence, part: pd.Series, figures: list[dict]) -> list[Judged]:
    """Each estimator (a series from one source) judged on its own figures, never spliced with another's."""
    test, window, judged = part["test"], int(part["window"]), []
    year = year_of(part["cited_period"])
    start = year_of(part["from_period"]) if part["from_period"] else year
    for records in estimators(figures).values():
        first = records[0]
        by_year = {}
        for f in records:
            y = year_of(f["period"])
            if start - window <= y <= year + window:
                by_year[y] = max(by_year.get(y, f), f, key=lambda r: r["value"])
        unit, label = first["unit"], f"{possessive(plain(first['publisher']))} {plain(first['label'])}"
        if test == "rises" and UNITS[unit][0] == "change":
            for f in records:
                outcome = "agrees" if f["value"] > 0 else "disagrees"
                judged.append(_direction(first, outcome, [f], f"{label} is {_shown(f, unit)}"))
            continue
        if test == "rises":
            years = sorted(by_year)
            if len(years) < 2:
                continue
            a, b = by_year[years[0]], by_year[years[-1]]
            outcome = "agrees" if b["value"] > a["value"] else "disagrees"
            text = f"{label} went from {_shown(a, unit)} in {years[0]} to {_shown(b, unit)} in {years[-1]}"
            judged.append(_direction(first, outcome, [a, b], text))
            continue
        if year not in by_year:
            continue
        before = [y for y in by_year if y < year]
        after = [y for y in by_year if y > year]
        if not after or (test == "peak" and not before):
            continue
        top = by_year[year]
        others = [by_year[y] for y in before + after] if test == "peak" else [by_year[y] for y in after]
        highest = max(others, key=lambda r: r["value"])
        outcome = "agrees" if all(o["value"] < top["value"] for o in others) else "disagrees"
        if test == "peak":
            text = (
                f"{label} was highest in {year} ({_shown(top, unit)})"
                if outcome == "agrees"
                else f"{label} was higher in {year_of(highest['period'])} ({_shown(highest, unit)})"
            )
        else:
            text = f"{label} went from {_shown(top, unit)} in {year} to " + _join(
                [f"{_shown(by_year[y], unit)} in {y}" for y in sorted(after)]
            )
        judged.append(_direction(first, outcome, [top, *others], text))
    return judged


def _shown(row: dict, unit: str) -> str:
    return value_text(row["value"], row["bound"], unit)


def _direction(first: dict, outcome: str, rows: list[dict], text: str) -> Judged:
    return Judged(
        first["directness"],
        (first["definition_id"], first["measure"]),
        outcome,
        0,
        rows,
        text,
        approximate=any(r["bound"] != "exact" for r in rows),
    )


def _nearest(judged: list[Judged]) -> None:
    """Within each tier and definition, only the figures nearest the claim's period decide."""
    decisive = [j for j in judged if j.outcome != "inconclusive"]
    for key in {(j.tier, j.group) for j in decisive}:
        members = [j for j in decisive if (j.tier, j.group) == key]
        nearest = min(j.distance for j in members)
        for j in members:
            j.decides = j.distance == nearest
    for j in judged:
        if j.outcome == "inconclusive":
            j.decides = False


def _status(deciding: list[Judged]) -> str:
    groups: dict[tuple, set[str]] = {}
    for j in deciding:
        groups.setdefault(j.group, set()).add("holds" if j.outcome in ("agrees", "consistent") else "fails")
    holds = {g for g, seen in groups.items() if "holds" in seen}
    fails = {g for g, seen in groups.items() if "fails" in seen}
    if holds and fails:
        return DEPENDS if (holds - fails) and (fails - holds) else PARTLY
    return SUPPORTED if holds else CONTRADICTED


def judge_part(evidence: Evidence, part: pd.Series, exclude: frozenset[str] = frozenset()) -> PartVerdict:
    """The verdict on one claim part, from the figures linked to it (less those of `exclude`d sources).

    Computed once per part, tolerance and exclusion: a chapter's ledger, each claim's own ledger, the
    sensitivity analysis and the tolerance slider ask for the same verdicts many times. Callers only read it."""
    _for(evidence)
    key = (tuple(part.items()), exclude)
    if key not in _VERDICTS:
        _VERDICTS[key] = _judge_part(evidence, part, exclude)
    return _VERDICTS[key]


def _judge_part(evidence: Evidence, part: pd.Series, exclude: frozenset[str]) -> PartVerdict:
    if part["test"] == "none":
        return PartVerdict(NOT_TESTABLE, why="no public figure can decide it")
    figures = part_figures(evidence, part, exclude)
    if part["test"] in DIRECTION_TESTS:
        target = None
        judged = _judge_directions(evidence, part, figures)
    else:
        target = _level_target(evidence, part)
        judged = _judge_levels(evidence, part, figures, target.band, target.forecast)
    _nearest(judged)
    found = {"cited": "", "target": ""}
    if target:
        found = {
            "cited": target.cited,
            "target": target.band_text,
            "band": target.band,
            "cited_value": target.value,
            "unit": target.unit,
        }
    for tier in ("direct", "indirect"):
        deciding = [j for j in judged if j.tier == tier and j.decides]
        if deciding:
            return PartVerdict(_status(deciding), tier=tier, judged=judged, **found)
    proxies = [j for j in judged if j.tier == "proxy" and j.decides]
    if part["test"] in DIRECTION_TESTS and any(j.outcome == "agrees" for j in proxies):
        return PartVerdict(PARTLY, tier="proxy", judged=judged, **found)
    return PartVerdict(NOT_TESTABLE, judged=judged, why=_untested(evidence, figures, judged), **found)


def _untested(evidence: Evidence, figures: list[dict], judged: list[Judged]) -> str:
    """Why a part cannot be tested, naming the nearest figures that bear on it only loosely."""
    counted = [f for f in figures if f["role"] == "evidence"]
    if not counted:
        return "no independent figure was found"
    definitions = evidence.definitions.set_index("definition_id")
    loose = [j.text for j in judged if j.tier == "proxy"] or [_describe(f, definitions) for f in counted]
    kind = (
        "related measures, a hint of direction only"
        if any(j.tier == "proxy" for j in judged)
        else ("for other periods or measures")
    )
    shown = "; ".join(dict.fromkeys(loose[:3]))
    return f"the independent figures are {kind}: {shown}"


# ------------------------------------------------------------------ certainty


def certainty(verdict: PartVerdict, part: pd.Series, doubtful_changes: bool) -> tuple[str | None, list[str]]:
    """GRADE-style certainty of a part's verdict and the reason for each step down."""
    if verdict.status == NOT_TESTABLE:
        return None, []
    deciding = [j for j in verdict.judged if j.tier == verdict.tier and j.decides]
    rows = [r for j in deciding for r in j.rows]
    start = 3 if any(r["grade"] in ("official", "reported") for r in rows) else 2
    reasons = []
    if start == 2:
        reasons.append("It starts at moderate: every deciding figure comes from a secondary report.")
    doubtful = sorted({r["publisher"] for r in rows if r["check"] == "not found" or r["caution"]})
    if doubtful and doubtful_changes:
        reasons.append(
            "Risk of bias: the verdict rests on figures that are unconfirmed or from a doubtful page "
            f"({', '.join(doubtful)})."
        )
    if verdict.tier == "proxy":
        reasons.append("Indirectness (two steps): only related measures bear on it, and they show direction only.")
    elif verdict.tier == "indirect":
        reasons.append("Indirectness: every deciding figure uses another definition or geography than the article's.")
    elif any(j.distance > 0 for j in deciding):
        reasons.append("Indirectness: the deciding figures are for another period than the claim's.")
    derived = [r for r in rows if r.get("derivation_note")]
    if derived and verdict.tier == "direct":
        reasons.append(
            "Indirectness: where the line between large and small falls is the book's choice, not the article's; "
            + "; ".join(dict.fromkeys(r["derivation_note"] for r in derived))
            + "."
        )
    others = [
        j
        for j in verdict.judged
        if j.tier == verdict.tier and not j.decides and j.outcome in ("agrees", "consistent", "disagrees")
    ]
    if verdict.status in (DEPENDS, PARTLY) and verdict.tier != "proxy":
        reasons.append("Inconsistency: the deciding figures disagree with each other.")
    elif any((j.outcome == "disagrees") != (verdict.status == CONTRADICTED) for j in others):
        reasons.append("Inconsistency: figures of the same definitions for other periods point the other way.")
    imprecise = []
    if len(deciding) == 1:
        imprecise.append("a single figure decides")
    if any(j.approximate or j.outcome == "consistent" for j in deciding):
        imprecise.append("it rests on bounds or approximate figures")
    margins = [j.margin for j in deciding if j.margin is not None]
    if margins and verdict.status == SUPPORTED and min(margins) < 0.5:
        edge = "exactly on" if min(margins) < EPS else f"{number(min(margins))} inside"
        imprecise.append(
            f"a deciding figure sits {edge} the edge of the tolerance, so a small revision would change it"
        )
    if imprecise:
        reasons.append("Imprecision: " + "; ".join(imprecise) + ".")
    steps = sum(2 if r.startswith("Indirectness (two") else 1 for r in reasons if not r.startswith("It starts"))
    return CERTAINTY[max(0, start - steps)], reasons


# ------------------------------------------------------------------ claims


def claim_status(statuses: list[str]) -> str:
    testable = [s for s in statuses if s != NOT_TESTABLE]
    if not testable:
        return NOT_TESTABLE
    if all(s == SUPPORTED for s in statuses):
        return SUPPORTED
    if all(s == CONTRADICTED for s in testable):
        return CONTRADICTED
    if all(s == DEPENDS for s in statuses):
        return DEPENDS
    return PARTLY


def _claim_statuses(evidence: Evidence, claim_id: str, exclude: frozenset[str] = frozenset()) -> list[str]:
    parts = evidence.rows("claim_parts", claim_id)
    return [judge_part(evidence, part, exclude).status for _, part in parts.iterrows()]


TOLERANCE_STEPS = 40  # slider positions at most, per part


def _nice_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts `span` into about TOLERANCE_STEPS / 2 pieces."""
    raw = span / (TOLERANCE_STEPS / 2) if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw - EPS)


STEP_COLUMNS = ["part", "tolerance", "step", "published", "status", "claim_status"]


def tolerance_steps(evidence: Evidence, claim_id: str) -> pd.DataFrame:
    """Where the verdict would change if a part's tolerance moved: for each part that compares values, the
    part's and the claim's verdict at tolerances from 0 past the figure farthest from the article's.

    For the reader's slider on the website only: published verdicts always use the tolerance in the data.
    Worked out with the claim's assessment (see `assess`), so a chapter handed the evidence only looks it up."""
    claim = evidence.rows("claims", claim_id).iloc[0]
    rows = _kept(evidence, ("claim", claim_id), lambda: _assess_claim(evidence, claim))[3]
    return pd.DataFrame(rows, columns=STEP_COLUMNS)


def _tolerance_rows(evidence: Evidence, claim_id: str) -> list[dict]:
    parts = evidence.rows("claim_parts", claim_id)
    verdicts = [judge_part(evidence, part) for _, part in parts.iterrows()]
    statuses = [v.status for v in verdicts]
    rows = []
    for position, ((_, part), verdict) in enumerate(zip(parts.iterrows(), verdicts, strict=True)):
        if part["test"] not in ("level", "growth") or verdict.band is None:
            continue
        published = float(part["tolerance"] or 0)
        values = [j.value for j in verdict.judged if j.value is not None and math.isfinite(j.value)]
        if not values:
            continue  # no figure to move in or out of the band
        reach = max([abs(v - verdict.cited_value) for v in values] + [2 * published])
        step = _nice_step(reach)
        if published:  # a step that divides the published tolerance, so the slider can stand on it
            step = min((published / n for n in (1, 2, 4, 5, 10, 20, 50)), key=lambda s: abs(math.log(s / step)))
        count = min(TOLERANCE_STEPS, math.ceil(max(reach, 2 * published) / step + EPS))
        for k in range(count + 1):
            tolerance = round(k * step, 10)
            changed = part.copy()
            changed["tolerance"] = repr(tolerance)
            moved = judge_part(evidence, changed)
            claim = claim_status([*statuses[:position], moved.status, *statuses[position + 1 :]])
            rows.append(
                {
                    "part": part["part"],
                    "tolerance": tolerance,
                    "step": step,
                    "published": published,
                    "status": moved.status,
                    "claim_status": claim,
                }
            )
    return rows


def part_sentence(part: pd.Series, verdict: PartVerdict) -> str:
    """One sentence a person would write about a part's verdict: the part, its verdict, then why."""
    return f"({part['part']}) {part['statement'].rstrip('.')}: {verdict.status}. {part_detail(part, verdict)}"


def part_detail(part: pd.Series, verdict: PartVerdict) -> str:
    """Why a part got its verdict, naming the figures that decided it."""
    deciding = [j for j in verdict.judged if j.tier == verdict.tier and j.decides]
    if verdict.status == NOT_TESTABLE:
        return f"{_capital(verdict.why)}."
    if part["test"] in DIRECTION_TESTS:
        return _capital("; ".join(j.text for j in deciding)) + "."
    agree = [j.text for j in deciding if j.outcome in ("agrees", "consistent")]
    differ = [j.text for j in deciding if j.outcome == "disagrees"]
    against = f"the article's {verdict.cited}"
    if verdict.target not in verdict.cited:
        against += f", read as {verdict.target}"
    if verdict.status == SUPPORTED:
        return f"{_join(agree)} {'fits' if len(agree) == 1 else 'fit'} {against}."
    if verdict.status == CONTRADICTED:
        return f"{_join(differ)} {'falls' if len(differ) == 1 else 'fall'} outside {against}."
    but = f"{_join(differ)} {'does' if len(differ) == 1 else 'do'} not"
    return f"{_join(agree)} {'fits' if len(agree) == 1 else 'fit'} {against}, but {but}."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(texts: list[str]) -> str:
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


@dataclass(frozen=True)
class Ledger:
    claims: pd.DataFrame  # one row per claim
    parts: pd.DataFrame  # one row per claim part
    figures: pd.DataFrame  # one row per figure shown for a part, with its directness and outcome


def assess(evidence: Evidence, claim_ids: list[str] | None = None) -> Ledger:
    """The ledger: every claim (or those of `claim_ids`, in the claims table's order), its parts, their figures,
    verdicts, certainty and sensitivity. A chapter about one claim asks for it alone, so only that claim's
    data count as read.

    Each claim is assessed once per evidence, and kept in it with what it read. The build assesses every claim
    before its chapters run and hands them the evidence, so no chapter assesses a claim again (the key findings
    page draws each claim's chart from a ledger of that claim alone); what a claim read is recorded for the
    chapter all the same, as if it had."""
    return _kept(evidence, None if claim_ids is None else tuple(claim_ids), lambda: _ledger(evidence, claim_ids))


def _ledger(evidence: Evidence, claim_ids: list[str] | None) -> Ledger:
    claims = evidence.claims if claim_ids is None else evidence.rows("claims", *claim_ids)
    assessed = [
        _kept(evidence, ("claim", claim["claim_id"]), lambda claim=claim: _assess_claim(evidence, claim))
        for _, claim in claims.iterrows()
    ]
    return Ledger(
        pd.DataFrame([claim_row for claim_row, *_ in assessed]),
        pd.DataFrame([row for _, part_rows, *_ in assessed for row in part_rows]),
        pd.DataFrame([row for _, _, figure_rows, _ in assessed for row in figure_rows]),
    )


def _kept(evidence: Evidence, key: tuple | None, compute: Callable):
    """`compute()`, once per evidence and key, kept in the evidence with what it read; what it read is recorded
    again each time it is asked for (a ledger, by the claims it covers, or one claim's rows)."""
    if key not in evidence.ledgers:
        with capturing() as reads:
            evidence.ledgers[key] = (compute(), reads)
    value, reads = evidence.ledgers[key]
    for name, items in reads.items():
        record(name, *items)
    return value


def _assess_claim(evidence: Evidence, claim: pd.Series) -> tuple[dict, list[dict], list[dict], list[dict]]:
    """One claim's row, its parts' rows, its figures' rows and its tolerance steps (see `tolerance_steps`)."""
    _for(evidence)
    part_rows: list[dict] = []
    figure_rows: list[dict] = []
    parts = evidence.rows("claim_parts", claim["claim_id"])
    statuses, certainties, sentences, used, unconfirmed = [], [], [], [], set()
    for _, part in parts.iterrows():
        verdict = judge_part(evidence, part)
        deciding = [j for j in verdict.judged if j.tier == verdict.tier and j.decides]
        rows = [r for j in deciding for r in j.rows]
        doubtful = frozenset(r["source_id"] for r in rows if r["check"] == "not found" or r["caution"])
        changes = bool(doubtful) and judge_part(evidence, part, doubtful).status != verdict.status
        level, reasons = certainty(verdict, part, changes)
        unconfirmed |= {r["publisher"] for r in rows if r["check"] == "not found"}
        sentence = part_sentence(part, verdict)
        statuses.append(verdict.status)
        certainties.append(level)
        sentences.append(sentence)
        used += [r["source_id"] for r in rows]
        part_rows.append(
            {
                "claim_id": claim["claim_id"],
                "part": part["part"],
                "statement": part["statement"],
                "test": part["test"],
                "cited": verdict.cited,
                "target": verdict.target,
                "band_low": verdict.band[0] if verdict.band else None,
                "band_high": verdict.band[1] if verdict.band else None,
                "cited_value": verdict.cited_value,
                "unit": verdict.unit,
                "cited_period": part["cited_period"],
                "status": verdict.status,
                "certainty": level or "",
                "tier": verdict.tier,
                "reasons": reasons,
                "sentence": sentence,
                "detail": part_detail(part, verdict),
                "note": part["note"],
            }
        )
        figure_rows += _figure_rows(evidence, claim["claim_id"], part, verdict)
    status = claim_status(statuses)
    testable = [c for c in certainties if c]
    level = min(testable, key=CERTAINTY.index) if testable else ""
    sensitivity = _sensitivity(evidence, claim["claim_id"], status, figure_rows)
    publishers = {r["source_id"]: r["publisher"] for r in figure_rows}
    used = list(dict.fromkeys(used))
    claim_row = {
        "claim_id": claim["claim_id"],
        "statement": claim["statement"],
        "chapter": claim["chapter"],
        "status": status,
        "certainty": level,
        "parts": len(statuses),
        "part_statuses": "; ".join(f"{p}: {s}" for p, s in zip(parts["part"], statuses, strict=True)),
        "why": " ".join(sentences),
        "caveat": claim["note"],
        "sensitivity": sensitivity,
        "unconfirmed": sorted(unconfirmed),
        "source_ids": used,
        "sources": "; ".join(dict.fromkeys(publishers[s] for s in used)),
        "sentence": _claim_sentence(claim["claim_id"], status, level, unconfirmed),
    }
    return claim_row, part_rows, figure_rows, _tolerance_rows(evidence, claim["claim_id"])


def _claim_sentence(claim_id: str, status: str, level: str, unconfirmed: set[str]) -> str:
    text = f"Claim {claim_id} {'' if status == DEPENDS else 'is '}{status}"
    if level:
        text += f", with {level} certainty"
    if unconfirmed:
        text += f"; part of the evidence ({', '.join(sorted(unconfirmed))}) could not be confirmed on a public page"
    return text + "."


def _figure_rows(evidence: Evidence, claim_id: str, part: pd.Series, verdict: PartVerdict) -> list[dict]:
    """Every figure shown for a part: how directly it bears, whether it counted and how it compared."""
    base = {"claim_id": claim_id, "part": part["part"]}
    if part["test"] == "growth":
        out = []
        for j in verdict.judged:
            first = j.rows[-1]
            out.append(
                first
                | base
                | {
                    "label": j.text,
                    "value": j.value,
                    "bound": j.bound,
                    "unit": "factor",
                    "value_high": None,
                    "directness": j.tier,
                    "outcome": j.outcome,
                    "decides": j.decides and j.tier == verdict.tier,
                    "shown": value_text(j.value, j.bound, "factor"),
                }
            )
        judged_rows = {(r["source_id"], r["series_id"], r["period"]) for j in verdict.judged for r in j.rows}
        for f in part_figures(evidence, part):  # a factor a source states, though outside the window, is shown
            if f["unit"] == "factor" and (f["source_id"], f["series_id"], f["period"]) not in judged_rows:
                shown = value_text(f["value"], f["bound"], "factor")
                out.append(f | base | {"outcome": "not used", "decides": False, "shown": shown})
        return out
    judged = {(r["source_id"], r["series_id"], r["period"]): j for j in verdict.judged for r in j.rows}
    out = []
    for f in part_figures(evidence, part):
        j = judged.get((f["source_id"], f["series_id"], f["period"]))
        out.append(
            f
            | base
            | {
                "outcome": j.outcome if j else ("context" if f["role"] == "context" else "not used"),
                "decides": bool(j and j.decides and j.tier == verdict.tier),
                "shown": value_text(f["value"], f["bound"], f["unit"], f.get("value_high")),
            }
        )
    return out


def _sensitivity(evidence: Evidence, claim_id: str, status: str, figure_rows: list[dict]) -> str:
    """Which single source, if dropped, would change the claim's verdict."""
    counted = [r for r in figure_rows if r["claim_id"] == claim_id and r["role"] == "evidence"]
    changes = []
    for source_id in dict.fromkeys(r["source_id"] for r in counted):
        other = claim_status(_claim_statuses(evidence, claim_id, frozenset({source_id})))
        if other != status:
            publisher = next(r["publisher"] for r in counted if r["source_id"] == source_id)
            changes.append(f"without {publisher} ({source_id}) it would be {other}")
    return "; ".join(changes) if changes else "no single source changes the verdict"


def evaluate(evidence: Evidence) -> pd.DataFrame:
    """One row per claim: status, certainty, why, sensitivity, sources and a sentence."""
    return assess(evidence).claims


def summary(ledger: pd.DataFrame) -> str:
    counts = ledger["status"].value_counts()
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES)


# ------------------------------------------------------------------ the ledger for machines

# schema.org ratings: 5 true ... 1 false; an untestable claim gets its name only.
RATING = {SUPPORTED: 5, PARTLY: 3, DEPENDS: 3, CONTRADICTED: 1}


def ledger_table(ledger: Ledger) -> pd.DataFrame:
    """The ledger as one flat table, one row per claim part, with its claim's verdict beside it."""
    claims = ledger.claims.set_index("claim_id")
    rows = []
    for part in ledger.parts.itertuples():
        claim = claims.loc[part.claim_id]
        rows.append(
            {
                "claim_id": part.claim_id,
                "claim": claim["statement"],
                "claim_status": claim["status"],
                "claim_certainty": claim["certainty"],
                "part": part.part,
                "part_statement": part.statement,
                "test": part.test,
                "article": part.cited,
                "counts_as_article": part.target,
                "status": part.status,
                "certainty": part.certainty,
                "evidence_tier": part.tier,
                "why": part.sentence,
                "certainty_reasons": " ".join(part.reasons),
                "sensitivity": claim["sensitivity"],
                "sources": claim["sources"],
            }
        )
    return pd.DataFrame(rows)


def ledger_json(ledger: Ledger) -> dict:
    """The ledger as nested data: claims, their parts, and every figure with how it bore on the part."""
    keep = [
        "series_id",
        "source_id",
        "publisher",
        "period",
        "value",
        "value_high",
        "bound",
        "unit",
        "measure",
        "definition_id",
        "directness",
        "outcome",
        "decides",
        "grade",
        "check",
    ]
    claims = []
    for claim in ledger.claims.to_dict("records"):
        parts = []
        for part in ledger.parts[ledger.parts["claim_id"] == claim["claim_id"]].to_dict("records"):
            figures = ledger.figures
            figures = (
                figures[(figures["claim_id"] == claim["claim_id"]) & (figures["part"] == part["part"])]
                if len(figures)
                else figures
            )
            parts.append(
                {
                    k: part[k]
                    for k in (
                        "part",
                        "statement",
                        "test",
                        "cited",
                        "target",
                        "status",
                        "certainty",
                        "tier",
                        "sentence",
                        "reasons",
                    )
                }
                | {"figures": [{k: _plain(f.get(k)) for k in keep} for f in figures.to_dict("records")]}
            )
        claims.append(
            {
                k: claim[k]
                for k in (
                    "claim_id",
                    "statement",
                    "chapter",
                    "status",
                    "certainty",
                    "caveat",
                    "sensitivity",
                    "unconfirmed",
                    "source_ids",
                )
            }
            | {"sentence": claim["sentence"], "parts": parts}
        )
    return {"statuses": list(STATUSES), "certainty_levels": list(reversed(CERTAINTY)), "claims": claims}


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value.item() if hasattr(value, "item") else value


def claim_reviews(ledger: Ledger, article: pd.Series, author: str, url: str = "", date: str = "") -> list[dict]:
    """One schema.org ClaimReview per claim, for fact-check indexes."""
    reviews = []
    for claim in ledger.claims.itertuples():
        rating = {"@type": "Rating", "alternateName": claim.status, "bestRating": 5, "worstRating": 1}
        if claim.status in RATING:
            rating["ratingValue"] = RATING[claim.status]
        review = {
            "@context": "https://schema.org",
            "@type": "ClaimReview",
            "claimReviewed": claim.statement,
            "itemReviewed": {
                "@type": "Claim",
                "author": {"@type": "Organization", "name": article["publisher"]},
                "datePublished": article["published"].lstrip("~"),
                "appearance": {"@type": "CreativeWork", "headline": article["title"]}
                | ({"url": article["url"]} if article["url"] else {}),
            },
            "reviewRating": rating,
            "author": {"@type": "Organization", "name": author},
            "reviewBody": f"{claim.sentence} {claim.why}",
        }
        if url:
            review["url"] = f"{url}#claim-{claim.claim_id.lower()}"
        if date:
            review["datePublished"] = date
        reviews.append(review)
    return reviews


def markdown_summary(ledger: Ledger) -> str:
    """The ledger as the Markdown table the README shows (kept in step by `crobook ledger --readme`)."""
    lines = ["| claim | verdict | certainty | parts |", "|---|---|---|---|"]
    for c in ledger.claims.itertuples():
        lines.append(f"| {c.claim_id} | {c.status} | {c.certainty or 'none'} | {c.part_statuses} |")
    return "\n".join(lines)
