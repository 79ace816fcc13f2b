"""`crobook validate` passes ⇒ `crobook build` passes, on randomly mutated copies of data/ and the parameters.

Each case applies one mutation drawn from a list of kinds (drop a row, change a value, blank a cell, insert a
control character, rename a claim's chapter, change a cited period, change a parameter, add an unknown CSV,
duplicate a row...) with a fixed seed. Every case is validated. A case that validate rejects is also built, and
the build must stop at its first step with the same problems; every problem line names its file and the row or
key. Full builds are slow, so only a bounded sample of the cases validate accepts is built in full, all into one
site folder so that they share the chapter cache.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from crobook.build import DEFAULT_PARAMS, chapters
from crobook.cli import main
from crobook.data import DEFAULT_DATA_DIR
from crobook.schema import TABLES

pytestmark = pytest.mark.build

SEED = 20261128
CASES = 36
# Cases validate accepts that are built in full: each takes 1.5-3 minutes on a shared two-core machine.
FULL_BUILDS = int(os.environ.get("CROBOOK_FULL_BUILDS", "1"))
CONTROLS = "\t\n\v\f\r\x00\x1b\x7f\x85\u2028"
FILES = sorted(t.file for t in TABLES.values())

# A problem line: the file, then a row, a line and a column (a table's column or a parameter's key) where known.
PROBLEM = re.compile(
    r"^(?P<file>.+?\.(?:csv|yaml))(?P<row>, row \d+ \(line \d+\))?(?P<line>, line \d+)?"
    r'(?P<key>, column "[^"]+")?: '
)
WHOLE_FILE = ("unexpected file", "file not found", "file is empty", "file has a header but no data rows", "not UTF-8")


def read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def pick_cell(rng: random.Random, data: Path, file: str | None = None) -> tuple[Path, list[list[str]], int, int]:
    path = data / (file or rng.choice(FILES))
    rows = read(path)
    return path, rows, rng.randrange(1, len(rows)), rng.randrange(len(rows[0]))


def drop_row(rng, data, params):
    path, rows, row, _ = pick_cell(rng, data)
    del rows[row]
    write(path, rows)
    return f"drop row {row} of {path.name}"


def duplicate_row(rng, data, params):
    path, rows, row, _ = pick_cell(rng, data)
    rows.insert(row, list(rows[row]))
    write(path, rows)
    return f"duplicate row {row} of {path.name}"


def blank_cell(rng, data, params):
    path, rows, row, col = pick_cell(rng, data)
    rows[row][col] = ""
    write(path, rows)
    return f"blank {path.name} row {row} column {rows[0][col]}"


def control_char(rng, data, params):
    path, rows, row, col = pick_cell(rng, data)
    cell, char = rows[row][col], rng.choice(CONTROLS)
    at = rng.randrange(len(cell) + 1)
    rows[row][col] = cell[:at] + char + cell[at:]
    write(path, rows)
    return f"insert U+{ord(char):04X} into {path.name} row {row} column {rows[0][col]}"


def change_value(rng, data, params):
    path, rows, row, _ = pick_cell(rng, data, "observations.csv")
    col = rows[0].index("value")
    old = rows[row][col]
    rows[row][col] = rng.choice([str(round(float(old) * rng.uniform(0.5, 1.5), 2)), "-1", "0", "1e3", "12%", "n/a"])
    write(path, rows)
    return f"observations.csv row {row} value {old} -> {rows[row][col]}"


def rename_chapter(rng, data, params):
    path, rows, row, _ = pick_cell(rng, data, "claims.csv")
    col = rows[0].index("chapter")
    rows[row][col] = rng.choice([*chapters(), "cro-markets", "fundings", "appendix"])
    write(path, rows)
    return f"claims.csv row {row} chapter -> {rows[row][col]}"


def change_cited_period(rng, data, params):
    path, rows, row, _ = pick_cell(rng, data, "claim_parts.csv")
    col = rows[0].index(rng.choice(["cited_period", "from_period"]))
    old = rows[row][col]
    year = int(old[:4]) if old[:4].isdigit() else 2021
    rows[row][col] = rng.choice([str(year + rng.choice([-2, -1, 1, 2, 10])), "n.d.", f"{year}-13", ""])
    write(path, rows)
    return f"claim_parts.csv row {row} {rows[0][col]} {old!r} -> {rows[row][col]!r}"


def change_check(rng, data, params):
    path, rows, row, _ = pick_cell(rng, data, "sources.csv")
    col = rows[0].index(rng.choice(["check", "grade"]))
    rows[row][col] = rng.choice(["confirmed", "not found", "not checked", "reported", "secondary", "as-cited"])
    write(path, rows)
    return f"sources.csv row {row} {rows[0][col]} -> {rows[row][col]}"


def change_parameter(rng, data, params):
    key = rng.choice(["base_year", "horizon_year", "growth_low_pct", "base_yaer"])
    value = {"growth_low_pct": rng.choice(["2.5", "-3", "fast"])}.get(key, str(rng.randrange(2012, 2036)))
    text = params.read_text(encoding="utf-8")
    params.write_text(text.replace("  horizon_year: 2030\n", f"  horizon_year: 2030\n  {key}: {value}\n"))
    if key == "horizon_year":  # a second horizon_year is a YAML duplicate; replace instead
        params.write_text(text.replace("horizon_year: 2030", f"horizon_year: {value}"))
    return f"parameter cro-market.{key} = {value}"


def change_book_parameter(rng, data, params):
    """A sensitivity edition: a stricter lowest grade, or sources left out (real ones, or a misspelt one)."""
    text = params.read_text(encoding="utf-8")
    if rng.random() < 0.5:
        grade = rng.choice(["reported", "official", "rumour"])
        params.write_text(text.replace("min_grade: secondary", f"min_grade: {grade}"))
        return f"book.min_grade = {grade}"
    ids = [line.split(",")[0] for line in (data / "sources.csv").read_text(encoding="utf-8").splitlines()[1:]]
    left_out = rng.sample(ids, 3) + ([] if rng.random() < 0.7 else ["no-such-source"])
    params.write_text(text.replace("exclude_sources: []", f"exclude_sources: [{', '.join(left_out)}]"))
    return f"book.exclude_sources = {left_out}"


def unknown_csv(rng, data, params):
    name = rng.choice(["observation.csv", "source.csv", "Claims.csv", "scratch.csv", "sources (1).csv"])
    (data / name).write_text("a,b\n1,2\n", encoding="utf-8")
    return f"add {name}"


MUTATIONS: list[Callable] = [
    change_book_parameter,
    drop_row,
    duplicate_row,
    blank_cell,
    control_char,
    change_value,
    rename_chapter,
    change_cited_period,
    change_check,
    change_parameter,
    unknown_csv,
]


def run(*args: str) -> tuple[int, str]:
    """The command line in this process (no interpreter start-up per case): exit code and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def problem_lines(stderr: str, data: Path, params: Path) -> list[str]:
    lines = stderr.strip().splitlines()
    assert lines and re.fullmatch(r"\d+ problem\(s\) found.*\.", lines[-1]), stderr
    for line in lines[:-1]:
        found = PROBLEM.match(line)
        assert found, line
        assert Path(found["file"]).parent == data or Path(found["file"]) == params, line  # names its file
        whole = any(w in line for w in WHOLE_FILE)
        assert whole or found["row"] or found["line"] or found["key"], line  # and the row or key
    return lines[:-1]


