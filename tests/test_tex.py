"""The PDF's TeX passes (crobook.tex): without the last cross-references, a pass that read the preamble while the
pass before it ran writes, byte for byte, what a pass over book.tex writes; nothing is left waiting, whether TeX
settles or fails."""

import os
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import psutil
import pytest

from crobook.errors import BuildError
from crobook.tex import WAITING, latex_pdf, settling, split, unsettled

AS_OF = date(2026, 11, 26)
PREAMBLE = "\\documentclass{article}\n\\usepackage{hyperref}\n\\title{A test}\n"
# A forward reference and a table of contents: a first build takes two passes.
BODY = r"""\begin{document}
\maketitle
\tableofcontents
\section{First}
See section~\ref{last} on page~\pageref{last}.
\newpage
\section{Last}\label{last}
The end.
\end{document}
"""
OUTPUTS = ("book.xdv", "book.aux", "book.toc", "book.out", "book.pdf")


def usual_passes(folder: Path, count: int) -> None:
    """What latex_pdf did before it read ahead: xelatex over book.tex `count` times, then xdvipdfmx."""
    epoch = int(datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC).timestamp())
    env = os.environ | {"SOURCE_DATE_EPOCH": str(epoch), "FORCE_SOURCE_DATE": "1"}
    for _ in range(count):
        xelatex = ["xelatex", "-no-pdf", "-interaction=nonstopmode", "-halt-on-error", "book.tex"]
        subprocess.run(xelatex, cwd=folder, env=env, check=True, capture_output=True)
    subprocess.run(["xdvipdfmx", "-q", "-o", "book.pdf", "book.xdv"], cwd=folder, env=env, check=True)


def nothing_left_waiting(folder: Path) -> bool:
    running = [" ".join(child.cmdline()) for child in psutil.Process().children(recursive=True)]
    return not list(folder.glob(f"{WAITING}*")) and not [line for line in running if WAITING in line]


def test_the_preamble_ends_where_the_document_begins():
    assert split(PREAMBLE + BODY) == (PREAMBLE, BODY)
    assert split(PREAMBLE) == (PREAMBLE, "")


def test_a_pass_that_read_the_preamble_ahead_writes_what_a_pass_over_book_tex_writes(tmp_path):
    ahead, usual = tmp_path / "ahead", tmp_path / "usual"
    for folder in (ahead, usual):
        folder.mkdir()
        (folder / "book.tex").write_text(PREAMBLE + BODY, encoding="utf-8")
    assert latex_pdf(ahead, AS_OF) == (2, 1)  # the second pass had read the preamble during the first
    usual_passes(usual, 2)
    for name in OUTPUTS:
        assert (ahead / name).read_bytes() == (usual / name).read_bytes(), name
    assert "Output written on crobook-pass2.xdv" in (ahead / "book.log").read_text(encoding="utf-8")
    assert nothing_left_waiting(ahead)
    # With the cross-references at hand (book.aux), TeX runs over book.tex: one pass settles them.
    assert latex_pdf(ahead, AS_OF) == (1, 0)
    usual_passes(usual, 1)
    for name in OUTPUTS:
        assert (ahead / name).read_bytes() == (usual / name).read_bytes(), name
    assert nothing_left_waiting(ahead)


def test_an_error_in_the_book_fails_with_tex_own_message_and_leaves_nothing_waiting(tmp_path):
    (tmp_path / "book.tex").write_text(PREAMBLE + BODY.replace("The end.", r"The \nosuchmacro end."), "utf-8")
    with pytest.raises(BuildError, match=r"xelatex failed:\n! Undefined control sequence"):
        latex_pdf(tmp_path, AS_OF)
    assert nothing_left_waiting(tmp_path)


@pytest.mark.build
def test_the_book_read_ahead_gives_the_same_pdf(built_site, tmp_path):
    """The book's own preamble (Sphinx's class, hyperref, the fonts), with every cross-reference to settle again."""
    kept = built_site.parent / ".cache" / ".sphinx" / "latex" / "latex"
    ahead, usual = tmp_path / "ahead", tmp_path / "usual"
    for folder in (ahead, usual):
        shutil.copytree(kept, folder, ignore=shutil.ignore_patterns("book.aux", "book.toc", "book.lo?", "book.out"))
    passes, read_ahead = latex_pdf(ahead, AS_OF)
    assert passes >= 2 and read_ahead == passes - 1
    usual_passes(usual, passes)
    for name in (*OUTPUTS, "book.lof", "book.lot"):
        assert (ahead / name).read_bytes() == (usual / name).read_bytes(), name


def test_a_pass_is_known_not_to_settle_as_soon_as_it_writes_other_cross_references(tmp_path):
    (tmp_path / "book.aux").write_bytes(b"\\newlabel{a}{1}\n\\newlabel{b}{2}\n")
    (tmp_path / "book.toc").write_bytes(b"toc\n")
    before = settling(tmp_path)
    assert not unsettled(tmp_path, before)  # the pass has not reached \begin{document}: the last pass's files
    (tmp_path / "book.aux").write_bytes(b"")  # opened again by TeX
    assert not unsettled(tmp_path, before)
    (tmp_path / "book.aux").write_bytes(b"\\newlabel{a}{1}\n")  # the same, so far
    assert not unsettled(tmp_path, before)
    (tmp_path / "book.aux").write_bytes(b"\\newlabel{a}{1}\n\\newlabel{b}{3}")  # b moved a page
    assert unsettled(tmp_path, before)
    assert unsettled(tmp_path / "new", settling(tmp_path / "new"))  # none yet: at least two passes
