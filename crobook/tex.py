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

The first pass, too, can read its preamble ahead: the preamble is the same from one build to the next (the
edition's name and fingerprint are macros there, defined after it: `fill_in`), so a build that finds the last
build's in its LaTeX folder (`PREAMBLE`) starts that pass waiting while Sphinx writes book.tex (`first_pass`). If
the new preamble differs, that pass is stopped and the first pass reads book.tex as usual. It waits at the
priority of Sphinx's LaTeX build, and the website's build yields to both (crobook.build.website_and_pdf).

The switch to the CJK and symbol fonts by character class (`OTHER_SCRIPTS`) costs about 0.3 s of a 1.7 s pass.
TeX runs without it, and again with it only if a pass reports a character the main font lacks; the choice is
kept with the preamble, so the next build starts with the fonts the last one needed.
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
PREAMBLE = "crobook-preamble.tex"  # the preamble the last build gave TeX, after the date it gave it (`DATED`)
DATED = re.compile(r"% crobook: TeX dated (\d{4}-\d\d-\d\d)\n")
WAITING = "crobook-pass"
# After the preamble: wait for a line on standard input (allowed in scroll mode), then carry on as a pass over
# book.tex would.
GO_ON = "\\read-1 to \\crobookgo \\nonstopmode \\def\\jobname{book}\\input{crobook-body}\n"
XELATEX = ["xelatex", "-no-pdf", "-halt-on-error"]
# Compressed at zlib's own default level rather than xdvipdfmx's highest: 0.17 s instead of 0.26 s for this book,
# for a PDF 1% larger.
XDVIPDFMX = ["xdvipdfmx", "-q", "-z", "6", "-o", "book.pdf", "book.xdv"]
# The fonts for other scripts (crobook.sphinx_pdf), which TeX loads only when the main font lacks a character.
OTHER_SCRIPTS = re.compile(r"^% crobook: other scripts\n.*?^% crobook: end of other scripts\n", re.M | re.S)
MISSING = re.compile(r"Missing character: There is no (.) \(U\+([0-9A-F]+)\) in font ([^/;:\n]+)")

# Files whose change means cross-references, contents or table widths may still move: TeX must run again.
SETTLING = (".aux", ".toc", ".lof", ".lot", ".out")
RERUN = re.compile(r"Rerun to get|Rerun LaTeX|Label\(s\) may have changed|Table widths have changed")


VALUES = "% crobook: the edition's values\n"  # where `fill_in` defines them, just before \begin{document}
BODY_START = re.compile(r"^(?:% crobook: the edition's values$|\\begin\{document\})", re.MULTILINE)


def split(text: str) -> tuple[str, str]:
    """book.tex's preamble, and the rest: from the edition's values (`fill_in`) or `\\begin{document}` on."""
    found = BODY_START.search(text)
    return (text, "") if found is None else (text[: found.start()], text[found.start() :])


def fill_in(text: str, values: dict[str, str]) -> str:
    """`text` (book.tex) with each stand-in (a key, in lower-case letters) replaced by its value (LaTeX). In the
    preamble a stand-in becomes a macro, defined where the preamble ends, so that the preamble stays the same
    from one edition to the next and can be read ahead (`first_pass`)."""
    preamble, rest = split(text)
    for token, value in values.items():
        preamble = preamble.replace(token, f"\\{token}{{}}")  # `{}` keeps the space after it
        rest = rest.replace(token, value)
    return preamble + VALUES + "".join(f"\\def\\{token}{{{value}}}\n" for token, value in values.items()) + rest


def tex_env(as_of: date) -> dict[str, str]:
    # TeX stamps the PDF with the as-of date rather than the clock: the same inputs give the same PDF.
    epoch = int(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC).timestamp())
    return os.environ | {"SOURCE_DATE_EPOCH": str(epoch), "FORCE_SOURCE_DATE": "1"}


def waiting_pass(folder: Path, number: int, preamble: str, env: dict[str, str]) -> subprocess.Popen:
    """An xelatex that reads `preamble` and waits to be told to go on with the body (see the module's notes)."""
    name = f"{WAITING}{number}"
    (folder / f"{name}.tex").write_text(preamble + GO_ON, encoding="utf-8")
    # At low priority: it reads the preamble with what the work beside it leaves idle.
    command = ["nice", "-n", "10", *XELATEX, "-interaction=scrollmode", f"{name}.tex"]
    return start_tool(command, env=env, cwd=folder, stdin=subprocess.PIPE)


def first_pass(folder: Path) -> tuple[str, subprocess.Popen] | None:
    """The first pass, started on the preamble the last build kept in `folder`, before Sphinx writes book.tex:
    that kept text (for `latex_pdf` to compare) and the waiting xelatex; None if nothing was kept."""
    kept = folder / PREAMBLE
    text = kept.read_text(encoding="utf-8") if kept.is_file() else ""
    found = DATED.match(text)
    if found is None:
        return None
    env = tex_env(date.fromisoformat(found.group(1)))
    return text, waiting_pass(folder, 1, text[found.end() :], env)


