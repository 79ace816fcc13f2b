"""A chapter run with non-default parameters glues values that follow them."""

import json

import pytest

from crobook import analysis
from crobook.build import CHAPTERS_DIR
from crobook.data import DEFAULT_DATA_DIR, load
from crobook.kernel import run_chapter


def glued(notebook_path) -> dict:
    """name -> text/plain of every value a notebook glued."""
    values = {}
    for cell in json.loads(notebook_path.read_text(encoding="utf-8"))["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                values[name] = next(v for k, v in output["data"].items() if k.endswith("text/plain"))
    return values


def test_market_chapter_follows_its_parameters(tmp_path):
    out = tmp_path / "cro-market.ipynb"
    params = {
        "data_dir": str(DEFAULT_DATA_DIR),
        "horizon_year": 2035,
        "growth_low_pct": 2.0,
        "growth_base_pct": 5.0,
        "growth_high_pct": 9.0,
    }
    run_chapter(CHAPTERS_DIR / "cro-market.md", out, params)
    values = glued(out)
    assert values["market_horizon_year"] == "2035"
    assert float(values["market_rate_base"]) == 5.0
    market = analysis.independent(load().series_data("cro_market"))
    median_2023 = market[market["year"] == 2023]["value"].median()
    assert float(values["market_horizon_base"]) == pytest.approx(median_2023 * 1.05**12)
    assert float(values["market_horizon_high"]) == pytest.approx(median_2023 * 1.09**12)


def test_market_chapter_runs_for_a_base_year_its_requirement_accepts(tmp_path):
    """params.REQUIREMENTS accepts any year with a market-research figure; the chapter must run for it (the earliest
    such year here, with a single figure), and its paragraph on the unnamed 2023 estimate must not move with it."""
    from crobook.params import REQUIREMENTS

    evidence = load()
    check = REQUIREMENTS[("cro-market", "base_year")]
    accepted = [y for y in range(2000, 2031) if check({"base_year": y}, evidence) is None]
    assert 2023 in accepted and len(accepted) > 1
    out = tmp_path / "cro-market.ipynb"
    run_chapter(CHAPTERS_DIR / "cro-market.md", out, {"data_dir": str(DEFAULT_DATA_DIR), "base_year": accepted[0]})
    values = glued(out)
    assert values["market_base_year"] == str(accepted[0])
    assert values["market_unnamed_year"] == "2023" and values["market_survey_year"] == "2023"
