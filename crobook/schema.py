"""Field metadata for the data tables; the pandera schemas are built from it.

Each field carries its description and the form its text must take, so the error an analyst sees
("expected ...") and the documentation come from one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import pandera.pandas as pa  # imported where the schemas are built: the chapters' kernels never need it

SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
SNAKE = r"[a-z0-9]+(?:_[a-z0-9]+)*"
NUMBER = r"-?\d+(?:\.\d+)?"
DATE = r"~?\d{4}(?:-\d{2}(?:-\d{2})?)?|n\.d\."
PERIOD = r"~?\d{4}(?:-(?:0[1-9]|1[0-2]))?|\d{4}-\d{4}|n\.d\."

# unit -> (kind, label used on axes and in tables)
UNITS = {
    "percent": ("share", "%"),
    "usd_bn": ("money", "USD bn"),
    "count": ("count", "count"),
    "points": ("change", "points"),
    "percent_change": ("change", "% change"),
    "factor": ("factor", "×"),
    "usd_m": ("money", "USD m"),
}
# How a figure relates to the source's words: "more than 50" is a lower bound, "almost two thirds" an upper one.
BOUNDS = ("exact", "about", "more than", "less than", "between")
GRADES = ("as-cited", "as-cited-approximate", "reported", "secondary", "official")
CHECKS = ("confirmed", "not found", "not checked")
CLAIM = r"C[1-9][0-9]*"
PART = r"[a-z]"
# How a claim part is tested: a level (a value or bound in a period), a growth factor between two periods,
# a peak in a period, a fall after it, a rise between two periods; `none` for what no figure can decide.
TESTS = ("level", "growth", "peak", "falls_after", "rises", "none")
ROLES = ("evidence", "context")
COMBINE = ("plus", "ratio")
SNAKE_LIST = rf"{SNAKE}(?: {SNAKE})*"
SLUG_LIST = rf"{SLUG}(?: {SLUG})*"
LEVELS = ("low", "medium", "high")
BOOLEAN = ("true", "false")  # a spreadsheet's TRUE and FALSE are read as these (crobook.data.read_table)
BASES = ("article", "editorial")


@dataclass(frozen=True)
class Field:
    description: str
    expected: str = "a value"
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    required: bool = True

    def checks(self) -> list[pa.Check]:
        import pandera.pandas as pa

        # An empty cell is reported once, by the first check; the form checks apply to filled cells only.
        checks = [pa.Check(_filled, error="a value (the cell is empty)")] if self.required else []
        if self.choices:
            checks.append(pa.Check.isin({*self.choices, ""}, error=self.expected))
        elif self.pattern:
            checks.append(pa.Check(_matcher(self.pattern), error=self.expected))
        return checks


# Vectorised forms of str_length and str_matches: pandera's call Python once per cell, about 1 s at 100,000 rows.
def _filled(values: pd.Series) -> pd.Series:
    return values != ""


def _matcher(pattern: str):
    form = re.compile(f"(?:{pattern})?")

    def matches(values: pd.Series) -> pd.Series:
        # Ids and dates repeat down a column, so each distinct value is matched once.
        cells = values.tolist()
        matched = {v: form.fullmatch(v) is not None for v in set(cells)}
        return pd.Series([matched[v] for v in cells], index=values.index, dtype=bool)

    return matches


@dataclass(frozen=True)
class Table:
    file: str
    key: tuple[str, ...]
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.fields)

    def schema(self) -> pa.DataFrameSchema:
        import pandera.pandas as pa

        return pa.DataFrameSchema({name: pa.Column(str, checks=spec.checks()) for name, spec in self.fields.items()})


TABLES = {
    "sources": Table(
        file="sources.csv",
        key=("source_id",),
        fields={
            "source_id": Field("Short identifier of the source", "a slug of a-z, 0-9 and hyphens", SLUG),
            "publisher": Field("Who produced the figure", "the publisher's name"),
            "title": Field("Title of the report, page or article", "a title"),
            "published": Field(
                "Publication date", "a date YYYY, YYYY-MM or YYYY-MM-DD (prefix ~ when approximate) or n.d.", DATE
            ),
            "url": Field("Address of the page", "an http(s) URL", r"https?://\S+", required=False),
            "grade": Field("How directly the figure was taken", "one of " + ", ".join(GRADES), choices=GRADES),
            "via": Field("Outlet that reported the figure (secondary sources)", "an outlet name", required=False),
            "check": Field("Result of checking the figure", "one of " + ", ".join(CHECKS), choices=CHECKS),
            "check_note": Field("What the check found", required=False),
            "caution": Field(
                "Why the page is doubtful (misquotes, inconsistent figures, the article's own publisher); empty if not",
                required=False,
            ),
        },
    ),
    "definitions": Table(
        file="definitions.csv",
        key=("definition_id",),
        fields={
            "definition_id": Field("Short identifier of the definition", "a slug of a-z, 0-9 and hyphens", SLUG),
            "publisher": Field("Whose definition it is", "the publisher's name"),
            "term": Field("The publisher's word for the group", "a term such as emerging biopharma"),
            "definition": Field("Who counts, in the publisher's terms", "a definition"),
            "threshold": Field("The size line, if any", "a threshold or 'not stated'"),
            "geography": Field("Where the definition applies", "a geography such as global or US"),
            "source_id": Field("Source that states the definition", "a source_id of sources.csv", SLUG, required=False),
            "note": Field("Anything needed to compare it with others", required=False),
        },
    ),
    "series": Table(
        file="series.csv",
        key=("series_id",),
        fields={
            "series_id": Field("Short identifier of the series", "a snake_case slug of a-z, 0-9 and _", SNAKE),
            "claim": Field("Claim the series bears on", "a claim id such as C1", CLAIM),
            "label": Field("Short name for legends and tables", "a short label"),
            "description": Field("What exactly is measured", "a description"),
            "unit": Field("Unit of the values", "one of " + ", ".join(UNITS), choices=tuple(UNITS)),
            "measure": Field(
                "What is counted (pipeline_molecules, trial_starts, novel_approvals, venture_dollars...)",
                "a snake_case measure name",
                SNAKE,
            ),
            "definition_id": Field(
                "Who is counted: the definition of the group", "a definition_id of definitions.csv", SLUG
            ),
            "geography": Field("Where: global, US, US and Europe...", "a geography"),
        },
    ),
    "observations": Table(
        file="observations.csv",
        key=("series_id", "period", "source_id"),
        fields={
            "series_id": Field("Series the figure belongs to", "a series_id of series.csv", SNAKE),
            "period": Field(
                "Period the figure refers to",
                "a period YYYY, YYYY-MM or YYYY-YYYY (prefix ~ when approximate) or n.d.",
                PERIOD,
            ),
            "value": Field(
                "The figure", "a plain number such as 12.5 (no %, no thousands separator, no words)", NUMBER
            ),
            "source_id": Field("Source of the figure", "a source_id of sources.csv", SLUG),
            "bound": Field(
                "What the source's words make of the value: exact, about, more than, less than, between",
                "one of " + ", ".join(BOUNDS),
                choices=BOUNDS,
            ),
            "value_high": Field(
                "Upper end of a range (bound = between only)", "a plain number", NUMBER, required=False
            ),
            "forecast": Field(
                "Whether the value is a forecast (it may then refer to a period after the as-of date)",
                "true or false",
                choices=BOOLEAN,
            ),
            "note": Field("Anything needed to interpret the figure", required=False),
        },
    ),
    "claims": Table(
        file="claims.csv",
        key=("claim_id",),
        fields={
            "claim_id": Field("Claim identifier", "a claim id such as C1", CLAIM),
            "statement": Field("The claim, in short", "a statement"),
            "chapter": Field("Chapter that discusses the claim", "a chapter name such as cro-market", SLUG),
            "note": Field("What a reader must know to weigh the verdict", required=False),
        },
    ),
    "claim_parts": Table(
        file="claim_parts.csv",
        key=("claim_id", "part"),
        fields={
            "claim_id": Field("Claim the part belongs to", "a claim_id of claims.csv", CLAIM),
            "part": Field("Letter of the part", "one lower-case letter", PART),
            "statement": Field("What this part asserts", "a statement"),
            "test": Field("How the figures test it", "one of " + ", ".join(TESTS), choices=TESTS),
            "measures": Field(
                "Measures that are the claim's own (others are proxies)",
                "measure names separated by spaces",
                SNAKE_LIST,
                required=False,
            ),
            "definitions": Field(
                "Definitions that match the article's (others are indirect); empty when the article gives none",
                "definition_ids separated by spaces",
                SLUG_LIST,
                required=False,
            ),
            "geography": Field("Geography the claim is about", "a geography such as global", required=False),
            "cited_series": Field(
                "Series holding the article's figure", "a series_id of series.csv", SNAKE, required=False
            ),
            "from_period": Field("Start of a growth or rise", "a period YYYY or YYYY-MM", PERIOD, required=False),
            "cited_period": Field("Period the part is about", "a period YYYY or YYYY-MM", PERIOD, required=False),
            "tolerance": Field(
                "Allowed gap around the article's figure, in its unit", "a plain number", NUMBER, required=False
            ),
            "window": Field("Years either side of a period in which figures count", "a whole number", r"\d+"),
            "note": Field("Why the test and tolerance fit the words", required=False),
        },
    ),
    "claim_evidence": Table(
        file="claim_evidence.csv",
        key=("claim_id", "part", "series_id", "with_series"),
        fields={
            "claim_id": Field("Claim", "a claim_id of claims.csv", CLAIM),
            "part": Field("Part of the claim", "a part of claim_parts.csv", PART),
            "series_id": Field("Series whose figures bear on the part", "a series_id of series.csv", SNAKE),
            "with_series": Field(
                "Second series combined with the first (same source and period)",
                "a series_id of series.csv",
                SNAKE,
                required=False,
            ),
            "combine": Field(
                "How: plus (first + second) or ratio (100 × first / second)",
                "one of plus, ratio",
                choices=COMBINE,
                required=False,
            ),
            "role": Field(
                "evidence (counted) or context (shown, never counted)", "one of evidence, context", choices=ROLES
            ),
            "note": Field("Why the figures bear on the part, or why only as context", required=False),
        },
    ),
    "approvals": Table(
        file="approvals.csv",
        key=("year", "drug"),
        fields={
            "year": Field("Calendar year of the list the approval belongs to", "a year YYYY", r"\d{4}"),
            "approval_date": Field("Date of approval", "a date YYYY-MM-DD", r"\d{4}-\d{2}-\d{2}"),
            "drug": Field("Brand name of the drug", "a drug name"),
            "active_ingredient": Field("Active ingredient(s)", "an ingredient"),
            "applicant": Field(
                "Company named at approval (empty when not found)",
                "a company of companies.csv or an alias of company_aliases.csv",
                required=False,
            ),
            "developer": Field(
                "Company that developed the drug before the applicant acquired it, where a source says so",
                "a company of companies.csv or an alias of company_aliases.csv",
                required=False,
            ),
            "source_id": Field("The FDA list the row comes from", "a source_id of sources.csv", SLUG),
            "applicant_url": Field("Page that names the applicant", "an http(s) URL", r"https?://\S+", required=False),
            "check": Field(
                "Whether the applicant was confirmed on a public page", "one of " + ", ".join(CHECKS), choices=CHECKS
            ),
            "note": Field("Co-developers, licensors, uncertain dates", required=False),
        },
    ),
    "companies": Table(
        file="companies.csv",
        key=("company",),
        fields={
            "company": Field("A company group, as the book names it", "a company name"),
            "note": Field("Anything needed to classify it", required=False),
        },
    ),
    "aliases": Table(
        file="company_aliases.csv",
        key=("alias",),
        fields={
            "alias": Field("A subsidiary, unit or former name as a source prints it", "a name"),
            "company": Field("The group it belongs to at the time of the approvals", "a company of companies.csv"),
            "note": Field("Why: the relation the source states", "a reason"),
            "url": Field("Page that states the relation", "an http(s) URL", r"https?://\S+"),
        },
    ),
    "rankings": Table(
        file="company_rankings.csv",
        key=("source_id", "year", "rank"),
        fields={
            "year": Field("Year whose revenue is ranked", "a year YYYY", r"\d{4}"),
            "rank": Field("Rank, 1 for the largest", "a whole number from 1", r"[1-9]\d*"),
            "company": Field(
                "Company as the ranking prints it", "a company of companies.csv or an alias of company_aliases.csv"
            ),
            "revenue_usd_bn": Field("Revenue the rank rests on, USD bn", "a plain number", NUMBER),
            "measure": Field("What revenue is ranked (prescription sales, total revenue)", "a description"),
            "ranked": Field(
                "Whether the source prints the rank or the book sorted its figures",
                "one of as published, sorted here",
                choices=("as published", "sorted here"),
            ),
            "source_id": Field("Source of the ranking", "a source_id of sources.csv", SLUG),
            "check": Field("Result of checking the row", "one of " + ", ".join(CHECKS), choices=CHECKS),
            "note": Field("What the check found", required=False),
        },
    ),
    "models": Table(
        file="outsourcing_models.csv",
        key=("model",),
        fields={
            "model": Field("Name of the outsourcing model", "a model name"),
            "description": Field("What the model is", "a description"),
            "suits": Field("Which sponsors it suits", "a description of the sponsors"),
            "control": Field("How much control the sponsor keeps", "one of low, medium, high", choices=LEVELS),
            "continuity": Field(
                "How much continuity it gives across studies", "one of low, medium, high", choices=LEVELS
            ),
            "cost_predictability": Field("How predictable its cost is", "one of low, medium, high", choices=LEVELS),
            "basis": Field(
                "Where the characterisation comes from: the article's text, or the book's editorial reading",
                "one of article, editorial",
                choices=BASES,
            ),
            "source_id": Field("Source of the description", "a source_id of sources.csv", SLUG),
            "note": Field("Anything needed to interpret the row", required=False),
        },
    ),
}
