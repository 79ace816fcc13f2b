"""Chapter parameters: read the parameters file and check it against what each chapter declares.

A chapter declares its parameters in the cell tagged `parameters`, with annotations
(`horizon_year: int = 2030`). papermill accepts any name silently, so names and types are checked here,
before anything runs.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import yaml

from crobook.analysis import CITED_GRADES, EVIDENCE_GRADES
from crobook.approvals import TOP_N
from crobook.cache import USER_CACHE, kept
from crobook.data import CHAPTERS_DIR, Evidence, load
from crobook.errors import ParamsError, Problem

DEFAULT_PARAMS = CHAPTERS_DIR.parent / "params" / "default.yaml"


def chapters(chapters_dir: Path = CHAPTERS_DIR) -> dict[str, Path]:
    """The chapters by name: every MyST-markdown notebook in `chapters/`."""
    return {p.stem: p for p in sorted(chapters_dir.glob("*.md"))}


# Handed by the build to the chapters that declare them (see crobook.build), never set in the parameters file.
RESERVED = {"data_dir", "views_dir", "previous_dir", "manifest_path", "as_of", "book"}
# Book-wide parameters (the `book:` mapping of the parameters file): name -> (type, default, meaning).
# Every chapter receives them as its `book` parameter, and the data are read with them.
BOOK = {
    "top_n": (
        "int",
        TOP_N,
        "the size line for FDA approvals: applicants outside the top N companies by revenue count as smaller",
    ),
    "min_grade": (
        "str",
        "secondary",
        "the lowest source grade that counts as evidence: official, reported or secondary (reported leaves out "
        "secondary reports)",
    ),
    "exclude_sources": ("list", [], "source_ids left out of the evidence, e.g. [gvr-crovi-2023, vial-2023]"),
}
TYPES = {
    "int": (int,),
    "float": (float, int),
    "str": (str,),
    "bool": (bool,),
    "None": (type(None),),
    "list": (list,),
    "dict": (dict,),
}


def declared(chapter: Path) -> dict[str, dict]:
    """Parameters a MyST-markdown chapter declares: name -> {type, default, help}.

    papermill reads them; its answer is kept per chapter text and tool versions in the user's cache folder
    (outside the repository), because importing jupytext and papermill costs about a second of each `validate`.
    """
    from importlib.metadata import version

    key = [chapter.read_bytes().decode("utf-8"), version("jupytext"), version("papermill")]
    path = DECLARED_CACHE / f"{hashlib.sha256(json.dumps(key).encode()).hexdigest()}.json"
    try:
        return json.loads(kept(path, lambda: json.dumps(_declared_by_papermill(chapter))))
    except ValueError:  # a damaged cache file: ask papermill again
        return _declared_by_papermill(chapter)


def _declared_by_papermill(chapter: Path) -> dict[str, dict]:
    import jupytext
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{chapter.stem}.ipynb"
        jupytext.write(jupytext.read(chapter), path)
        found = papermill.inspect_notebook(str(path))
    return {
        name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]} for name, p in found.items()
    }


DECLARED_CACHE = USER_CACHE / "declared"


def _type_ok(value, type_name: str) -> bool:
    names = [n.strip() for n in type_name.replace("Optional[", "None|").rstrip("]").split("|")]
    allowed = tuple(t for n in names for t in TYPES.get(n, ()))
    if not allowed:  # no usable annotation: accept anything
        return True
    if isinstance(value, bool) and bool not in allowed:
        return False
    return isinstance(value, allowed)


@dataclass(frozen=True)
class Params:
    """Checked parameters: the edition's as-of date, the book-wide values and each chapter's values."""

    as_of: date
    chapters: dict[str, dict]
    book: dict = field(default_factory=lambda: {name: spec[1] for name, spec in BOOK.items()})

    def as_dict(self) -> dict[str, dict]:
        """For the manifest and the fingerprint: book-wide values under "book", then each chapter's."""
        return {"book": {"as_of": self.as_of.isoformat(), **self.book}, **self.chapters}


