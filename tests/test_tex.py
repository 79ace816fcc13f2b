"""The PDF's TeX passes (crobook.tex): a pass that read the last build's preamble ahead writes, byte for byte,
what a pass over book.tex writes; a changed preamble or an error falls back to the usual route; nothing is left
waiting."""

import shutil
from datetime import date
from pathlib import Path

import pytest

from crobook.errors import BuildError
from crobook.tex import PREAMBLE, WAITING, Passes, dated, fill_in, split

AS_OF = date(2026, 11, 26)
PREAMBLE_TEXT = r"""\documentclass{article}
\usepackage{hyperref}
\title{A test of \crobookeditionnamehere{}}
"""
# A forward reference and a table of contents: a first build takes two passes, an edit that moves them one more.
BODY = r"""\begin{document}
\maketitle
\tableofcontents
\section{First}
See section~\ref{last} on page~\pageref{last}.
SECTIONS
\section{Last}\label{last}
The end.
\end{document}
"""


def book(sections: int) -> str:
    body = BODY.replace("SECTIONS", "\n".join(rf"\section{{Filler {i}}}\newpage" for i in range(sections)))
    return fill_in(PREAMBLE_TEXT.replace(r"\crobookeditionnamehere{}", "crobookeditionnamehere") + body, {})


def write(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "book.tex").write_text(text, encoding="utf-8")


def test_the_preamble_is_the_same_for_every_edition():
    text = PREAMBLE_TEXT.replace(r"\crobookeditionnamehere{}", "crobookeditionnamehere") + "\\begin{document}\n"
    first, second = (fill_in(text, {"crobookeditionnamehere": name}) for name in ("a", "b\\_c"))
    assert split(first)[0] == split(second)[0] == PREAMBLE_TEXT
    assert (
        split(second)[1] == "% crobook: the edition's values\n\\def\\crobookeditionnamehere{b\\_c}\n\\begin{document}\n"
    )


def test_a_pass_that_read_the_preamble_ahead_writes_what_a_pass_over_book_tex_writes(tmp_path):
    ahead, usual = tmp_path / "ahead", tmp_path / "usual"
    write(ahead, book(1))
    assert Passes(ahead).run(AS_OF) == (2, False)  # a first build: no preamble kept yet
    assert (ahead / PREAMBLE).read_text(encoding="utf-8") == dated(split(book(1))[0], AS_OF)
    shutil.copytree(ahead, usual)
    (usual / PREAMBLE).unlink()

    # The next build: its passes start (and read the preamble) before Sphinx writes book.tex.
    passes = Passes(ahead)
    assert len(passes.waiting) == 1
    write(ahead, book(3))  # two more pages: the reference's page moves, so TeX runs twice
    write(usual, book(3))
    assert passes.run(AS_OF) == (2, True)
    assert Passes(usual).run(AS_OF) == (2, False)
    for name in ("book.xdv", "book.aux", "book.toc", "book.out", "book.pdf"):
        assert (ahead / name).read_bytes() == (usual / name).read_bytes(), name
    assert "Output written on crobook-pass2.xdv" in (ahead / "book.log").read_text(encoding="utf-8")  # the last
    assert not list(ahead.glob(f"{WAITING}*")) and not passes.waiting


def test_a_changed_preamble_is_read_as_usual(tmp_path):
    write(tmp_path, book(0))
    Passes(tmp_path).run(AS_OF)
    passes = Passes(tmp_path)
    waiting = passes.waiting[0][1]
    write(tmp_path, book(0).replace(r"\usepackage{hyperref}", r"\usepackage{hyperref}\usepackage{xcolor}"))
    assert passes.run(AS_OF) == (1, False)
    assert waiting.poll() is not None and not list(tmp_path.glob(f"{WAITING}*"))
    assert "xcolor" in (tmp_path / PREAMBLE).read_text(encoding="utf-8")  # read ahead by the next build


def test_an_error_in_the_book_fails_with_tex_own_message(tmp_path):
    write(tmp_path, book(0))
    Passes(tmp_path).run(AS_OF)
    passes = Passes(tmp_path)
    write(tmp_path, book(0).replace("The end.", r"The \crobookundefined end."))
    with pytest.raises(BuildError, match=r"xelatex failed:\n! Undefined control sequence"):
        passes.run(AS_OF)
    assert not passes.waiting and not list(tmp_path.glob(f"{WAITING}*"))


def test_a_build_that_stops_leaves_no_pass_waiting(tmp_path):
    write(tmp_path, book(0))
    Passes(tmp_path).run(AS_OF)
    passes = Passes(tmp_path)
    waiting = passes.waiting[0][1]
    passes.stop()
    assert waiting.poll() is not None and not list(tmp_path.glob(f"{WAITING}*"))


@pytest.mark.build
def test_the_book_read_ahead_gives_the_same_pdf(built_site, tmp_path):
    """The book's own preamble (Sphinx's class, hyperref, fonts), with every cross-reference to settle again."""
    kept = built_site.parent / ".cache" / ".sphinx" / "latex" / "latex"
    assert (kept / PREAMBLE).is_file()  # kept by the build for the next one
    ahead, usual = tmp_path / "ahead", tmp_path / "usual"
    for folder in (ahead, usual):
        shutil.copytree(kept, folder, ignore=shutil.ignore_patterns("book.aux", "book.toc", "book.lo?", "book.out"))
    (usual / PREAMBLE).unlink()
    passes = Passes(ahead)
    done, read_ahead = passes.run(AS_OF)
    assert read_ahead and done >= 2
    assert Passes(usual).run(AS_OF) == (done, False)
    for name in ("book.xdv", "book.aux", "book.toc", "book.lof", "book.lot", "book.out"):
        assert (ahead / name).read_bytes() == (usual / name).read_bytes(), name


def test_a_new_as_of_date_is_not_read_ahead(tmp_path):
    """TeX dates the PDF when it starts: a pass started with the last build's date cannot serve a new one."""
    write(tmp_path, book(0))
    Passes(tmp_path).run(AS_OF)
    passes = Passes(tmp_path)
    assert passes.waiting
    assert passes.run(date(2026, 12, 1)) == (1, False)
    assert (tmp_path / PREAMBLE).read_text(encoding="utf-8").startswith("% crobook: TeX dated 2026-12-01\n")
