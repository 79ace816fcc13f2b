"""Small wording helpers for the prose that chapters glue."""

from __future__ import annotations

from datetime import datetime


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
