r"""The PDF's TeX step: xelatex until the book's cross-references settle, then xdvipdfmx (`Passes.run`).

A pass of xelatex over this book spends half its time (0.7 s of 1.5 s on the 2-core machine) reading the
preamble: the document class, the packages, the fonts. The preamble is the same from one build to the next, and
the CPU is half idle while a build checks its data. So a build that finds the last build's preamble in its LaTeX
folder starts its first pass then: an xelatex that reads that preamble and waits, on its standard input, for the
word to read the rest (`crobook-body.tex`). Once Sphinx has written the new book.tex, the pass is told to go if
the preamble is the same; another waiting pass is started for the next pass, if one is needed. If the preamble
changed, or a waiting pass failed, they are stopped and xelatex runs on book.tex as usual. Both routes write the
same book.xdv, byte for byte (tests/test_tex.py).

A waiting pass has a job name of its own (`crobook-pass1`, ...), so two can wait at once and neither touches
the files of the pass before it; told to go, it names its auxiliary files `book.*` (it redefines `\jobname`), as
a pass over book.tex does. The last pass's log and output are then renamed `book.log` and `book.xdv`.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

from crobook.errors import BuildError
from crobook.tools import RUNNING, finish_tool, kill_group, run, start_tool

PREAMBLE = "crobook-preamble.tex"  # the last build's preamble, kept in the LaTeX folder for the next build
BODY = "crobook-body.tex"
WAITING = "crobook-pass"
# After the preamble: wait for a line on standard input (allowed in scroll mode), then carry on as a pass over
# book.tex would.
GO_ON = "\\read-1 to \\crobookgo \\nonstopmode \\def\\jobname{book}\\input{crobook-body}\n"
XELATEX = ["xelatex", "-no-pdf", "-halt-on-error"]

# Files whose change means cross-references, contents or table widths may still move: TeX must run again.
SETTLING = (".aux", ".toc", ".lof", ".lot", ".out")
RERUN = re.compile(r"Rerun to get|Rerun LaTeX|Label\(s\) may have changed|Table widths have changed")


VALUES = "% crobook: the edition's values\n"  # where `fill_in` defines them, before \begin{document}
BODY_START = re.compile(r"^(?:% crobook: the edition's values$|\\begin\{document\})", re.MULTILINE)


def split(text: str) -> tuple[str, str]:
    """book.tex's preamble, and the rest: from the edition's values (`fill_in`) or `\\begin{document}` on."""
    found = BODY_START.search(text)
    return (text, "") if found is None else (text[: found.start()], text[found.start() :])


def fill_in(text: str, values: dict[str, str]) -> str:
    """`text` (book.tex) with each stand-in (a key, in lower-case letters) replaced by its value (LaTeX). In the
    preamble a stand-in becomes a macro, defined just before `\\begin{document}`, so that the preamble stays
    the same from one edition to the next and can be read ahead (`Passes`)."""
    preamble, rest = split(text)
    for token, value in values.items():
        preamble = preamble.replace(token, f"\\{token}{{}}")  # `{}` keeps the space after it
        rest = rest.replace(token, value)
    definitions = "".join(f"\\def\\{token}{{{value}}}\n" for token, value in values.items())
    return preamble + VALUES + definitions + rest


DATED = re.compile(r"% crobook: TeX dated (\d{4}-\d\d-\d\d)")


def dated(preamble: str, as_of: date) -> str:
    return f"% crobook: TeX dated {as_of.isoformat()}\n{preamble}"


def tex_env(as_of: date) -> dict[str, str]:
    # TeX stamps the PDF with the as-of date rather than the clock: the same inputs give the same PDF.
    epoch = int(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC).timestamp())
    return os.environ | {"SOURCE_DATE_EPOCH": str(epoch), "FORCE_SOURCE_DATE": "1"}


class Passes:
    """The TeX passes of one build in `folder` (Sphinx's LaTeX output).

    Created early, it starts the first pass waiting if the folder holds the last build's preamble (and the date
    that build gave TeX: a new as-of date changes the preamble too, in the title page's date); `run` makes
    the PDF once book.tex is written; `stop` ends any pass still waiting (the build calls it however it ends)."""

    def __init__(self, folder: Path):
        self.folder = folder
        kept = folder / PREAMBLE
        # The kept preamble's first line is the date TeX was given, the edition's as-of date (see `dated`).
        lines = kept.read_text(encoding="utf-8").split("\n", 1) if kept.is_file() else []
        self.preamble = "\n".join(lines) if len(lines) == 2 and DATED.fullmatch(lines[0]) else None
        self.waiting: list[tuple[str, subprocess.Popen]] = []
        self.started = 0
        if self.preamble is not None:
            self.env = tex_env(date.fromisoformat(DATED.fullmatch(lines[0]).group(1)))
            self._start_waiting()

    def _start_waiting(self) -> None:
        self.started += 1
        name = f"{WAITING}{self.started}"
        (self.folder / f"{name}.tex").write_text(self.preamble + GO_ON, encoding="utf-8")  # TeX skips the % line
        command = [*XELATEX, "-interaction=scrollmode", f"{name}.tex"]
        self.waiting.append((name, start_tool(command, env=self.env, cwd=self.folder, stdin=subprocess.PIPE)))

    def stop(self) -> None:
        """End the passes still waiting and remove their files."""
        for _, process in self.waiting:
            kill_group(process)
            process.communicate()
            RUNNING.discard(process)
        self.waiting.clear()
        for path in self.folder.glob(f"{WAITING}*"):
            path.unlink()

    def run(self, as_of: date, passes: int = 5) -> tuple[int, bool]:
        """book.tex to book.pdf, dated `as_of`: xelatex until its cross-references settle, then xdvipdfmx once.
        This is latexmk's work for this book (no index or bibliography to run between passes) without its 2 s of
        hashing every font file after each pass. Returns how many passes ran, and whether they had read the
        preamble ahead."""
        preamble, rest = split((self.folder / "book.tex").read_text(encoding="utf-8"))
        preamble = dated(preamble, as_of)
        ahead = self.preamble == preamble and all(process.poll() is None for _, process in self.waiting)
        self.env = tex_env(as_of)
        (self.folder / PREAMBLE).write_text(preamble, encoding="utf-8")  # for the next build
        (self.folder / BODY).write_text(rest, encoding="utf-8")
        try:
            done, last = self._passes(passes, ahead and bool(self.waiting))
            if last != "book":
                for suffix in (".xdv", ".log"):
                    os.replace(self.folder / f"{last}{suffix}", self.folder / f"book{suffix}")
        finally:
            self.stop()
        run(["xdvipdfmx", "-q", "-o", "book.pdf", "book.xdv"], "xdvipdfmx", env=self.env, cwd=self.folder)
        return done, last != "book"

    def _passes(self, passes: int, ahead: bool) -> tuple[int, str]:
        """Run the passes; returns how many ran and the job name of the last (`book` if it read book.tex)."""
        if not ahead:
            self.stop()
        for done in range(1, passes + 1):
            before = self._settling()
            name = self._one_pass(ahead)
            ahead = name != "book"
            log_text = (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")
            if self._settling() == before and not RERUN.search(log_text):
                return done, name
        raise BuildError(
            f"xelatex: the PDF's cross-references did not settle in {passes} passes ({self.folder / 'book.log'})"
        )

    def _one_pass(self, ahead: bool) -> str:
        """One pass, by a waiting xelatex if `ahead` (starting the next one), else over book.tex; its job name."""
        if ahead:
            name, process = self.waiting.pop(0)
            if process.poll() is None:
                self._start_waiting()  # the next pass, should this one move a cross-reference
                try:
                    finish_tool(process, "xelatex", "go\n")
                    return name
                except BuildError:
                    pass  # an error in the book: the pass over book.tex below reports it as usual
            self.stop()
        run([*XELATEX, "-interaction=nonstopmode", "book.tex"], "xelatex", env=self.env, cwd=self.folder)
        return "book"

    def _settling(self) -> list[bytes]:
        return [
            (self.folder / f"book{suffix}").read_bytes() if (self.folder / f"book{suffix}").is_file() else b""
            for suffix in SETTLING
        ]
