"""Tables as MyST `table` directives: a real, numbered, captioned table on the website and in the PDF."""

from __future__ import annotations

import re
from urllib.parse import quote

import pandas as pd
from IPython.display import Markdown

from crobook.charts import source_line
from crobook.page import write_view
from crobook.text import value_text

# Every ASCII punctuation mark may be backslash-escaped in CommonMark; escaping them keeps text from the
# data (HTML, links, emphasis, `$` maths, table pipes) as plain text.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_URL_SAFE = ":/?#@!$&'*+,;=%-._~"


# Break points (zero-width spaces) let a URL or a long identifier wrap inside a table cell, on the page and on
# the screen: after the / . - _ ? & = of a token longer than BREAK_FROM, and every CHUNK characters of a run
# with none.
BREAK_FROM, CHUNK = 12, 24
_BREAK_AFTER = re.compile(r"([/.\-_?&=])(?=\S)")


def breakable(text: str) -> str:
    def split(token: str) -> str:
        if len(token) <= BREAK_FROM:
            return token
        pieces = _BREAK_AFTER.sub("\\1\u200b", token).split("\u200b")
        return "\u200b".join(
            "\u200b".join(piece[i : i + CHUNK] for i in range(0, len(piece), CHUNK)) for piece in pieces
        )

    return " ".join(split(token) for token in text.split(" "))


def escape(text: object) -> str:
    return _PUNCTUATION.sub(r"\\\1", str(text)).replace("\n", " ")


def format_value(value: object, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def link(text: object, url: str) -> str:
    """A Markdown link whose text stays plain; only http(s) addresses (the schema allows no others) become links."""
    if not url.startswith(("http://", "https://")):
        return escape(text)
    return f"[{escape(text)}](<{quote(url, safe=_URL_SAFE)}>)"


def cell(value: object, digits: int) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, tuple):  # (text, url)
        return link(breakable(str(value[0])), value[1])
    return escape(breakable(format_value(value, digits)))


def widths(frame: pd.DataFrame) -> list[int]:
    """Relative column widths from the text they hold, so long tables wrap inside the PDF page."""
    lengths = []
    for column in frame.columns:
        texts = [str(v[0] if isinstance(v, tuple) else v) for v in frame[column]] + [str(column)]
        longest_word = max(min(len(w), CHUNK) for t in texts for w in [*t.split(), ""])
        lengths.append(max(min(max(len(t) for t in texts), 30), longest_word))
    return [max(10, length) for length in lengths]


# A table longer than LONG_TABLE rows shows its first SHOWN_ROWS on the page (website and PDF) and says how many
# more its CSV holds: a page of ten thousand rows helps no reader, and the PDF's longtable would run to hundreds
# of pages. Today's longest table, the sources appendix, has 103 rows.
LONG_TABLE, SHOWN_ROWS = 150, 100


