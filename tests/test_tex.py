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
from crobook.sphinx_pdf import PREAMBLE as BOOK_PREAMBLE
from crobook.tex import OTHER_SCRIPTS, WAITING, XDVIPDFMX, fill_in, first_pass, latex_pdf, settling, split, unsettled
from crobook.tools import kill_group

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
    subprocess.run(XDVIPDFMX, cwd=folder, env=env, check=True)


def nothing_left_waiting(folder: Path) -> bool:
    running = [" ".join(child.cmdline()) for child in psutil.Process().children(recursive=True)]
    return not list(folder.glob(f"{WAITING}*")) and not [line for line in running if WAITING in line]


def test_the_preamble_ends_where_the_document_begins():
    assert split(PREAMBLE + BODY) == (PREAMBLE, BODY)
    assert split(PREAMBLE) == (PREAMBLE, "")


def test_the_edition_s_values_are_macros_in_the_preamble_defined_where_the_body_starts():
    text = PREAMBLE.replace("A test", "A test, edition editionhere") + BODY.replace("The end.", "The end: editionhere.")
    filled = fill_in(text, {"editionhere": "1.0-x"})
    preamble, rest = split(filled)
    assert "1.0-x" not in preamble and "\\editionhere{}" in preamble  # the same from one edition to the next
    assert rest.startswith("% crobook: the edition's values\n\\def\\editionhere{1.0-x}\n\\begin{document}")
    assert "The end: 1.0-x." in rest


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


def test_a_first_pass_started_on_the_last_build_s_preamble_writes_what_a_pass_over_book_tex_writes(tmp_path):
    ahead, usual = tmp_path / "ahead", tmp_path / "usual"
    for folder in (ahead, usual):
        folder.mkdir()
        (folder / "book.tex").write_text(PREAMBLE + BODY, encoding="utf-8")
    latex_pdf(ahead, AS_OF)
    usual_passes(usual, 2)
    # The next build: a longer last section moves nothing, a new section before it moves its label a page on.
    body = BODY.replace("\\newpage\n", "\\newpage\n\\section{Middle}\nMore.\n\\newpage\n")
    for folder in (ahead, usual):
        (folder / "book.tex").write_text(PREAMBLE + body, encoding="utf-8")
    first = first_pass(ahead)
    assert first is not None and first[1].poll() is None  # waiting on the kept preamble before book.tex is read
    passes, read_ahead = latex_pdf(ahead, AS_OF, first)
    # The first pass read the preamble ahead (the second did too if the first was seen to move the label in time).
    assert passes == 2 and read_ahead >= 1
    usual_passes(usual, 2)
    for name in OUTPUTS:
        assert (ahead / name).read_bytes() == (usual / name).read_bytes(), name
    assert nothing_left_waiting(ahead)
    # A changed preamble: the waiting pass is stopped, and TeX reads book.tex.
    (ahead / "book.tex").write_text(PREAMBLE.replace("A test", "Another test") + body, encoding="utf-8")
    first = first_pass(ahead)
    assert latex_pdf(ahead, AS_OF, first)[1] == 0
    assert first[1].returncode is not None and nothing_left_waiting(ahead)
    # Another as-of date is another preamble too (TeX's date is in it): the kept one is not used.
    assert latex_pdf(ahead, date(2027, 1, 1), first_pass(ahead))[1] == 0


def pdf_fonts(folder: Path) -> str:
    return subprocess.run(["pdffonts", str(folder / "book.pdf")], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("text", ["Plain text, café and ≈.", "Text in 中文 and 😀."])
def test_the_fonts_for_other_scripts_load_only_when_the_main_font_lacks_a_character(tmp_path, text):
    """The book's own font set-up (crobook.sphinx_pdf): the switch by character class costs a fifth of each
    pass, so TeX runs without it until a pass finds a character that FreeSerif lacks."""
    other_scripts = OTHER_SCRIPTS.search(BOOK_PREAMBLE).group(0)
    preamble = PREAMBLE + "\\usepackage{fontspec}\n\\setmainfont{FreeSerif}\n" + other_scripts
    (tmp_path / "book.tex").write_text(preamble + BODY.replace("The end.", text), encoding="utf-8")
    passes, _ = latex_pdf(tmp_path, AS_OF)
    book, log, fonts = (
        (tmp_path / "book.tex").read_text("utf-8"),
        (tmp_path / "book.log").read_text("utf-8"),
        pdf_fonts(tmp_path),
    )
    assert "Missing character" not in log
    if "中" in text:
        assert "ucharclasses" in book and "NotoSansCJK" in fonts and "Symbola" in fonts
        # One pass found the missing characters (and wrote the cross-references), one with the other fonts.
        assert passes == 2
        # The next build starts with the other fonts: its first pass read them ahead.
        assert latex_pdf(tmp_path, AS_OF, first_pass(tmp_path)) == (1, 1)
    else:
        assert "ucharclasses" not in book and "Noto" not in fonts and "Symbola" not in fonts
        assert passes == 2
    assert nothing_left_waiting(tmp_path)


def test_a_waiting_pass_that_was_killed_ends_the_tex_step_without_another_pass(tmp_path):
    """A build that stops kills every tool it runs; a killed waiting pass is not a TeX error for a pass over
    book.tex to report, so none is started (it would run on after the build was told to stop)."""
    (tmp_path / "book.tex").write_text(PREAMBLE + BODY, encoding="utf-8")
    latex_pdf(tmp_path, AS_OF)
    (tmp_path / "book.log").unlink()
    first = first_pass(tmp_path)
    kill_group(first[1])
    first[1].wait()
    with pytest.raises(BuildError, match="xelatex was stopped"):
        latex_pdf(tmp_path, AS_OF, first)
    assert not (tmp_path / "book.log").exists()  # no pass over book.tex ran
    assert nothing_left_waiting(tmp_path)
