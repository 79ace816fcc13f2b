"""The parameters file is checked against what each chapter declares, before anything runs."""

import shutil
from pathlib import Path

import pytest

from crobook.build import DEFAULT_PARAMS, chapters
from crobook.data import CHAPTERS_DIR, DEFAULT_DATA_DIR
from crobook.params import ParamsError, declared, load_inputs, load_params


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def messages(path: Path) -> list[str]:
    with pytest.raises(ParamsError) as err:
        load_params(path, chapters())
    return [str(p) for p in err.value.problems]


def test_default_parameters_are_valid():
    params = load_params(DEFAULT_PARAMS, chapters())
    assert params.chapters["cro-market"]["horizon_year"] == 2030
    assert params.as_of.isoformat() == "2026-11-26"


def test_chapter_declares_typed_parameters():
    found = declared(chapters()["cro-market"])
    assert found["horizon_year"]["type"] == "int"
    assert "data_dir" in found


def test_unknown_parameter(tmp_path):
    found = messages(write(tmp_path, "cro-market:\n  horizon: 2030\n"))
    assert len(found) == 1 and 'column "cro-market.horizon": unknown parameter; chapter cro-market accepts:' in found[0]
    assert "horizon_year" in found[0]


def test_wrong_type(tmp_path):
    found = messages(write(tmp_path, "cro-market:\n  horizon_year: soon\n"))
    assert found == [
        f"{tmp_path / 'params.yaml'}, line 2, column \"cro-market.horizon_year\": expected int, got str 'soon'"
    ]


def test_float_or_none_accepts_int_and_rejects_text(tmp_path):
    ok = load_params(write(tmp_path, "cro-market:\n  growth_low_pct: 5\n"), chapters())
    assert ok.chapters["cro-market"]["growth_low_pct"] == 5
    assert any(
        "expected Optional[float]" in m for m in messages(write(tmp_path, "cro-market:\n  growth_low_pct: high\n"))
    )


def test_unknown_chapter_and_reserved_name(tmp_path):
    found = messages(write(tmp_path, "no-such-chapter:\n  x: 1\ncro-market:\n  data_dir: /tmp\n"))
    assert any('line 1, column "no-such-chapter": unknown name; expected as_of, book or a chapter' in m for m in found)
    assert any('"cro-market.data_dir": set by the build' in m for m in found)


def test_book_parameters_are_checked_by_name_type_and_range(tmp_path):
    found = messages(write(tmp_path, "book:\n  top_m: 20\n  top_n: ten\n"))
    assert any('line 2, column "book.top_m": unknown book parameter; expected one of: top_n' in m for m in found)
    assert any("line 3, column \"book.top_n\": expected int, got str 'ten'" in m for m in found)
    found = messages(write(tmp_path, "book:\n  top_n: 0\n"))
    assert found and 'column "book.top_n": expected a whole number from 1, got 0' in found[0]


def test_book_parameters_reach_the_data(tmp_path):
    params = load_params(write(tmp_path, "book:\n  top_n: 10\n"), chapters())
    defaults = {"top_n": 20, "min_grade": "secondary", "exclude_sources": []}
    assert params.book == defaults | {"top_n": 10} and params.as_dict()["book"]["top_n"] == 10
    assert load_params(write(tmp_path, "as_of: 2026-01-01\n"), chapters()).book == defaults


def test_yaml_syntax_error_names_the_line(tmp_path):
    found = messages(write(tmp_path, "cro-market:\n  horizon_year: [2030\n"))
    assert len(found) == 1 and ", line 3: YAML syntax error" in found[0]


def test_as_of_must_be_a_date(tmp_path):
    found = messages(write(tmp_path, "as_of: soon\n"))
    assert found == [f"{tmp_path / 'params.yaml'}, line 1, column \"as_of\": expected a date YYYY-MM-DD, got 'soon'"]


def input_problems(params: Path, data: Path | None = None) -> list[str]:
    with pytest.raises(ParamsError) as err:
        load_inputs(data, params, chapters())
    return [str(p) for p in err.value.problems]


def test_base_year_the_data_cannot_serve_names_the_key_and_the_years_that_can(tmp_path):
    """Before, base_year 2024 failed inside a cell with "no values to summarise", 90 s into the build."""
    path = write(tmp_path, "cro-market:\n  horizon_year: 2030\n  base_year: 2024\n")
    assert input_problems(path) == [
        f'{path}, line 3, column "cro-market.base_year": cro-market.base_year = 2024: no market-research figure of '
        f"series cro_market for 2024 ({DEFAULT_DATA_DIR / 'observations.csv'}); years with one: 2014, 2017, 2018, "
        "2021, 2022, 2023"
    ]


def test_base_year_the_data_serve_is_accepted(tmp_path):
    checked, evidence = load_inputs(None, write(tmp_path, "cro-market:\n  base_year: 2022\n"), chapters())
    assert checked.chapters["cro-market"]["base_year"] == 2022 and len(evidence.observations)


def test_horizon_must_come_after_the_base_year(tmp_path):
    found = input_problems(write(tmp_path, "cro-market:\n  horizon_year: 2023\n"))
    assert found == [
        f'{tmp_path / "params.yaml"}, line 2, column "cro-market.horizon_year": cro-market.horizon_year = 2023: '
        "expected a year after base_year (2023): the projection runs from one to the other"
    ]