def shortened(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows a table shows, and a sentence saying how many more rows its CSV holds (empty when none)."""
    if len(frame) <= LONG_TABLE:
        return frame, ""
    more = len(frame) - SHOWN_ROWS
    return frame.head(SHOWN_ROWS), (
        f"The table shows the first {SHOWN_ROWS} of {len(frame):,} rows; {more:,} more rows are in the CSV file."
    )


class Raw(str):
    """MyST markup the book itself writes (a cross-reference, a document link), not text from the data."""


def table(
    frame: pd.DataFrame, name: str, caption: str, rows: pd.DataFrame, source: str | None = None, digits: int = 1
) -> Markdown:
    """A captioned table with a source line and a link to its CSV; `name` is its label (`tbl-...`).

    `rows` are the observations behind it (for the source line and the sources appendix). A cell holding a
    (text, url) tuple becomes a link; a `Raw` cell is written as MyST markup.
    """
    source = source or source_line(rows)
    # The CSV holds every row; the page, a long table's first rows.
    write_view(
        name,
        "table",
        caption,
        frame.map(lambda v: v[0] if isinstance(v, tuple) else v),
        list(rows.get("source_id", [])),
    )
    frame, more = shortened(frame)
    header = "| " + " | ".join(escape(breakable(str(c))) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v, digits) for v in row) + " |" for row in frame.itertuples(index=False)]
    lines = [
        f":::{{table}} {escape(caption)}",
        f":name: {name}",
        ":align: left",
        f":widths: {' '.join(str(w) for w in widths(frame))}",
        ":class: longtable",  # in the PDF, a table breaks across pages, its header repeated, never runs off
        "",
        header,
        rule,
        *body,
        ":::",
        "",
        f"{escape(more)} {escape(source)} {{download}}`Data of this table (CSV) <views/{name}.csv>`".lstrip(),
    ]
    return Markdown("\n".join(lines))


def figures(rows: pd.DataFrame) -> pd.DataFrame:
    """The standard listing of observations: what, when, how much, from whom, how reliable."""
    listing = pd.DataFrame(
        {
            "Figure": rows["label"],
            "Period": rows["period"],
            "Value": shown(rows, digits=2),
            "Source": rows["publisher"]
            + rows["via"].map(lambda v: f" via {v}" if v else "")
            + rows["published"].map(lambda d: f" ({'no date' if d == 'n.d.' else d})"),
            "Grade": rows["grade"],
            "Check": rows["check"],
        }
    )
    return listing.reset_index(drop=True)


def shown(rows: pd.DataFrame, digits: int = 1, with_unit: bool = True) -> pd.Series:
    """Each figure as its source's words give it: `> 50 USD bn`, `< 66.7%`, `≈ 70%` (or without the unit)."""
    high = rows["value_high"] if "value_high" in rows else pd.Series(None, index=rows.index)
    return pd.Series(
        [
            value_text(v, b, u if with_unit else "count", None if pd.isna(h) else h, digits)
            for v, b, u, h in zip(rows["value"], rows["bound"], rows["unit"], high, strict=True)
        ],
        index=rows.index,
    )


def by_year(rows: pd.DataFrame) -> pd.DataFrame:
    """Series by year; several figures for one year are all shown, the most recently published first."""
    ordered = rows.assign(_published=rows["published"].str.lstrip("~")).sort_values("_published", ascending=False)
    ordered["cell"] = shown(ordered, with_unit=False)
    cells = ordered.groupby(["label", "year"], sort=False)["cell"].agg(" / ".join)
    grid = cells.unstack("year").reindex(index=list(dict.fromkeys(rows["label"])))
    grid = grid[sorted(grid.columns)].fillna("")
    grid.columns = [str(c) for c in grid.columns]
    return grid.rename_axis("Series").reset_index()


# Filters the rows of one table as the reader types. The box stays hidden without scripts (and in print), so a
# reader never sees a control that does nothing; the table itself is complete either way.
_SEARCH_SCRIPT = """(function () {
 function init() {
  var box = document.getElementById("search-%(name)s");
  var table = document.getElementById("%(name)s");
  if (!box || !table) { return; }
  var input = box.querySelector("input"), status = box.querySelector("output");
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
  box.hidden = false;
  input.addEventListener("input", function () {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean), shown = 0;
    rows.forEach(function (row) {
      var text = row.textContent.toLowerCase();
      var keep = words.every(function (w) { return text.indexOf(w) >= 0; });
      row.hidden = !keep;
      if (keep) { shown += 1; }
    });
    status.textContent = shown + " of " + rows.length + " rows";
  });
 }
 if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();"""


def search_box(name: str, label: str) -> str:
    """MyST for a search box above the table labelled `name` (website only)."""
    return "\n".join(
        [
            ":::{raw} html",
            f'<div class="crobook-search" id="search-{name}" hidden><label>{label} '
            f'<input type="search" autocomplete="off"></label> <output aria-live="polite"></output></div>',
            f"<script>{_SEARCH_SCRIPT % {'name': name}}</script>",
            ":::",
        ]
    )