def make_cases(tmp: Path) -> list[tuple[str, str, Path, Path]]:
    """(kind of mutation, what it did, data folder, parameters file) for each case."""
    rng, cases = random.Random(SEED), []
    for i in range(CASES):
        folder = tmp / f"case{i:02d}"
        data, params = folder / "data", folder / "params.yaml"
        shutil.copytree(DEFAULT_DATA_DIR, data)
        params.write_bytes(DEFAULT_PARAMS.read_bytes())
        mutation = MUTATIONS[i % len(MUTATIONS)] if i < len(MUTATIONS) else rng.choice(MUTATIONS)
        cases.append((mutation.__name__, mutation(rng, data, params), data, params))
    return cases


def test_validate_passes_implies_build_passes(tmp_path):
    started = time.perf_counter()
    cases = make_cases(tmp_path)
    site = tmp_path / "site"
    accepted = []
    for kind, what, data, params in cases:
        code, stderr = run("validate", "--data", str(data), "--params", str(params))
        assert code in (0, 1) and "Traceback" not in stderr, (what, stderr)
        if code == 0:
            accepted.append((kind, what, data, params))
            continue
        problems = problem_lines(stderr, data, params)
        code, built = run("build", "--data", str(data), "--params", str(params), "--site", str(site), "--edition", "x")
        assert code == 1, (what, built)
        assert problem_lines(built, data, params) == problems, what  # the build stops at step 1, same message
    print(
        f"{len(cases)} cases: {len(accepted)} accepted by validate, {len(cases) - len(accepted)} rejected by validate "
        f"and build alike, in {time.perf_counter() - started:.0f} s"
    )
    assert 0 < len(accepted) < len(cases)  # both sides of the implication are exercised
    # One case for each of FULL_BUILDS kinds of mutation, so that the builds differ in what they try.
    kinds = random.Random(SEED).sample(sorted({c[0] for c in accepted}), min(FULL_BUILDS, len(accepted)))
    sample = [next(c for c in accepted if c[0] == kind) for kind in kinds]
    for i, (_, what, data, params) in enumerate(sample):
        print(f"building case {i}: {what}")
        result = subprocess.run(
            [sys.executable, "-m", "crobook.cli", "build", "--data", str(data), "--params", str(params)]
            + ["--site", str(site), "--edition", f"case{i}"],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (what, result.stdout[-2000:], result.stderr[-4000:])
        print(f"built in {time.perf_counter() - started:.0f} s from the start")