def _key_lines(text: str) -> dict[tuple, int]:
    """Line of each key in the YAML text: (chapter,) and (chapter, name) -> 1-based line."""
    lines = {}
    root = yaml.compose(text)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            lines[(key.value,)] = key.start_mark.line + 1
            if isinstance(value, yaml.MappingNode):
                for sub, _ in value.value:
                    lines[(key.value, sub.value)] = sub.start_mark.line + 1
    return lines


def read_params(path: Path) -> tuple[dict, dict[tuple, int]]:
    """The parameters file as a mapping, and the line of each key (for the messages)."""
    name = str(path)
    if not path.is_file():
        raise ParamsError([Problem(name, None, None, "parameters file not found")])
    try:
        text = path.read_text(encoding="utf-8-sig")
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        reason = getattr(err, "problem", None) or "invalid YAML"
        line = mark.line + 1 if mark else None
        raise ParamsError([Problem(name, None, None, f"YAML syntax error: {reason}", line=line)]) from None
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise ParamsError([Problem(name, None, None, "file is not UTF-8 text", line=line)]) from None
    if not isinstance(raw, dict):
        raise ParamsError([Problem(name, None, None, "expected a mapping of chapter names to parameters")])
    return raw, _key_lines(text)


def load_params(path: Path, chapters: dict[str, Path], overrides: dict | None = None) -> Params:
    """Parameters from a YAML file: `as_of` (a date; default today), the book's and, per chapter, values checked
    against the parameters the chapter declares. `overrides` (see `command_line`) replace values of the file."""
    raw, lines = read_params(path)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict):
            raw[key] = {**(raw.get(key) or {}), **value} if isinstance(raw.get(key), dict | None) else value
        else:
            raw[key] = value
    try:
        return check_params(raw, str(path), lines, chapters)
    except ParamsError as err:
        raise ParamsError(_blame_overrides(err.problems, overrides)) from None


def command_line(pairs: list[tuple[str, str]], chapter: str, chapters: dict[str, Path]) -> dict:
    """`-p NAME VALUE` options of `crobook run CHAPTER` as overrides of the parameters file, each checked for its
    name and type (values are read as YAML: 2035 is a number, null is None, [a, b] a list). NAME is one of the
    chapter's parameters, `as_of`, or `book.NAME`."""
    known = {k: v for k, v in declared(chapters[chapter]).items() if k not in RESERVED}
    overrides, problems = {}, []
    for name, text in pairs:
        where = f"command line -p {name}"
        try:
            value = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError):  # not YAML, or a date that does not exist (2026-13-01)
            value = text
        if name == "as_of":
            overrides["as_of"] = value
            continue
        if name.startswith("book."):
            key, kind, choices = name[5:], BOOK.get(name[5:], (None,))[0], ", ".join(f"book.{k}" for k in BOOK)
        else:
            key, kind = name, known.get(name, {}).get("type")
            choices = ", ".join([*known, "as_of", *(f"book.{k}" for k in BOOK)])
        if kind is None:
            problems.append(Problem(where, None, None, f"unknown parameter; {chapter} accepts: {choices}"))
        elif not _type_ok(value, kind):
            problems.append(Problem(where, None, None, f"expected {kind}, got {type(value).__name__} {value!r}"))
        else:
            overrides.setdefault("book" if name.startswith("book.") else chapter, {})[key] = value
    if problems:
        raise ParamsError(problems)
    return overrides


