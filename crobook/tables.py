"""Tables as MyST `table` directives: a real, numbered, captioned table on the website and in the PDF."""

from __future__ import annotations

import re

import pandas as pd
from IPython.display import Markdown

# Every ASCII punctuation mark may be backslash-escaped in CommonMark; escaping them keeps text from the
# data (HTML, links, emphasis, `$` maths, table pipes) as plain text.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escape(text: object) -> str:
    return _PUNCTUATION.sub(r"\\\1", str(text)).replace("\n", " ")


def format_value(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def table(frame: pd.DataFrame, name: str, caption: str, source: str, digits: int = 1) -> Markdown:
    """A captioned table with a source line; `name` is its label for cross-references (`tbl-...`)."""
    header = "| " + " | ".join(escape(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(escape(format_value(v, digits)) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    lines = [
        f":::{{table}} {escape(caption)}",
        f":name: {name}",
        ":align: left",
        "",
        header,
        rule,
        *body,
        ":::",
        "",
        escape(source),
    ]
    return Markdown("\n".join(lines))


def figures(rows: pd.DataFrame) -> pd.DataFrame:
    """The standard listing of observations: what, when, how much, from whom, how reliable."""
    grade = rows["grade"].where(~rows["approximate"], rows["grade"] + ", approximate")
    value = rows["value"].map(lambda v: f"{v:,.2f}".rstrip("0").rstrip("."))
    listing = pd.DataFrame(
        {
            "Figure": rows["label"],
            "Period": rows["period"],
            "Value": value + rows["unit_label"].map(lambda u: "%" if u == "%" else f" {u}"),
            "Source": rows["publisher"]
            + rows["via"].map(lambda v: f" via {v}" if v else "")
            + rows["published"].map(lambda d: f" ({'no date' if d == 'n.d.' else d})"),
            "Grade": grade,
            "Check": rows["check"],
        }
    )
    return listing.reset_index(drop=True)