def test_the_chapters_default_is_checked_too(tmp_path, data_copy):
    """Data without any market-research figure for 2023 cannot serve cro-market's default base year."""
    obs = data_copy / "observations.csv"
    lines = obs.read_text(encoding="utf-8").splitlines()
    kept = [ln for ln in lines if not (ln.startswith("cro_market,2023,") and "as-cited" not in ln)]
    assert len(kept) < len(lines)
    obs.write_text("\n".join(kept) + "\n", encoding="utf-8")
    params = write(tmp_path, DEFAULT_PARAMS.read_text(encoding="utf-8").replace("  base_year: 2023\n", ""))
    found = input_problems(params, data_copy)
    assert found == [
        f'{params}, column "cro-market.base_year": cro-market.base_year = 2023 (the chapter\'s default): no '
        f"market-research figure of series cro_market for 2023 ({data_copy / 'observations.csv'}); years with one: "
        "2014, 2017, 2018, 2021, 2022; set cro-market.base_year in this file to a value the data serve"
    ]


def test_every_requirement_names_a_declared_parameter():
    from crobook.params import REQUIREMENTS

    for chapter, key in REQUIREMENTS:
        assert key in declared(chapters()[chapter]), (chapter, key)


def test_params_command_lists_every_parameter_and_the_default_file_sets_each_one():
    import subprocess
    import sys

    import yaml

    from crobook.params import BOOK, RESERVED

    out = subprocess.run(
        [sys.executable, "-m", "crobook.cli", "params"], capture_output=True, text=True, check=True
    ).stdout
    expected = [("book", name) for name in BOOK] + [
        (stem, name) for stem, source in chapters().items() for name in declared(source) if name not in RESERVED
    ]
    for where, name in expected:
        assert f"| `{where}` | `{name}` |" in out, (where, name)
    assert len(out.strip().splitlines()) == len(expected) + 2  # header, rule, one line each
    given = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    assert all(name in given[where] for where, name in expected)  # the default file shows them all


def test_a_strict_edition_leaves_out_weaker_and_named_sources():
    from crobook import claims
    from crobook.data import load

    strict = load(book={"min_grade": "reported", "exclude_sources": ["iqvia-ebp-2022"]})
    grades = dict(zip(strict.sources["source_id"], strict.sources["grade"], strict=True))
    used = set(claims.assess(strict).figures["source_id"])
    assert "iqvia-ebp-2022" not in used and not any(grades[s] == "secondary" for s in used)
    everything = set(claims.assess(load()).figures["source_id"])
    assert "iqvia-ebp-2022" in everything and any(grades[s] == "secondary" for s in everything)


def test_book_grade_and_sources_are_checked(tmp_path):
    text = DEFAULT_PARAMS.read_text(encoding="utf-8")
    path = write(tmp_path, text.replace("min_grade: secondary", "min_grade: rumour"))
    assert any('"book.min_grade": expected one of official, reported, secondary' in m for m in messages(path))
    path = write(tmp_path, text.replace("exclude_sources: []", "exclude_sources: [no-such-source]"))
    with pytest.raises(ParamsError) as err:
        load_inputs(None, path, chapters())
    assert [str(p).split(": ", 1)[1] for p in err.value.problems] == [
        f'no source "no-such-source" in {DEFAULT_DATA_DIR / "sources.csv"}; expected a source_id'
    ]


def test_declared_parameters_are_kept_per_chapter_text(tmp_path, monkeypatch):
    from crobook import params as params_module

    monkeypatch.setattr(params_module, "DECLARED_CACHE", tmp_path / "cache")
    chapter = tmp_path / "cro-market.md"
    shutil.copy(CHAPTERS_DIR / "cro-market.md", chapter)
    first = params_module.declared(chapter)
    assert "horizon_year" in first and len(list((tmp_path / "cache").iterdir())) == 1
    assert params_module.declared(chapter) == first  # read back from the cache, same answer
    chapter.write_text(chapter.read_text(encoding="utf-8").replace("horizon_year", "end_year"), encoding="utf-8")
    edited = params_module.declared(chapter)  # new text, new key: papermill reads it again
    assert "end_year" in edited and "horizon_year" not in edited
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_the_manifest_records_defaults_a_parameters_file_leaves_out(tmp_path):
    from crobook.params import with_defaults

    sparse = tmp_path / "sparse.yaml"
    sparse.write_text("as_of: 2026-11-28\ncro-market:\n  horizon_year: 2035\n", encoding="utf-8")
    given = load_params(sparse, chapters())
    values = with_defaults(given, chapters())
    assert values["cro-market"]["horizon_year"] == 2035  # the file's value wins
    market = {k for k in declared(chapters()["cro-market"]) if k not in ("data_dir", "views_dir", "book")}
    assert market <= set(values["cro-market"]) and len(market) > 1  # and every other parameter has its default
    full = with_defaults(load_params(DEFAULT_PARAMS, chapters()), chapters())
    assert values["cro-market"]["base_year"] == full["cro-market"]["base_year"]