def check_params(raw: dict, name: str, lines: dict[tuple, int], chapters: dict[str, Path]) -> Params:
    """The parameters mapping checked: every name known, every value of its type."""
    problems, result = [], {stem: {} for stem in chapters}
    as_of = raw.pop("as_of", None)
    if as_of is None:
        as_of = datetime.now(UTC).date()
    elif not isinstance(as_of, date) or isinstance(as_of, datetime):
        problems.append(
            Problem(name, None, "as_of", f"expected a date YYYY-MM-DD, got {as_of!r}", line=lines.get(("as_of",)))
        )
    book = {name: spec[1] for name, spec in BOOK.items()}
    given = raw.pop("book", None) or {}
    if not isinstance(given, dict):
        problems.append(Problem(name, None, "book", "expected a mapping of book parameters", line=lines.get(("book",))))
        given = {}
    for key, value in given.items():
        where, at = f"book.{key}", lines.get(("book", key))
        if key not in BOOK:
            problems.append(
                Problem(name, None, where, f"unknown book parameter; expected one of: {', '.join(BOOK)}", line=at)
            )
        elif not _type_ok(value, BOOK[key][0]):
            problems.append(
                Problem(name, None, where, f"expected {BOOK[key][0]}, got {type(value).__name__} {value!r}", line=at)
            )
        else:
            book[key] = value
    if book["min_grade"] not in EVIDENCE_GRADES:
        problems.append(
            Problem(
                name,
                None,
                "book.min_grade",
                f"expected one of {', '.join(EVIDENCE_GRADES)}, got {book['min_grade']!r}",
                line=lines.get(("book", "min_grade")),
            )
        )
    if not all(isinstance(item, str) for item in book["exclude_sources"]):
        problems.append(
            Problem(
                name,
                None,
                "book.exclude_sources",
                f"expected a list of source_ids, got {book['exclude_sources']!r}",
                line=lines.get(("book", "exclude_sources")),
            )
        )
    if isinstance(book["top_n"], int) and book["top_n"] < 1:
        problems.append(
            Problem(
                name,
                None,
                "book.top_n",
                f"expected a whole number from 1, got {book['top_n']}",
                line=lines.get(("book", "top_n")),
            )
        )
    for chapter, values in raw.items():
        at = lines.get((chapter,))
        if chapter not in chapters:
            expected = "as_of, book or a chapter: " + ", ".join(sorted(chapters))
            problems.append(Problem(name, None, str(chapter), f"unknown name; expected {expected}", line=at))
            continue
        if not isinstance(values, dict):
            problems.append(Problem(name, None, chapter, "expected a mapping of parameter names to values", line=at))
            continue
        known = declared(chapters[chapter])
        for key, value in values.items():
            where, at = f"{chapter}.{key}", lines.get((chapter, key))
            if key in RESERVED:
                problems.append(Problem(name, None, where, "set by the build, not by the parameters file", line=at))
            elif key not in known:
                names = ", ".join(sorted(set(known) - RESERVED)) or "none"
                problems.append(
                    Problem(name, None, where, f"unknown parameter; chapter {chapter} accepts: {names}", line=at)
                )
            elif not _type_ok(value, known[key]["type"]):
                message = f"expected {known[key]['type']}, got {type(value).__name__} {value!r}"
                problems.append(Problem(name, None, where, message, line=at))
            else:
                result[chapter][key] = value
    if problems:
        raise ParamsError(problems)
    return Params(as_of=as_of, chapters=result, book=book)


# ------------------------------------------------------------------ what the parameters need of the data
#
# papermill checks nothing, and a value the data cannot serve fails deep inside a cell ("no values to
# summarise"). So a chapter states here what each parameter needs; `load_inputs` checks it, for the value in the
# parameters file or else the chapter's default, before anything runs.


def _market_base_year(values: dict, evidence: Evidence) -> str | None:
    """cro-market summarises the market-research figures of series cro_market for its base year."""
    obs = evidence.tables["observations"]
    rows = obs[(obs["series_id"] == "cro_market") & ~obs["grade"].isin(CITED_GRADES)]
    years = sorted({int(y) for y in rows["year"].dropna()})
    if values["base_year"] in years:
        return None
    return (
        f"no market-research figure of series cro_market for {values['base_year']} "
        f"({evidence.data_dir / 'observations.csv'}); years with one: {', '.join(map(str, years)) or 'none'}"
    )


def _after_base_year(values: dict, evidence: Evidence) -> str | None:
    """The projection runs from the base year to the horizon."""
    if values["horizon_year"] > values["base_year"]:
        return None
    return f"expected a year after base_year ({values['base_year']}): the projection runs from one to the other"


# (chapter, parameter) -> check of the chapter's values against the data: what is wrong, or None.
REQUIREMENTS: dict[tuple[str, str], Callable[[dict, Evidence], str | None]] = {
    ("cro-market", "base_year"): _market_base_year,
    ("cro-market", "horizon_year"): _after_base_year,
}


