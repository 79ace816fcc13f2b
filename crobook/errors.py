"""Errors the command line reports as plain messages (kept apart so the command line starts without pandas)."""

from __future__ import annotations

from dataclasses import dataclass


class BuildError(Exception):
    """A build step failed; the message says which and why (no traceback for the reader).

    `site_untouched` is False when the failure came after the edition was published (the message says what).
    """

    def __init__(self, message: str, site_untouched: bool = True):
        super().__init__(message)
        self.site_untouched = site_untouched


class ChapterFailed(Exception):
    """A chapter's cell raised (papermill's error, made plain in the worker so the build needs no papermill)."""

    def __init__(self, cell: int, name: str, message: str):
        super().__init__(cell, name, message)
        self.cell, self.name, self.message = cell, name, message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is and what was expected."""

    file: str
    row: int | None  # 1-based data row (the header is not counted); None for file-level problems
    column: str | None
    message: str
    line: int | None = None  # for files without rows (YAML): the line in the file

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row} (line {self.row + 1})")
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f'column "{self.column}"')
        return ", ".join(where) + ": " + self.message


class DataError(Exception):
    """Raised with every problem found, so an analyst can fix them all in one pass."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ParamsError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
