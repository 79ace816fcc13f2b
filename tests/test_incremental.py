"""The kept Sphinx folder a site's builds share: edition values filled in afterwards, only changed files touched,
stale outputs dropped, emptied after a failure, one build at a time (the others build in a fresh folder)."""

import os
from datetime import date
from pathlib import Path

import pytest

from crobook.build import (
    EDITION_TOKEN,
    FINGERPRINT_TOKEN,
    Edition,
    drop_stale_outputs,
    fill_in_latex,
    fill_in_website,
    sphinx_folder,
    take_chapters,
)

EDITION = Edition("strict_2026", "0123abcd", date(2026, 11, 26))
FOOTER = (
    f"<p>Edition <strong>{EDITION_TOKEN}</strong> · data and parameters <code>{FINGERPRINT_TOKEN}</code>"
    ' · <a href="../../../index.html">all editions</a>\n  <!--crobook-others ../../../--></p>'
)


def test_the_edition_is_written_into_every_page_and_the_latex(tmp_path):
    page = tmp_path / "chapters" / "models.html"
    page.parent.mkdir()
    page.write_text(f"<html>{FOOTER}</html>", encoding="utf-8")
    options = tmp_path / "_static" / "documentation_options.js"
    options.parent.mkdir()
    options.write_text(f"VERSION: '{EDITION_TOKEN} (data and parameters {FINGERPRINT_TOKEN})'", encoding="utf-8")
    fill_in_website(tmp_path, EDITION, ["default", "a b"])
    text = page.read_text(encoding="utf-8")
    assert "Edition <strong>strict_2026</strong> · data and parameters <code>0123abcd</code>" in text
    assert '<a href="../../../default/html/index.html">default</a>, ' in text
    assert '<a href="../../../a%20b/html/index.html">a b</a></p>' in text
    assert options.read_text(encoding="utf-8") == "VERSION: 'strict_2026 (data and parameters 0123abcd)'"
    assert "crobook" not in text.replace("crobook-", "")
    alone = tmp_path / "alone.html"
    alone.write_text(FOOTER, encoding="utf-8")
    fill_in_website(tmp_path, EDITION, [])
    assert "other editions" not in alone.read_text(encoding="utf-8")
    assert "<!--" not in alone.read_text(encoding="utf-8")
    # In the LaTeX preamble the values are macros, defined where the body starts (crobook.tex.fill_in).
    book = rf"\release{{{EDITION_TOKEN} (data and parameters {FINGERPRINT_TOKEN})}}" + "\n\\begin{document}\n"
    latex = fill_in_latex(book + f"Edition {EDITION_TOKEN}.\n", EDITION)
    assert latex.startswith(rf"\release{{\{EDITION_TOKEN}{{}} (data and parameters \{FINGERPRINT_TOKEN}{{}})}}")
    assert (
        rf"\def\{EDITION_TOKEN}{{strict\_2026}}" + "\n" in latex and rf"\def\{FINGERPRINT_TOKEN}{{0123abcd}}" in latex
    )
    assert latex.endswith("\\begin{document}\nEdition strict\\_2026.\n")


def test_only_changed_chapters_are_copied_and_a_chapter_taken_out_goes(tmp_path):
    run, src = tmp_path / "run", tmp_path / "src"
    (run / "views" / "charts").mkdir(parents=True)
    for stem in ("a", "b"):
        (run / f"{stem}.ipynb").write_text(stem, encoding="utf-8")
    (run / "views" / "charts" / "c.svg").write_text("<svg/>", encoding="utf-8")
    assert take_chapters(run, src, ["a", "b"]) == 4  # two notebooks, the view and its copy as a static file
    assert (src / "_static" / "charts" / "c.svg").is_file()
    old = src / "chapters" / "a.ipynb"
    os.utime(old, ns=(1, 1))  # long ago: a copy would give it the present time
    (run / "b.ipynb").write_text("b, changed", encoding="utf-8")
    (run / "views" / "charts" / "c.svg").unlink()
    assert take_chapters(run, src, ["a", "b"]) == 3
    assert old.stat().st_mtime_ns == 1
    assert (src / "chapters" / "b.ipynb").read_text(encoding="utf-8") == "b, changed"
    assert not (src / "_static" / "charts" / "c.svg").exists()
    assert take_chapters(run, src, ["b"]) == 1 and not old.exists()


def test_outputs_no_page_uses_any_more_are_dropped(tmp_path):
    website = tmp_path / "html" / "html"
    for name in ("_downloads/ab/old.csv", "_static/charts/old.svg", "_static/book.css", "_static/mystnb.0a1b.css"):
        (website / name).parent.mkdir(parents=True, exist_ok=True)
        (website / name).write_text("x", encoding="utf-8")
    (website / "chapters").mkdir()
    for stem in ("kept", "gone"):
        (website / "chapters" / f"{stem}.html").write_text("x", encoding="utf-8")
    latex = tmp_path / "latex" / "latex"
    latex.mkdir(parents=True)
    for name in ("book.pdf", "book.aux", "0f0f.pdf"):
        (latex / name).write_text("x", encoding="utf-8")
    drop_stale_outputs(tmp_path, ["kept"])
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "html/html/_static/book.css",
        "html/html/chapters/kept.html",
        "latex/latex/book.aux",
        "latex/latex/book.pdf",
    ]


