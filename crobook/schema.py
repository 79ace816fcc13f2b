"""Field metadata for the data tables; the pandera schemas are built from it.

Each field carries its description and the form its text must take, so the error an analyst sees
("expected ...") and the documentation come from one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandera.pandas as pa

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
}
GRADES = ("as-cited", "as-cited-approximate", "reported", "secondary", "official")
CHECKS = ("confirmed", "not found", "not checked")
CLAIMS = tuple(f"C{i}" for i in range(1, 10))
RULES = ("within_points", "at_least", "peaks_in", "rises", "larger_rise", "none")
STATUSES = ("supported", "partly supported", "contradicted", "not testable")
SERIES_LIST = rf"{SNAKE}(?: {SNAKE})*"
LEVELS = ("low", "medium", "high")
BASES = ("article", "editorial")


@dataclass(frozen=True)
class Field:
    description: str
    expected: str = "a value"
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    required: bool = True

    def checks(self) -> list[pa.Check]:
        # An empty cell is reported once, by the first check; the form checks apply to filled cells only.
        checks = [pa.Check.str_length(min_value=1, error="a value (the cell is empty)")] if self.required else []
        if self.choices:
            checks.append(pa.Check.isin({*self.choices, ""}, error=self.expected))
        elif self.pattern:
            checks.append(pa.Check.str_matches(f"^(?:{self.pattern})?$", error=self.expected))
        return checks


@dataclass(frozen=True)
class Table:
    file: str
    key: tuple[str, ...]
    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.fields)

    def schema(self) -> pa.DataFrameSchema:
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
        },
    ),
    "series": Table(
        file="series.csv",
        key=("series_id",),
        fields={
            "series_id": Field("Short identifier of the series", "a snake_case slug of a-z, 0-9 and _", SNAKE),
            "claim": Field("Claim the series bears on", "one of C1 to C9", choices=CLAIMS),
            "label": Field("Short name for legends and tables", "a short label"),
            "description": Field("What exactly is measured", "a description"),
            "unit": Field("Unit of the values", "one of " + ", ".join(UNITS), choices=tuple(UNITS)),
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
            "approximate": Field("Whether the value is a reading of words", "true or false", choices=("true", "false")),
            "forecast": Field(
                "Whether the value is a forecast (it may then refer to a period after the as-of date)",
                "true or false",
                choices=("true", "false"),
            ),
            "note": Field("Anything needed to interpret the figure", required=False),
        },
    ),
    "claims": Table(
        file="claims.csv",
        key=("claim_id",),
        fields={
            "claim_id": Field("Claim identifier", "one of C1 to C9", choices=CLAIMS),
            "statement": Field("The claim, in short", "a statement"),
            "cited_series": Field(
                "Series holding the article's figure", "a series_id of series.csv", SNAKE, required=False
            ),
            "cited_period": Field("Period of the article's figure", "a period YYYY or YYYY-MM", PERIOD, required=False),
            "evidence_series": Field(
                "Series that test the claim",
                "series_ids of series.csv separated by spaces",
                SERIES_LIST,
                required=False,
            ),
            "rule": Field("How the evidence decides the status", "one of " + ", ".join(RULES), choices=RULES),
            "tolerance": Field("Allowed gap for the rule", "a plain number", NUMBER, required=False),
            "if_holds": Field("Status when the rule holds", "one of " + ", ".join(STATUSES), choices=STATUSES),
            "if_fails": Field("Status when it does not", "one of " + ", ".join(STATUSES), choices=STATUSES),
            "chapter": Field("Chapter that discusses the claim", "a chapter name such as cro-market", SLUG),
            "note": Field("Why the rule and tolerance fit the claim", required=False),
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
