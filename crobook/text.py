"""Small wording helpers for the prose that chapters glue."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from crobook.schema import UNITS


def when(period: str) -> str:
    """'2021-03' reads as 'March 2021'; a year or a span stays as it is; an approximate '~' is dropped."""
    text = period.lstrip("~")
    return datetime.strptime(text, "%Y-%m").strftime("%B %Y") if len(text) == 7 and text[4] == "-" else text


def gap_text(value: float, reference: float) -> str:
    """Where a share sits against a reference share, in whole percentage points."""
    gap = value - reference
    if round(gap) == 0:
        return "level with"
    return f"{abs(gap):.0f} percentage points {'above' if gap > 0 else 'below'}"


def number(value: float, digits: int = 1) -> str:
    """Rounded half up from the decimal text (82.55 -> 82.6, where binary floats give 82.5); no trailing .0."""
    text = str(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))
    text = f"{Decimal(text):,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


PREFIX = {"exact": "", "about": "≈ ", "more than": "> ", "less than": "< "}


def value_text(value: float, bound: str, unit: str, high: float | None = None, digits: int = 1) -> str:
    """A figure as the words give it: `> 50 USD bn`, `< 66.7%`, `≈ 70%`, `48.2–82.6 USD bn`."""
    label = UNITS[unit][1]
    core = (
        f"{number(value, digits)}–{number(high, digits)}"
        if bound == "between"
        else PREFIX[bound] + number(value, digits)
    )
    if label in ("%", "% change"):
        return core + "%"
    if label == "×":
        return core + "×"
    return core if label == "count" else f"{core} {label}"


def quoted(note: str) -> str:
    """The words a source used, as an observation's note records them between quotes ('almost two thirds')."""
    found = re.search(r"'([^']+)'", note)
    return found.group(1) if found else note


def shortlist(items, limit: int = 5) -> str:
    """'a; b; c; and 4 more': a list that keeps a table row shorter than a printed page."""
    items = list(items)
    shown = "; ".join(items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")
