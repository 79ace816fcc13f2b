"""The computations, on hand-made numbers and on the shipped data (claims C6–C8)."""

import math

import pandas as pd
import pytest

from crobook import analysis
from crobook.data import load


def rows(*triples, grade="reported", approximate=False):
    return pd.DataFrame(
        [
            {
                "period": p,
                "year": int(str(p).lstrip("~")[:4]),
                "value": v,
                "source_id": s,
                "publisher": s,
                "grade": grade,
                "approximate": approximate,
            }
            for p, v, s in triples
        ]
    )


def test_cagr_and_growth_on_hand_numbers():
    assert analysis.cagr(100, 121, 2) == pytest.approx(0.10)
    assert analysis.growth_factor(119, 772) == pytest.approx(6.487, abs=1e-3)
    with pytest.raises(ValueError):
        analysis.cagr(100, 121, 0)
    with pytest.raises(ValueError):
        analysis.growth_factor(0, 5)


def test_change_picks_earliest_and_latest():
    c = analysis.change(rows(("2020", 50.0, "a"), ("2010", 25.0, "a"), ("2015", 30.0, "a")))
    assert (c.start_period, c.end_period, c.years) == ("2010", "2020", 10)
    assert c.growth_pct == pytest.approx(100.0)
    assert c.cagr_pct == pytest.approx((2**0.1 - 1) * 100)


def test_spread_and_projection():
    s = analysis.spread(pd.Series([50.0, 80.0, 60.0, None]))
    assert (s.count, s.minimum, s.median, s.maximum) == (3, 50.0, 60.0, 80.0)
    assert s.ratio == pytest.approx(1.6)
    p = analysis.projection(2023, 100.0, 2025, {"low": 0.0, "high": 10.0})
    assert list(p[p["scenario"] == "high"]["value"].round(6)) == [100.0, 110.0, 121.0]
    with pytest.raises(ValueError):
        analysis.projection(2023, 100.0, 2023, {"low": 1.0})


def test_implied_rates_skip_sources_with_one_year():
    r = analysis.implied_rates(rows(("2020", 100.0, "a"), ("2022", 121.0, "a"), ("2021", 5.0, "b")))
    assert list(r["source_id"]) == ["a"]
    assert r["cagr_pct"].iloc[0] == pytest.approx(10.0)


def test_c8_cited_market_growth_from_data():
    market = load().series_data("cro_market")
    c = analysis.change(analysis.cited(market))
    assert (c.start_value, c.end_value, c.years) == (31.2, 50.0, 6)
    assert c.growth_pct == pytest.approx(60.26, abs=0.01)
    assert c.cagr_pct == pytest.approx(8.18, abs=0.01)
    assert c.end_approximate  # "more than $50bn" is a lower bound


def test_c8_independent_2023_estimates_lie_within_the_alimentiv_range():
    evidence = load()
    market = analysis.independent(evidence.series_data("cro_market"))
    low = evidence.series_data("cro_market_2023_estimates_low")["value"].iloc[0]
    high = evidence.series_data("cro_market_2023_estimates_high")["value"].iloc[0]
    values = market[market["year"] == 2023]["value"]
    assert not values.empty and values.between(low, high).all()


def test_c6_point_changes_from_data():
    evidence = load()
    p1 = analysis.point_change(analysis.cited(evidence.series_data("phase1_outsourced_share_small")))
    p23 = analysis.point_change(analysis.cited(evidence.series_data("phase23_outsourced_share_small")))
    assert (p1, p23) == (3.0, 12.0)
    assert p23 > p1  # C7: the biggest jump is in phases 2-3


def test_c6_approximate_reading_is_close_to_isr_public_figure():
    small = load().series_data("phase23_outsourced_share_small")
    reading = small[small["grade"] == "as-cited-approximate"]["value"].iloc[0]
    public = analysis.independent(small)["value"].iloc[0]
    assert math.isclose(reading, public, abs_tol=2)