def with_defaults(params: Params, chapters: dict[str, Path]) -> dict[str, dict]:
    """`Params.as_dict` with each chapter's declared defaults filled in: the values the edition ran with.

    Kept in the manifest, so that comparing an edition whose file set a value with one that left it to the
    default shows no change, rather than a change to nothing.
    """
    values = params.as_dict()
    for chapter, path in chapters.items():
        defaults = {k: _default(spec["default"]) for k, spec in declared(path).items() if k not in RESERVED}
        values[chapter] = defaults | values.get(chapter, {})
    return values


def _default(text: str):
    """A default as papermill reports it (source text) as a value; None when it is not a literal."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def requirement_problems(params: Params, evidence: Evidence, path: Path, chapters: dict[str, Path]) -> list[Problem]:
    """Each chapter parameter checked against the data it needs (see REQUIREMENTS)."""
    name, problems = str(path), []
    lines = _key_lines(path.read_text(encoding="utf-8-sig"))
    for chapter in dict.fromkeys(c for c, _ in REQUIREMENTS):
        if chapter not in chapters:
            continue
        defaults = {key: _default(spec["default"]) for key, spec in declared(chapters[chapter]).items()}
        values = defaults | params.chapters.get(chapter, {})
        for (owner, key), check in REQUIREMENTS.items():
            wrong = check(values, evidence) if owner == chapter else None
            if wrong is None:
                continue
            given = key in params.chapters.get(chapter, {})
            value = f"{chapter}.{key} = {values[key]!r}" + ("" if given else " (the chapter's default)")
            hint = "" if given else f"; set {chapter}.{key} in this file to a value the data serve"
            problems.append(
                Problem(name, None, f"{chapter}.{key}", f"{value}: {wrong}{hint}", line=lines.get((chapter, key)))
            )
    known = set(evidence.sources["source_id"])
    for source_id in params.book["exclude_sources"]:
        if source_id not in known:
            problems.append(
                Problem(
                    name,
                    None,
                    "book.exclude_sources",
                    f'no source "{source_id}" in {evidence.data_dir / "sources.csv"}; expected a source_id',
                    line=lines.get(("book", "exclude_sources")),
                )
            )
    return problems


def listing(chapters: dict[str, Path]) -> list[dict]:
    """Every parameter an analyst can set: the book's, then each chapter's (not those the build hands over),
    with type, default and meaning. `crobook params` prints it."""
    rows = [
        {"where": "book", "name": key, "type": kind, "default": default, "meaning": meaning}
        for key, (kind, default, meaning) in BOOK.items()
    ]
    for chapter, source in sorted(chapters.items()):
        for key, spec in declared(source).items():
            if key not in RESERVED:
                rows.append(
                    {
                        "where": chapter,
                        "name": key,
                        "type": spec["type"],
                        "default": _default(spec["default"]),
                        "meaning": spec["help"],
                    }
                )
    return rows


def load_inputs(
    data_dir: Path | None, params_file: Path, chapters: dict[str, Path], overrides: dict | None = None
) -> tuple[Params, Evidence]:
    """The first step of a build and all of `crobook validate`: the parameters, the data read with them, then
    the parameters against the data. Raises ParamsError or DataError listing every problem."""
    checked = load_params(params_file, chapters, overrides)
    evidence = load(data_dir, as_of=checked.as_of, book=checked.book)
    problems = requirement_problems(checked, evidence, params_file, chapters)
    if problems:
        raise ParamsError(_blame_overrides(problems, overrides))
    return checked, evidence


def _blame_overrides(problems: list[Problem], overrides: dict | None) -> list[Problem]:
    """Problems with values given as `-p NAME VALUE` name the option, not a line of the parameters file."""
    named = {"as_of": "as_of"} if "as_of" in (overrides or {}) else {}
    for group, values in (overrides or {}).items():
        for key in values if isinstance(values, dict) else ():
            named[f"{group}.{key}"] = f"book.{key}" if group == "book" else key
    blamed = []
    for problem in problems:
        if problem.column in named:
            # "cro-market.horizon_year = 2020: expected ..." says again what the option says
            message = re.sub(r"^\S+ = .*?: (?=expected|no )", "", problem.message)
            problem = Problem(f"command line -p {named[problem.column]}", None, None, message)
        blamed.append(problem)
    return blamed