def test_the_kept_folder_is_one_builds_at_a_time_and_emptied_after_a_failure(tmp_path):
    site, work = tmp_path / "site", tmp_path / "work"
    with sphinx_folder(site, work) as built:
        assert built == site / ".cache" / ".sphinx"
        (built / "environment.pickle").write_text("x", encoding="utf-8")
        with sphinx_folder(site, work) as other:  # a second build while the first holds the kept folder
            assert other == work / "sphinx"
    assert (built / "environment.pickle").is_file()  # kept for the next build
    with pytest.raises(RuntimeError), sphinx_folder(site, work) as again:
        assert again == built
        raise RuntimeError("sphinx-build html failed")
    # Sphinx would not repeat the warnings of pages it does not read again: the next build starts cold.
    assert not built.exists()
    with sphinx_folder(site, work) as built:
        (built / "book.aux").write_text("whole", encoding="utf-8")
    assert (built / "book.aux").is_file() and not (built / ".building").exists()  # kept, no mark left
    # A build killed outright (SIGKILL) leaves its mark and maybe half-written files: the next starts cold.
    (built / ".building").touch()
    with sphinx_folder(site, work) as again:
        assert not (again / "book.aux").exists() and (again / ".building").is_file()
    assert not (again / ".building").exists()


def test_the_kept_source_is_staged_again_only_when_the_configuration_changes(tmp_path, monkeypatch):
    from crobook import build as building

    staged = []

    def fake_stage(work: Path, edition: Edition) -> Path:
        staged.append(edition)
        (work / "src").mkdir(parents=True)
        (work / "src" / "conf.py").write_text("# conf", encoding="utf-8")
        return work / "src"

    monkeypatch.setattr(building, "stage", fake_stage)
    folder = tmp_path / "kept"
    src = building.sphinx_source(folder, EDITION)
    (folder / "html").mkdir()
    (folder / ".cache").mkdir()  # a preview's chapter cache
    assert building.sphinx_source(folder, EDITION) == src and len(staged) == 1
    later = Edition(EDITION.name, EDITION.fingerprint, date(2026, 12, 31))
    building.sphinx_source(folder, later)
    assert staged == [EDITION, later]
    assert not (folder / "html").exists() and (folder / ".cache").is_dir() and (src / "conf.py").is_file()


def test_a_claim_chart_drawn_from_equal_inputs_comes_from_the_chart_cache(tmp_path, monkeypatch):
    from crobook.charts import CHART_CACHE_ENV, claim_chart, kept_spec
    from crobook.claims import assess, tolerance_steps
    from crobook.data import load
    from crobook.page import spec_of

    evidence = load()
    ledger = assess(evidence, ["C1"])
    row = ledger.claims.set_index("claim_id").loc["C1"].copy()
    row["claim_id"] = "C1"
    terms = dict(zip(evidence.definitions["definition_id"], evidence.definitions["term"], strict=True))
    parts, figures = ledger.parts, ledger.figures
    drawn = (row, parts, figures, terms, tolerance_steps(evidence, "C1"))
    made = []

    def make(inputs):
        made.append(inputs)
        return spec_of(claim_chart(*inputs))

    monkeypatch.setenv(CHART_CACHE_ENV, str(tmp_path))
    fresh = kept_spec(drawn, lambda: make(drawn))
    (kept,) = tmp_path.glob("*.spec.json")
    os.utime(kept, (100, 100))
    again = kept_spec(tuple(x.copy() for x in drawn), lambda: make(drawn))  # equal inputs, other objects
    assert len(made) == 1 and again == fresh
    assert kept.stat().st_mtime > 100  # marked as used, so that `cache.prune` keeps it
    moved = figures.copy()
    moved.loc[moved.index[0], "value"] = moved["value"].iloc[0] + 1
    changed = (row, parts, moved, terms, drawn[4])
    assert kept_spec(changed, lambda: make(changed)) != fresh and len(made) == 2
    monkeypatch.delenv(CHART_CACHE_ENV)
    assert kept_spec(drawn, lambda: make(drawn)) == fresh and len(made) == 3  # no cache: drawn every time


def test_the_cache_keeps_what_the_last_ten_builds_used_and_nothing_else(tmp_path):
    """`cache.prune`: chapter runs, charts and claims that none of the site's last ten builds used go; what one
    of them used (a restored run is marked as used) stays, and so does everything else in the cache folder."""
    from crobook.cache import BUILDS_KEPT, ChapterCache, prune

    root = tmp_path / ".cache"
    entries = {
        "old run": root / "findings" / "k-old" / "findings.ipynb",
        "restored run": root / "findings" / "k-restored" / "findings.ipynb",
        "recent run": root / "findings" / "k-recent" / "findings.ipynb",
        "old chart": root / "charts" / "a.svg",
        "recent chart": root / "charts" / "b.svg",
        "old claim": root / "claims" / "C1" / "x.pickle",
        "sphinx folder": root / ".sphinx" / "conf.py",
    }
    for path in entries.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
    (root / "findings.json").write_text('{"reads": []}', encoding="utf-8")
    (root / "findings" / "k-restored" / "views").mkdir()
    for name in ("old run", "restored run", "old chart", "old claim", "sphinx folder"):
        entry = entries[name].parent if name.endswith("run") or name == "sphinx folder" else entries[name]
        os.utime(entry, (100, 100))
    starts = [1000 + build for build in range(BUILDS_KEPT)]
    for start in starts[:-1]:
        assert prune(root, start) == 0  # fewer than ten builds so far: nothing is judged unused yet
    assert ChapterCache(root).restore("findings", "k-restored", tmp_path / "out")
    assert prune(root, starts[-1]) == 3
    kept = {name for name, path in entries.items() if path.exists()}
    assert kept == {"restored run", "recent run", "recent chart", "sphinx folder"}
    assert (root / "findings.json").exists() and not list(root.rglob(".gone-*"))