def settling(folder: Path) -> list[bytes]:
    return [(folder / f"book{s}").read_bytes() if (folder / f"book{s}").is_file() else b"" for s in SETTLING]


def unsettled(folder: Path, before: list[bytes]) -> bool:
    """Whether a pass under way will not settle the cross-references: none were written before it (`before`, as
    from `settling`), or it has written some that differ from those already. TeX writes each file from its
    start, so while a pass runs a file holds the last pass's text, or the start of its own."""
    if not any(before):
        return True
    return any(not old.startswith(now) for old, now in zip(before, settling(folder), strict=True))


def latex_pdf(
    folder: Path, as_of: date, first: tuple[str, subprocess.Popen] | None = None, passes: int = 5
) -> tuple[int, int]:
    """`book.tex` to `book.pdf` in `folder`: xelatex until its cross-references settle, then xdvipdfmx once;
    `first`: the first pass, waiting on the last build's preamble (`first_pass`).

    This is latexmk's work for this book (it has no index or bibliography to run between passes) without its 2 s
    of hashing every font file after each pass. Returns how many passes ran, and how many of them had read the
    preamble ahead."""
    env = tex_env(as_of)
    waiting: list[tuple[str, subprocess.Popen]] = [(f"{WAITING}1", first[1])] if first else []
    try:
        full, rest = split((folder / "book.tex").read_text(encoding="utf-8"))
        (folder / BODY).write_text(rest, encoding="utf-8")
        # The preamble without the fonts for other scripts first, then, if TeX finds a character the main font
        # lacks, with them. A build that needed them (its first pass read them) starts with them.
        preambles = list(dict.fromkeys([lean_preamble(full), full]))
        if first and first[0] == dated(full, as_of):
            preambles = [full]
        if first and first[0] != dated(preambles[0], as_of):  # the preamble changed: the first pass reads book.tex
            stop_tool(waiting.pop(0)[1])
        ran = 0
        for preamble in preambles:
            (folder / "book.tex").write_text(preamble + rest, encoding="utf-8")  # as TeX ran it
            (folder / PREAMBLE).write_text(dated(preamble, as_of), encoding="utf-8")  # for the next build's first pass
            lacking = None if preamble == preambles[-1] else MISSING
            number, ahead, name = _passes(folder, passes, waiting, preamble, env, lacking)
            ran += number
            if name is not None:
                break
        if name != "book":
            for suffix in (".xdv", ".log"):
                os.replace(folder / f"{name}{suffix}", folder / f"book{suffix}")
    finally:
        stop_waiting(waiting)
        for path in folder.glob(f"{WAITING}*"):
            path.unlink()
    run(XDVIPDFMX, "xdvipdfmx", env=env, cwd=folder)
    return ran, ahead


def stop_waiting(waiting: list[tuple[str, subprocess.Popen]]) -> None:
    """Stop the passes in `waiting` and empty it."""
    while waiting:
        stop_tool(waiting.pop()[1])


def lean_preamble(preamble: str) -> str:
    """`preamble` without the fonts for other scripts."""
    return OTHER_SCRIPTS.sub("", preamble)


def dated(preamble: str, as_of: date) -> str:
    """What a build keeps of its preamble (`PREAMBLE`): the preamble, after the date TeX was given."""
    return f"% crobook: TeX dated {as_of.isoformat()}\n{preamble}"


def _passes(
    folder: Path,
    passes: int,
    waiting: list[tuple[str, subprocess.Popen]],
    preamble: str,
    env: dict[str, str],
    lacking: re.Pattern | None = None,
) -> tuple[int, int, str | None]:
    """xelatex until the cross-references settle, each pass by the pass waiting for it in `waiting` if there is
    one; returns how many passes ran, how many of them had read the preamble ahead, and the last one's job name:
    None if a pass's log matched `lacking` (the passes stop there)."""

    def start_next(number: int) -> None:
        waiting.append((f"{WAITING}{number}", waiting_pass(folder, number, preamble, env)))

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
            # Killed, not failed: the build is stopping (`tools.stop_tools`), and starts no other pass.
            if process.returncode < 0:
                raise BuildError(f"xelatex was stopped (signal {-process.returncode})")
        command = [*XELATEX, "-interaction=nonstopmode", "book.tex"]
        run(command, "xelatex", env=env, cwd=folder, meanwhile=start_next_if_unsettled)
        return "book"

    ahead = 0
    before = settling(folder)
    for number in range(1, passes + 1):
        name = one_pass(number, before)
        ahead += name != "book"
        log_text = (folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        if lacking and lacking.search(log_text):
            stop_waiting(waiting)  # they read this preamble
            return number, ahead, None
        after = settling(folder)
        if after == before and not RERUN.search(log_text):
            return number, ahead, name
        before = after
    raise BuildError(f"xelatex: the PDF's cross-references did not settle in {passes} passes ({folder / 'book.log'})")
