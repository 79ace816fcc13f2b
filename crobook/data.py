"""Load and validate the data folder: the one path used by notebooks, tests and the command line."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd

from crobook.analysis import CITED_GRADES
from crobook.errors import DataError, Problem
from crobook.schema import BOOLEAN, TABLES, UNITS, Table

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CHAPTERS_DIR = Path(__file__).resolve().parent.parent / "chapters"


REGISTER = ("approvals", "companies", "aliases", "rankings")  # the tables behind the approvals count
# Tables a chapter may read row by row (Evidence.rows), by their key column. Observations are keyed by series:
# a series is the unit an analyst edits and a chapter draws.
KEYS = {
    "observations": "series_id",
    "series": "series_id",
    "sources": "source_id",
    "claims": "claim_id",
    "claim_parts": "claim_id",
    "claim_evidence": "claim_id",
}

# When set (by the build, for each chapter it runs), the data a chapter actually uses are recorded in this JSON
# file, so that a later build re-runs the chapter only when they change: whole files ("sources.csv") or the rows
# of one key ("observations.csv:ebp_share_rd_pipeline", see KEYS).
RECORD_ENV = "CROBOOK_RECORD"


# Set by the build while its chapters run: a pickle of the data it validated, read by crobook.page.load.
EVIDENCE_ENV = "CROBOOK_EVIDENCE"

# Set by the build while chapters run: a folder of converted charts kept between builds (crobook.charts).
# Converting a chart to SVG and PDF takes vl-convert about 0.4 s, and a chapter that re-runs redraws mostly
# unchanged charts (the key findings page redraws all nine claim charts when one figure changes).
CHART_CACHE_ENV = "CROBOOK_CHART_CACHE"

_recorded: dict[str, dict[str, set[str]]] = {}  # record file -> key -> items already written


_capturing: list[dict[str, set[str]]] = []  # open `capturing` blocks


def record(key: str, *items: str) -> None:
    for captured in _capturing:
        captured.setdefault(key, set()).update(items)
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    found = _recorded.setdefault(path, {})
    if set(items) <= found.get(key, set()):
        return  # tables are read many times; the file is written only when something new is used
    found.setdefault(key, set()).update(items)
    text = json.dumps({k: sorted(v) for k, v in found.items()}, indent=1) + "\n"
    Path(path).write_text(text, encoding="utf-8")


@contextmanager
def capturing() -> Iterator[dict[str, set[str]]]:
    """What is recorded in the block (see `record`), by key, whether or not a chapter is running."""
    captured: dict[str, set[str]] = {}
    _capturing.append(captured)
    try:
        yield captured
    finally:
        _capturing.remove(captured)


@dataclass(frozen=True)
class Evidence:
    """The validated tables. `observations` carries each series' and source's columns joined in.

    Reading a table through its property records the files it comes from (see `record`).
    """

    tables: dict[str, pd.DataFrame]
    data_dir: Path
    book: dict = field(default_factory=dict)  # the book-wide parameters it was read with (see crobook.params)
    _series_rows: dict = field(default_factory=dict, repr=False, compare=False)  # series_data by series ids
    # Claims ledgers and single claims assessed from it, with what each read (see crobook.claims.assess);
    # pickled with it.
    ledgers: dict = field(default_factory=dict, repr=False, compare=False)

    def _use(self, *names: str) -> None:
        record("reads", *(TABLES[n].file for n in names))

    @property
    def sources(self) -> pd.DataFrame:
        self._use("sources")
        return self.tables["sources"]

    @property
    def series(self) -> pd.DataFrame:
        self._use("series")
        return self.tables["series"]

    @property
    def observations(self) -> pd.DataFrame:
        # Some rows are computed from the approvals register (see crobook.approvals), so it is read too.
        self._use("observations", "series", "sources", *REGISTER)
        return self.tables["observations"]

    @property
    def approvals(self) -> pd.DataFrame:
        self._use("approvals")
        return self.tables["approvals"]

    @property
    def companies(self) -> pd.DataFrame:
        self._use("companies")
        return self.tables["companies"]

    @property
    def aliases(self) -> pd.DataFrame:
        self._use("aliases")
        return self.tables["aliases"]

    @property
    def rankings(self) -> pd.DataFrame:
        self._use("rankings")
        return self.tables["rankings"]

    @property
    def claims(self) -> pd.DataFrame:
        self._use("claims")
        return self.tables["claims"]

    @property
    def definitions(self) -> pd.DataFrame:
        self._use("definitions")
        return self.tables["definitions"]

    @property
    def claim_parts(self) -> pd.DataFrame:
        self._use("claim_parts")
        return self.tables["claim_parts"]

    @property
    def claim_evidence(self) -> pd.DataFrame:
        self._use("claim_evidence")
        return self.tables["claim_evidence"]

    @property
    def models(self) -> pd.DataFrame:
        self._use("models")
        return self.tables["models"]

    def rows(self, name: str, *keys: str) -> pd.DataFrame:
        """The rows of table `name` whose key (see KEYS) is one of `keys`; only those rows count as read, so a
        change elsewhere in the file does not re-run the chapter."""
        self._use_rows(name, *keys)
        table = self.tables[name]
        return table[table[KEYS[name]].isin(keys)]

    def _use_rows(self, name: str, *keys: str) -> None:
        record("reads", *(f"{TABLES[name].file}:{key}" for key in keys))

    def series_data(self, *series_ids: str) -> pd.DataFrame:
        """Observations of the given series, in the order given, then by period.

        What is read is recorded row by row: these series' observations and definitions, the sources their
        figures come from, and the approvals register when a series is computed from it."""
        found = self._series_rows.get(series_ids)
        if found is None:
            unknown = set(series_ids) - set(self.tables["series"]["series_id"])
            if unknown:
                raise KeyError(f"unknown series {sorted(unknown)} in {self.data_dir / 'series.csv'}")
            table = self.tables["observations"]
            rows = table[table["series_id"].isin(series_ids)].copy()
            rows["_order"] = rows["series_id"].map({s: i for i, s in enumerate(series_ids)})
            found = rows.sort_values(["_order", "year", "period"]).drop(columns="_order").reset_index(drop=True)
            self._series_rows[series_ids] = found  # the claims engine asks for the same series hundreds of times
        self._use_rows("series", *series_ids)
        self._use_rows("observations", *series_ids)
        self._use_rows("sources", *found["source_id"].unique())
        if (found["derivation"] != "").any():
            self._use(*REGISTER)
        return found.copy()


def read_table(data_dir: Path, table: Table) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read one CSV as text. BOM, CRLF and surrounding spaces are tolerated; anything else is a Problem."""
    path = data_dir / table.file
    name = str(path)
    if not path.is_file():
        return None, [Problem(name, None, None, f"file not found; expected the {table.file} table in {data_dir}")]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        return None, [
            Problem(
                name,
                line - 1 if line > 1 else None,
                None,
                f"byte {raw[err.start]:#04x} at line {line} is not UTF-8; save the file as UTF-8",
            )
        ]
    reader = csv.reader(io.StringIO(text, newline=""))
    first = next(reader, None)
    if first is None or not any(cell.strip() for cell in first):
        return None, [Problem(name, None, None, f"file is empty; expected a header row: {','.join(table.columns)}")]
    header = [cell.strip() for cell in first]
    if len(header) == 1 and len(header[0].split(";")) == len(table.columns):
        return None, [
            Problem(
                name,
                None,
                None,
                'cells are separated by ";"; expected commas (in a spreadsheet, save as "CSV UTF-8 (comma delimited)")',
            )
        ]
    problems = [Problem(name, None, col, "required column is missing") for col in table.columns if col not in header]
    problems += [
        Problem(name, None, col, "unexpected column; expected only: " + ", ".join(table.columns))
        for col in header
        if col not in table.columns
    ]
    problems += [
        Problem(name, None, col, "column appears more than once") for col in set(header) if header.count(col) > 1
    ]
    if problems:
        return None, problems
    frame = _well_formed(text, header)
    if frame is not None:
        return _as_read(frame, table), []
    rows = [first, *reader]  # row by row, to say which rows are wrong and how
    body = [r for r in rows[1:] if "".join(r).strip()]
    if not body:
        return None, [Problem(name, None, None, "file has a header but no data rows")]
    width = len(header)
    # Row by row only when the file holds a control character other than line ends, or a line break in a cell.
    lines = text.count("\n") + (not text.endswith("\n"))
    clean = not CONTROL_IN_LINE.search(text.replace("\r\n", "\n")) and lines == len(rows)
    for i, r in [] if clean and set(map(len, body)) == {width} else enumerate(body, start=1):
        if len(r) != width:
            problems.append(
                Problem(name, i, None, f"has {len(r)} cells; expected {width} (one per column)" + comma_hint(r))
            )
        if not clean and CONTROL.search("".join(r)):
            problems += [
                Problem(name, i, column, message)
                for column, cell in zip(header, r, strict=False)
                if (message := control_character(cell))
            ]
    if problems:
        return None, problems
    columns = zip(*body, strict=True)
    frame = pd.DataFrame({c: [cell.strip() for cell in cells] for c, cells in zip(header, columns, strict=True)})
    return _as_read(frame, table), []


