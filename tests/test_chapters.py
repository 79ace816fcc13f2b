"""A chapter run with non-default parameters glues values that follow them."""

import json

import pytest

from crobook import analysis
from crobook.build import CHAPTERS_DIR, run_chapter
from crobook.data import DEFAULT_DATA_DIR, load


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
