r"""The PDF's TeX step (`latex_pdf`): xelatex until the book's cross-references settle, then xdvipdfmx.

Half of an xelatex pass over this book (0.7 s of 1.5 s on the 2-core machine) is the preamble: the document
class, the packages, the fonts. So once a pass is known not to settle the cross-references, it starts the next
one beside it, on the core Sphinx has left idle, at low priority: an xelatex that reads the preamble and waits
on its standard input until it is told to go and read the rest of the book (`crobook-body.tex`). A pass is
known not to settle them from the start when there are none yet (no book.aux: a build in a new folder, which
needs two or three passes), or as soon as what it has written of them differs from what the pass before wrote
(`unsettled`, checked every 0.1 s). A pass started on a guess would slow the pass beside it (by 0.3 s of 2 s,
measured) whenever that one settles. Both routes write the same book.xdv, byte for byte (tests/test_tex.py).

A waiting pass has a job name of its own (`crobook-pass2`, ...), so that it touches none of the files of the pass
running beside it; told to go, it names its auxiliary files `book.*` (it redefines `\jobname`), as a pass over
book.tex does. The last pass's log and output are then renamed `book.log` and `book.xdv`.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

from crobook.errors import BuildError
from crobook.tools import finish_tool, run, start_tool, stop_tool

BODY = "crobook-body.tex"
WAITING = "crobook-pass"
# After the preamble: wait for a line on standard input (allowed in scroll mode), then carry on as a pass over
# book.tex would.
GO_ON = "\\read-1 to \\crobookgo \\nonstopmode \\def\\jobname{book}\\input{crobook-body}\n"
XELATEX = ["xelatex", "-no-pdf", "-halt-on-error"]

# Files whose change means cross-references, contents or table widths may still move: TeX must run again.
SETTLING = (".aux", ".toc", ".lof", ".lot", ".out")
RERUN = re.compile(r"Rerun to get|Rerun LaTeX|Label\(s\) may have changed|Table widths have changed")


def split(text: str) -> tuple[str, str]:
    """book.tex's preamble, and the rest from `\\begin{document}` on."""
    at = text.find("\n\\begin{document}")
    return (text, "") if at < 0 else (text[: at + 1], text[at + 1 :])


def settling(folder: Path) -> list[bytes]:
    return [(folder / f"book{s}").read_bytes() if (folder / f"book{s}").is_file() else b"" for s in SETTLING]


def unsettled(folder: Path, before: list[bytes]) -> bool:
    """Whether a pass under way will not settle the cross-references: none were written before it (`before`, as
    from `settling`), or it has written some that differ from those already. TeX writes each file from its
    start, so while a pass runs a file holds the last pass's text, or the start of its own."""
    if not any(before):
        return True
    return any(not old.startswith(now) for old, now in zip(before, settling(folder), strict=True))


def latex_pdf(folder: Path, as_of: date, passes: int = 5) -> tuple[int, int]:
    """`book.tex` to `book.pdf` in `folder`: xelatex until its cross-references settle, then xdvipdfmx once.

    This is latexmk's work for this book (it has no index or bibliography to run between passes) without its 2 s
    of hashing every font file after each pass. TeX stamps the PDF with the as-of date rather than the clock, so
    the same inputs give the same PDF. Returns how many passes ran, and how many of them had read the preamble
    while the pass before ran."""
    epoch = int(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC).timestamp())
    env = os.environ | {"SOURCE_DATE_EPOCH": str(epoch), "FORCE_SOURCE_DATE": "1"}
    preamble, rest = split((folder / "book.tex").read_text(encoding="utf-8"))
    (folder / BODY).write_text(rest, encoding="utf-8")
    waiting: list[tuple[str, subprocess.Popen]] = []

    def start_next(number: int) -> None:
        name = f"{WAITING}{number}"
        (folder / f"{name}.tex").write_text(preamble + GO_ON, encoding="utf-8")
        # At low priority: it reads the preamble with what the pass beside it leaves idle.
        command = ["nice", "-n", "10", *XELATEX, "-interaction=scrollmode", f"{name}.tex"]
        waiting.append((name, start_tool(command, env=env, cwd=folder, stdin=subprocess.PIPE)))

    def one_pass(number: int, before: list[bytes]) -> str:
        """Pass `number`, by the xelatex waiting for it if there is one; returns its job name."""

        def start_next_if_unsettled() -> None:
            if not any(name == f"{WAITING}{number + 1}" for name, _ in waiting) and unsettled(folder, before):
                start_next(number + 1)

        start_next_if_unsettled()
        if waiting and waiting[0][0] == f"{WAITING}{number}":
            name, process = waiting.pop(0)
            if process.poll() is not None:  # it failed on the preamble: the pass over book.tex below reports why
                stop_tool(process)
            else:
                try:
                    finish_tool(process, "xelatex", "go\n", meanwhile=start_next_if_unsettled)
                    return name
                except BuildError:
                    pass  # the pass over book.tex below reports the error as usual
        command = [*XELATEX, "-interaction=nonstopmode", "book.tex"]
        run(command, "xelatex", env=env, cwd=folder, meanwhile=start_next_if_unsettled)
        return "book"

    try:
        ahead = 0
        before = settling(folder)
        for number in range(1, passes + 1):
            name = one_pass(number, before)
            ahead += name != "book"
            log_text = (folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")
            after = settling(folder)
            if after == before and not RERUN.search(log_text):
                break
            before = after
        else:
            raise BuildError(
                f"xelatex: the PDF's cross-references did not settle in {passes} passes ({folder / 'book.log'})"
            )
        if name != "book":
            for suffix in (".xdv", ".log"):
                os.replace(folder / f"{name}{suffix}", folder / f"book{suffix}")
    finally:
        for _, process in waiting:
            stop_tool(process)
        for path in folder.glob(f"{WAITING}*"):
            path.unlink()
    run(["xdvipdfmx", "-q", "-o", "book.pdf", "book.xdv"], "xdvipdfmx", env=env, cwd=folder)
    return number, ahead