def _well_formed(text: str, header: list[str]) -> pd.DataFrame | None:
    """The file's data rows, cells stripped and blank rows dropped, read by pandas' C parser (about twice as fast
    as the csv module and Python lists for 100,000 rows); None unless every line is one row with one cell per
    column and no cell holds a control character or a line break, so that reading row by row would find nothing
    wrong."""
    lines = text.replace("\r\n", "\n")
    if CONTROL_IN_LINE.search(lines):
        return None
    rows = [line for line in lines.split("\n")[1:] if line.strip()]
    if not rows:
        return None
    for line in rows:  # only a line with a quote needs the csv module to count its cells
        cells = len(next(csv.reader([line]))) if '"' in line else line.count(",") + 1
        if cells != len(header):
            return None
    frame = pd.read_csv(io.StringIO(text), header=None, skiprows=1, names=header, dtype=str, keep_default_na=False)
    if len(frame) != len(rows):  # a quoted line break joined two lines into one row
        return None
    for column in frame.columns:
        if _may_need_strip("\0".join(frame[column].tolist())):
            frame[column] = frame[column].str.strip()
    return frame[(frame != "").any(axis=1)]


def _may_need_strip(cells: str) -> bool:
    """Whether a column, its cells joined by NUL, may have a cell that starts or ends with white space.

    Stripping calls Python once per cell (about half of reading 100,000 rows); these tests run at C speed. Here
    no cell holds a NUL, a tab or another control character (those send the file row by row), so in ASCII text
    only a space can be white space; other text is stripped cell by cell."""
    if not cells.isascii():
        return True
    return cells.startswith(" ") or cells.endswith(" ") or "\0 " in cells or " \0" in cells


def _as_read(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """The table's columns in order, rows numbered as data rows from 1; spreadsheet booleans in lower case."""
    for column, spec in table.fields.items():
        if spec.choices == BOOLEAN and column in frame:  # a spreadsheet writes TRUE and FALSE
            lower = frame[column].str.lower()
            frame[column] = frame[column].where(~lower.isin(BOOLEAN), lower)
    frame.index = range(1, len(frame) + 1)  # data row numbers
    return frame[table.columns]


THOUSANDS = (re.compile(r"-?\d{1,3}"), re.compile(r"\d{3}(?:\.\d+)?"))


def comma_hint(cells: list[str]) -> str:
    """A hint when a number written with a thousands comma (5,400) was split into two cells."""
    for left, right in zip(cells, cells[1:], strict=False):
        if THOUSANDS[0].fullmatch(left.strip()) and THOUSANDS[1].fullmatch(right.strip()):
            joined = f"{left.strip()},{right.strip()}"
            return f'; "{joined}" looks like a number with a thousands comma: write {joined.replace(",", "")}'
    return ""


def records(frame: pd.DataFrame):
    """(row number, row as a dict) for every row: iterrows builds a Series per row, far too slow for 100,000."""
    columns = list(frame.columns)
    rows = (dict(zip(columns, values, strict=True)) for values in zip(*(frame[c].tolist() for c in columns)))
    return zip(frame.index, rows, strict=True)


# Unicode Cc (C0, DEL, C1) and the line and paragraph separators (Zl, Zp): see control_character
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_IN_LINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # all but \n: a CR outside a CRLF counts


def control_character(cell: str) -> str | None:
    """What is wrong with a cell holding a control character, or None.

    A word processor's line break (vertical tab), a page break (form feed), a tab or a line break pasted into a
    cell are invisible in a spreadsheet but break the PDF or the tables, so every control character (Unicode
    Cc: C0, DEL, C1) and the Unicode line and paragraph separators are refused, not silently dropped.
    """
    found = CONTROL.search(cell)
    if found is None:
        return None
    char, position = found.group(), found.start() + 1
    what = CONTROL_NAMES.get(char) or unicodedata.name(char, "control character")
    return (
        f"contains a {what.lower()} (U+{ord(char):04X}) at character {position}, invisible in a spreadsheet "
        "(a line or page break pasted from a word processor); expected plain text on one line: "
        "replace it with a space"
    )


CONTROL_NAMES = {  # unicodedata has no names for C0 and C1 controls
    "\t": "tab",
    "\n": "line break",
    "\r": "carriage return",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x00": "null character",
    "\x7f": "delete character",
    "\x85": "next-line character",
}


def check_schema(frame: pd.DataFrame, table: Table, name: str) -> list[Problem]:
    import pandera.pandas as pa  # here: the chapters load validated evidence and never need pandera

    try:
        table.schema().validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        return [
            Problem(name, int(c["index"]), str(c["column"]), f'expected {c["check"]}, got "{c["failure_case"]}"')
            for _, c in cases.sort_values(["index", "column"]).iterrows()
            if pd.notna(c["index"])
        ]
    return []


@cache
def period_bounds(period: str) -> tuple[int, int] | None:
    """First and last year a period covers; None for n.d."""
    text = period.lstrip("~")
    if text == "n.d.":
        return None
    if len(text) == 9:  # YYYY-YYYY
        start, end = int(text[:4]), int(text[5:])
        return start, end
    year = int(text[:4])
    return year, year


@cache
def earliest_day(text: str) -> date | None:
    """The first day a period or date can mean (2021 -> 2021-01-01, a span from its start); None for n.d."""
    text = text.lstrip("~")
    if text == "n.d.":
        return None
    parts = [int(p) for p in text[:4].split("-")] if len(text) == 9 else [int(p) for p in text.split("-")]
    return date(*(parts + [1, 1])[:3])


@cache
def date_is_valid(text: str) -> bool:
    try:
        earliest_day(text)
    except ValueError:
        return False
    return True


def duplicate_problems(frame: pd.DataFrame, table: Table, name: str) -> list[Problem]:
    dup = frame[frame.duplicated(list(table.key), keep="first")]
    problems = []
    for row, values in dup.iterrows():
        first = frame[(frame[list(table.key)] == values[list(table.key)]).all(axis=1)].index[0]
        key = ", ".join(f"{k}={values[k]}" for k in table.key)
        problems.append(
            Problem(
                name, int(row), table.key[-1], f"duplicate key ({key}) already on row {first}; expected each key once"
            )
        )
    return problems


def check_relations(frames: dict[str, pd.DataFrame], data_dir: Path) -> list[Problem]:
    sources, series, obs = frames["sources"], frames["series"], frames["observations"]
    name = str(data_dir / TABLES["observations"].file)
    problems = []
    for table, frame in frames.items():
        problems += duplicate_problems(frame, TABLES[table], str(data_dir / TABLES[table].file))
    problems += claim_problems(frames, data_dir)
    problems += register_problems(frames, data_dir)
    problems += reference_problems(
        frames["models"], "source_id", set(sources["source_id"].tolist()), "sources", data_dir, "models"
    )
    problems += reference_problems(
        frames["definitions"], "source_id", set(sources["source_id"].tolist()), "sources", data_dir, "definitions"
    )
    problems += reference_problems(
        series, "definition_id", set(frames["definitions"]["definition_id"].tolist()), "definitions", data_dir, "series"
    )
    for row, check, grade in zip(sources.index, sources["check"].tolist(), sources["grade"].tolist(), strict=True):
        if check == "not checked" and grade not in UNCHECKED_GRADES:
            problems.append(
                Problem(
                    str(data_dir / "sources.csv"),
                    int(row),
                    "check",
                    f'expected "confirmed" or "not found" for grade {grade}: "not checked" is only for the '
                    "article's own figures (as-cited, as-cited-approximate) and secondary reports seen in a copy",
                )
            )
    for row, text in zip(sources.index, sources["published"].tolist(), strict=True):
        if not date_is_valid(text):
            problems.append(
                Problem(
                    str(data_dir / "sources.csv"), int(row), "published", f'expected a real calendar date, got "{text}"'
                )
            )
    problems += empty_series_problems(frames, data_dir)
    known_sources, units = (
        set(sources["source_id"].tolist()),
        dict(zip(series["series_id"].tolist(), series["unit"].tolist())),
    )
    for row, r in records(obs[suspect_observations(obs, known_sources, units)]):
        if r["source_id"] not in known_sources:
            problems.append(
                Problem(
                    name,
                    int(row),
                    "source_id",
                    f'unknown source "{r["source_id"]}"; expected a source_id of sources.csv',
                )
            )
        if r["series_id"] not in units:
            problems.append(
                Problem(
                    name,
                    int(row),
                    "series_id",
                    f'unknown series "{r["series_id"]}"; expected a series_id of series.csv',
                )
            )
            continue
        bounds = period_bounds(r["period"])
        if bounds and bounds[0] > bounds[1]:
            problems.append(Problem(name, int(row), "period", f'span "{r["period"]}" ends before it starts'))
        problems += bound_problems(r, int(row), name)
        value, kind = float(r["value"]), UNITS[units[r["series_id"]]][0]
        if kind == "share" and not 0 <= value <= 100:
            problems.append(
                Problem(name, int(row), "value", f"expected a share between 0 and 100 (unit percent), got {r['value']}")
            )
        elif kind == "factor" and value <= 0:
            problems.append(Problem(name, int(row), "value", f"expected a growth factor above 0, got {r['value']}"))
        elif kind in ("money", "count") and value < 0:
            problems.append(
                Problem(
                    name,
                    int(row),
                    "value",
                    f"expected a value not negative (unit {units[r['series_id']]}), got {r['value']}",
                )
            )
    return problems


def suspect_observations(obs: pd.DataFrame, known_sources: set[str], units: dict[str, str]) -> pd.Series:
    """Rows the checks below could fault, found column-wise: looping over all 100,000 rows took over a second."""
    kinds = obs["series_id"].map({s: UNITS[u][0] for s, u in units.items() if u in UNITS})
    value = pd.to_numeric(obs["value"], errors="coerce")
    return (
        ~obs["source_id"].isin(known_sources)
        | kinds.isna()
        | obs["period"].str.contains("-", regex=False)  # a span may end before it starts
        | (obs["bound"] == "between")
        | (obs["value_high"] != "")
        | value.isna()
        | ((kinds == "share") & ~value.between(0, 100))
        | ((kinds == "factor") & (value <= 0))
        | (kinds.isin(("money", "count")) & (value < 0))
    )


def empty_series_problems(frames: dict[str, pd.DataFrame], data_dir: Path) -> list[Problem]:
    """A series without any figure: the chapters look their series up by name and fail on an empty one."""
    from crobook.approvals import SHARE_SERIES

    # The book computes that series' figures from the approvals register at load time; without the (optional)
    # register it stays empty, and the approvals chapter says so.
    with_rows = set(frames["observations"]["series_id"].tolist()) | {SHARE_SERIES}
    series_ids = frames["series"]["series_id"]
    return [
        Problem(
            str(data_dir / TABLES["series"].file),
            int(row),
            "series_id",
            f'series "{series_id}" has no figure; expected at least one row of observations.csv for it '
            "(or remove the series)",
        )
        for row, series_id in series_ids[~series_ids.isin(with_rows)].items()
    ]


def reference_problems(
    frame: pd.DataFrame, column: str, known: set[str], target: str, data_dir: Path, table: str
) -> list[Problem]:
    """Each filled cell of `column` names a key of the `target` table."""
    name = str(data_dir / TABLES[table].file)
    return [
        Problem(
            name,
            int(row),
            column,
            f'unknown {column.removesuffix("_id")} "{value}"; expected a {column} of {TABLES[target].file}',
        )
        for row, value in frame[column].items()
        if value and value not in known
    ]


def bound_problems(r: pd.Series, row: int, name: str) -> list[Problem]:
    if r["bound"] == "between":
        if not r["value_high"]:
            return [Problem(name, row, "value_high", "expected the upper end of the range: bound is between")]
        if float(r["value_high"]) < float(r["value"]):
            return [
                Problem(name, row, "value_high", f"expected at least the value {r['value']}, got {r['value_high']}")
            ]
    elif r["value_high"]:
        return [Problem(name, row, "value_high", 'expected an empty cell: only bound "between" has an upper end')]
    return []


# Grades whose figures may stay unchecked: the article's own (nothing to check them against) and a secondary
# report whose original page was not seen. The publisher's own material and an agency's page are checked.
UNCHECKED_GRADES = ("as-cited", "as-cited-approximate", "secondary")

# What each test of a claim part needs filled in, besides the part's own columns.
NEEDS = {
    "level": ("cited_series", "cited_period", "tolerance"),
    "growth": ("cited_series", "from_period", "cited_period", "tolerance"),
    "peak": ("cited_period",),
    "falls_after": ("cited_period",),
    "rises": ("from_period", "cited_period"),
    "none": (),
}


def claim_problems(frames: dict[str, pd.DataFrame], data_dir: Path) -> list[Problem]:
    """Everything a claim, its parts and their evidence name must exist, so that a build cannot fail on it later."""
    claims, parts, links = frames["claims"], frames["claim_parts"], frames["claim_evidence"]
    known_series = set(frames["series"]["series_id"].tolist())
    # A row whose source is unknown is reported once, as such, not again as a missing figure of the article.
    sources, obs = frames["sources"], frames["observations"]
    as_cited = sources.loc[sources["grade"].isin(("as-cited", "as-cited-approximate")), "source_id"]
    cited = obs[obs["source_id"].isin(as_cited) | ~obs["source_id"].isin(sources["source_id"])]
    cited_keys = set(zip(cited["series_id"].tolist(), cited["period"].tolist()))
    claims_file, parts_file, links_file = (
        str(data_dir / TABLES[t].file) for t in ("claims", "claim_parts", "claim_evidence")
    )
    problems = []
    with_parts = set(parts["claim_id"].tolist())
    for row, claim in claims.iterrows():
        if not (CHAPTERS_DIR / f"{claim['chapter']}.md").is_file():
            problems.append(
                Problem(
                    claims_file,
                    int(row),
                    "chapter",
                    f'no chapter "{claim["chapter"]}"; expected the name of a file in {CHAPTERS_DIR}',
                )
            )
        if claim["claim_id"] not in with_parts:
            problems.append(
                Problem(
                    claims_file,
                    int(row),
                    "claim_id",
                    f"claim {claim['claim_id']} has no part; expected at least one row in claim_parts.csv",
                )
            )
    problems += reference_problems(
        parts, "claim_id", set(claims["claim_id"].tolist()), "claims", data_dir, "claim_parts"
    )
    problems += reference_problems(parts, "cited_series", known_series, "series", data_dir, "claim_parts")
    known_definitions = set(frames["definitions"]["definition_id"].tolist())
    for row, part in parts.iterrows():
        for definition in part["definitions"].split():
            if definition not in known_definitions:
                problems.append(
                    Problem(
                        parts_file,
                        int(row),
                        "definitions",
                        f'unknown definition "{definition}"; expected a definition_id of definitions.csv',
                    )
                )
        for column in NEEDS[part["test"]]:
            if not part[column]:
                problems.append(
                    Problem(parts_file, int(row), column, f"expected a value: test {part['test']} needs it")
                )
        if part["cited_series"] in known_series and part["test"] in ("level", "growth"):
            for column in ("from_period", "cited_period") if part["test"] == "growth" else ("cited_period",):
                if part[column] and (part["cited_series"], part[column]) not in cited_keys:
                    problems.append(
                        Problem(
                            parts_file,
                            int(row),
                            column,
                            f'no figure of the article for series "{part["cited_series"]}" and period '
                            f'"{part[column]}"; expected a row of observations.csv from an as-cited source',
                        )
                    )
    problems += direction_problems(frames, parts_file)
    part_keys = set(zip(parts["claim_id"], parts["part"]))
    for row, link in links.iterrows():
        if (link["claim_id"], link["part"]) not in part_keys:
            problems.append(
                Problem(
                    links_file,
                    int(row),
                    "part",
                    f"no part {link['part']} of claim {link['claim_id']}; expected a row of claim_parts.csv",
                )
            )
        for column in ("series_id", "with_series"):
            if link[column] and link[column] not in known_series:
                problems.append(
                    Problem(
                        links_file,
                        int(row),
                        column,
                        f'unknown series "{link[column]}"; expected a series_id of series.csv',
                    )
                )
        if bool(link["with_series"]) != bool(link["combine"]):
            problems.append(
                Problem(links_file, int(row), "combine", "expected with_series and combine both filled, or both empty")
            )
    return problems


DIRECTION_TESTS = ("peak", "falls_after", "rises")  # tests of a direction, on each estimator's own figures


def direction_problems(frames: dict[str, pd.DataFrame], parts_file: str) -> list[Problem]:
    """A direction test (peak, falls_after, rises) whose period no linked figure reaches would be "not testable"
    without a word; that is a mistake in the period or in the links, so it is reported.

    A part with no series linked as evidence stays "not testable" (no independent figure was found), as documented.
    """
    parts, links = frames["claim_parts"], frames["claim_evidence"]
    observations = frames["observations"]
    # only the series linked as evidence can count (a data folder may hold thousands of others)
    observations = observations[observations["series_id"].isin(links.loc[links["role"] == "evidence", "series_id"])]
    independent = observations.merge(frames["sources"], on="source_id", how="left")
    independent = independent[~independent["grade"].isin(CITED_GRADES)]
    years: dict[str, set[int]] = {}
    for series_id, period in zip(independent["series_id"].tolist(), independent["period"].tolist(), strict=True):
        bounds = period_bounds(period)
        if bounds:
            years.setdefault(series_id, set()).add(bounds[1])  # claims.year_of: a span counts for its last year
    change_series = {
        s
        for s, unit in zip(frames["series"]["series_id"].tolist(), frames["series"]["unit"].tolist(), strict=True)
        if UNITS.get(unit, ("",))[0] == "change"
    }
    problems = []
    for row, part in parts.iterrows():
        for column in ("from_period", "cited_period"):
            if part[column] == "n.d.":
                problems.append(Problem(parts_file, int(row), column, 'expected a period with a year, got "n.d."'))
        if part["test"] not in DIRECTION_TESTS or "n.d." in (part["from_period"], part["cited_period"]):
            continue
        linked = links[
            (links["claim_id"] == part["claim_id"]) & (links["part"] == part["part"]) & (links["role"] == "evidence")
        ]["series_id"].tolist()
        if not linked or not part["cited_period"] or (part["test"] == "rises" and set(linked) & change_series):
            continue
        found = set().union(*(years.get(s, set()) for s in linked))
        end = period_bounds(part["cited_period"])[1]
        if part["test"] == "rises":
            start = period_bounds(part["from_period"])[1] if part["from_period"] else end
            wanted = range(start - int(part["window"]), end + int(part["window"]) + 1)
            column, what = "from_period", f"from {wanted[0]} to {wanted[-1]}"
        else:
            wanted, column, what = (end,), "cited_period", f"for {end}"
        if not found & set(wanted):
            have = ", ".join(str(y) for y in sorted(found)) or "none"
            problems.append(
                Problem(
                    parts_file,
                    int(row),
                    column,
                    f"no figure {what} in the series linked to claim {part['claim_id']} part {part['part']} as "
                    f"evidence ({', '.join(linked)}; years with one: {have}); expected a period the figures "
                    "reach, or a row of observations.csv for it",
                )
            )
    return problems


def register_problems(frames: dict[str, pd.DataFrame], data_dir: Path) -> list[Problem]:
    """The approvals register: every name resolves to a company, dates fall in their year, and a year's count
    equals the count CDER publishes for it (an official figure of series cder_novel_approvals)."""
    from crobook.approvals import SHARE_SERIES, groups, suggestion

    def where(table: str) -> str:
        return str(data_dir / TABLES[table].file)

    approvals, companies, aliases = frames["approvals"], frames["companies"], frames["aliases"]
    known_sources = set(frames["sources"]["source_id"].tolist())
    problems = reference_problems(approvals, "source_id", known_sources, "sources", data_dir, "approvals")
    problems += reference_problems(frames["rankings"], "source_id", known_sources, "sources", data_dir, "rankings")
    company_names = set(companies["company"].tolist())
    for row, r in aliases.iterrows():
        if r["company"] not in company_names:
            hint = suggestion(r["company"], sorted(company_names))
            problems.append(
                Problem(
                    where("aliases"),
                    int(row),
                    "company",
                    f'unknown company "{r["company"]}"; expected a company of companies.csv{hint}',
                )
            )
        if r["alias"] in company_names:
            problems.append(
                Problem(
                    where("aliases"),
                    int(row),
                    "alias",
                    f'"{r["alias"]}" is also a company of companies.csv; expected a name that is one or the other',
                )
            )
    if len(approvals) and SHARE_SERIES not in set(frames["series"]["series_id"].tolist()):
        problems.append(
            Problem(
                str(data_dir / TABLES["series"].file),
                None,
                "series_id",
                f'no series "{SHARE_SERIES}"; expected it, since the approvals count of approvals.csv is stored there',
            )
        )
    lookup = groups(companies, aliases)
    names = sorted(lookup)
    expected = "expected a company of companies.csv or an alias of company_aliases.csv (add it to one of them)"
    for table, columns in (("approvals", ("applicant", "developer")), ("rankings", ("company",))):
        for row, r in frames[table].iterrows():
            for column in columns:
                if r[column] and r[column] not in lookup:
                    problems.append(
                        Problem(
                            where(table),
                            int(row),
                            column,
                            f'no company or alias "{r[column]}"; {expected}' + suggestion(r[column], names),
                        )
                    )
    for row, r in approvals.iterrows():
        if r["approval_date"][:4] != r["year"] and date_is_valid(r["approval_date"]):
            problems.append(
                Problem(
                    where("approvals"),
                    int(row),
                    "approval_date",
                    f'expected a date in {r["year"]}, got "{r["approval_date"]}"',
                )
            )
        elif not date_is_valid(r["approval_date"]):
            problems.append(
                Problem(
                    where("approvals"),
                    int(row),
                    "approval_date",
                    f'expected a real calendar date, got "{r["approval_date"]}"',
                )
            )
        if bool(r["applicant"]) == (r["check"] == "not found"):
            wanted = (
                'an applicant, or check "not found"' if not r["applicant"] else 'check "confirmed" or "not checked"'
            )
            problems.append(Problem(where("approvals"), int(row), "check", f"expected {wanted}"))
    obs = frames["observations"].merge(frames["sources"][["source_id", "grade"]], on="source_id", how="left")
    official = obs[(obs["series_id"] == "cder_novel_approvals") & (obs["grade"] == "official")]
    counts = approvals["year"].value_counts()
    for index, r in official.iterrows():
        if r["period"] in counts and float(r["value"]) != counts[r["period"]]:
            problems.append(
                Problem(
                    where("approvals"),
                    None,
                    "year",
                    f"{r['period']} has {counts[r['period']]} approvals; CDER's published count is "
                    f"{r['value']} (observations.csv row {index + 1}, {r['source_id']}); "
                    "expected one row per approval of the year",
                )
            )
    return problems


def as_of_problems(frames: dict[str, pd.DataFrame], data_dir: Path, as_of: date) -> list[Problem]:
    """Only a forecast may refer to a time wholly after the edition's as-of date; no source is published after it."""
    problems = []
    obs, sources = frames["observations"], frames["sources"]
    for row, period, forecast in zip(obs.index, obs["period"].tolist(), obs["forecast"].tolist(), strict=True):
        day = earliest_day(period)
        if forecast != "true" and day is not None and day > as_of:
            problems.append(
                Problem(
                    str(data_dir / TABLES["observations"].file),
                    int(row),
                    "period",
                    f'period "{period}" lies after the as-of date {as_of.isoformat()}; '
                    "expected an earlier period, or forecast set to true",
                )
            )
    for row, published in zip(sources.index, sources["published"].tolist(), strict=True):
        day = earliest_day(published)
        if day is not None and day > as_of:
            problems.append(
                Problem(
                    str(data_dir / TABLES["sources"].file),
                    int(row),
                    "published",
                    f'published "{published}" lies after the as-of date {as_of.isoformat()}',
                )
            )
    return problems


def unknown_files(data_dir: Path) -> list[Problem]:
    """A CSV file that is not one of the tables: a misspelt table name would otherwise be silently ignored."""
    from crobook.approvals import suggestion

    expected = sorted(table.file for table in TABLES.values())
    return [
        Problem(
            str(path),
            None,
            None,
            "unexpected file; expected only the tables " + ", ".join(expected) + suggestion(path.name, expected),
        )
        for path in sorted(data_dir.glob("*"))
        if path.suffix.lower() == ".csv" and path.name not in expected
    ]


def load(data_dir: Path | str | None = None, as_of: date | None = None, book: dict | None = None) -> Evidence:
    """Read and validate every table; raise DataError listing every problem found.

    With `as_of` (the edition's as-of date), figures and sources dated after it are problems too. `book` holds
    the book-wide parameters (see crobook.params.BOOK); the approvals count uses its `top_n`.
    """
    from crobook.approvals import TOP_N, derived_observations

    book = {"top_n": TOP_N} | (book or {})
    data_dir = Path(data_dir or DEFAULT_DATA_DIR).resolve()
    frames, problems = {}, unknown_files(data_dir)
    # The approvals register is optional as a whole: a data folder without any of its files has no approvals.
    register_absent = not any((data_dir / TABLES[key].file).exists() for key in REGISTER)
    for key, table in TABLES.items():
        if key in REGISTER and register_absent:
            frames[key] = pd.DataFrame(columns=table.columns, dtype=str)
            continue
        frame, found = read_table(data_dir, table)
        if frame is not None:
            found += check_schema(frame, table, str(data_dir / table.file))
        frames[key] = frame
        problems += found
    if problems:
        raise DataError(problems)
    problems = check_relations(frames, data_dir)
    if as_of is not None:
        problems += as_of_problems(frames, data_dir, as_of)
    if problems:
        raise DataError(problems)
    tables = {name: frame.reset_index(drop=True) for name, frame in frames.items()}
    derived = derived_observations(tables, book["top_n"])
    derived.index = range(len(frames["observations"]) + 1, len(frames["observations"]) + len(derived) + 1)
    observations = pd.concat([frames["observations"], derived]) if len(derived) else frames["observations"]
    for column in ("derivation", "derivation_note"):  # set on computed rows only
        observations[column] = observations[column].fillna("") if column in observations else ""
    tables["observations"] = _typed(observations, tables["series"], tables["sources"])
    return Evidence(tables, data_dir, book)


def _typed(obs: pd.DataFrame, series: pd.DataFrame, sources: pd.DataFrame) -> pd.DataFrame:
    obs = obs.assign(
        value=obs["value"].astype(float),
        value_high=pd.to_numeric(obs["value_high"].replace("", None)),
        approximate=obs["bound"] != "exact",
        forecast=obs["forecast"] == "true",
        row=obs.index,
    )
    bounds = obs["period"].map(period_bounds)
    obs["year"] = bounds.map(lambda b: b[1] if b else None).astype("Int64")
    merged = obs.merge(series, on="series_id", how="left").merge(sources, on="source_id", how="left")
    merged["unit_label"] = merged["unit"].map(lambda u: UNITS[u][1])
    return merged
