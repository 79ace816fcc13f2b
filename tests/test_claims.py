"""The verdict engine on constructed data, case by case; then the verdicts it reaches on the shipped data."""

import csv
import shutil
from pathlib import Path

import pytest

from crobook import claims
from crobook.data import DEFAULT_DATA_DIR, DataError, load

SOURCES = [
    ("article", "ICON plc", "Article", "2023", "", "as-cited", "", "not checked", "", ""),
    ("reading", "ICON plc", "Our reading", "2023", "", "as-cited-approximate", "", "not checked", "", ""),
    ("pub-a", "Publisher A", "Report A", "2022", "https://example.org/a", "reported", "", "confirmed", "", ""),
    ("pub-b", "Publisher B", "Report B", "2023", "", "reported", "", "confirmed", "", ""),
    ("pub-c", "Publisher C", "Report C", "2023", "", "secondary", "Outlet", "confirmed", "", ""),
    ("pub-d", "Publisher D", "Report D", "2023", "", "reported", "", "not found", "", ""),
]
DEFINITIONS = [
    ("def-article", "Publisher A", "emerging", "small companies", "revenue < 1bn", "global", "pub-a", ""),
    ("def-other", "Publisher B", "small", "smaller companies", "revenue < 500m", "global", "pub-b", ""),
    ("def-third", "Publisher C", "biotech", "all biotechs", "none", "global", "pub-c", ""),
]
SERIES = [  # series_id, unit, measure, definition
    ("share", "percent", "pipeline", "def-article"),
    ("share_other", "percent", "pipeline", "def-other"),
    ("share_third", "percent", "pipeline", "def-third"),
    ("proxy", "percent", "trial_starts", "def-article"),
    ("money", "usd_bn", "venture", "def-article"),
    ("money_b", "usd_bn", "venture", "def-other"),
    ("count", "count", "trials", "def-article"),
    ("part_count", "count", "approvals", "def-article"),
    ("total_count", "count", "approvals", "def-article"),
    ("rise", "points", "pipeline", "def-article"),
]
PART = {
    "claim_id": "C1",
    "part": "a",
    "statement": "A part.",
    "test": "level",
    "measures": "pipeline",
    "definitions": "def-article",
    "geography": "global",
    "cited_series": "share",
    "from_period": "",
    "cited_period": "2021",
    "tolerance": "5",
    "window": "3",
    "note": "",
}


def write(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def dataset(tmp_path: Path, observations: list[tuple], parts: list[dict], links: list[tuple]) -> Path:
    """A data folder with the sources, definitions and series above, and the given figures, parts and links.

    An observation is (series, period, value, source[, bound[, forecast]]); a link is (part, series[, role[,
    with_series, combine]]) of claim C1."""
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEFAULT_DATA_DIR / "outsourcing_models.csv", data)
    write(
        data / "sources.csv",
        ["source_id", "publisher", "title", "published", "url", "grade", "via", "check", "check_note", "caution"],
        SOURCES + [("icon-article", "ICON plc", "Article", "~2023", "", "as-cited", "", "not checked", "", "")],
    )
    write(
        data / "definitions.csv",
        ["definition_id", "publisher", "term", "definition", "threshold", "geography", "source_id", "note"],
        DEFINITIONS,
    )
    write(
        data / "series.csv",
        ["series_id", "claim", "label", "description", "unit", "measure", "definition_id", "geography"],
        # only series with a figure: a series without one is refused (see crobook.data.empty_series_problems)
        [
            (s, "C1", s.title(), f"Series {s}", unit, measure, d, "global")
            for s, unit, measure, d in SERIES
            if s in {o[0] for o in observations}
        ],
    )
    rows = []
    for o in observations:
        series, period, value, source, bound, forecast = (*o, *("exact", "false")[len(o) - 4 :])
        rows.append((series, period, value, source, bound, "", forecast, ""))
    write(
        data / "observations.csv",
        ["series_id", "period", "value", "source_id", "bound", "value_high", "forecast", "note"],
        rows,
    )
    write(data / "claims.csv", ["claim_id", "statement", "chapter", "note"], [("C1", "A claim.", "pipeline", "")])
    parts = [PART | p for p in parts]
    write(data / "claim_parts.csv", list(PART), [tuple(p.values()) for p in parts])
    write(
        data / "claim_evidence.csv",
        ["claim_id", "part", "series_id", "with_series", "combine", "role", "note"],
        [link_row(link) for link in links],
    )
    return data


def link_row(link: tuple) -> tuple:
    part, series, role, with_series, combine = (*link, *("evidence", "", "")[len(link) - 2 :])
    return ("C1", part, series, with_series, combine, role, "")


def verdict(tmp_path, observations, links, **part) -> claims.Ledger:
    return claims.assess(load(dataset(tmp_path, observations, [part], links)))


def status(tmp_path, observations, links, **part) -> str:
    return verdict(tmp_path, observations, links, **part).claims["status"].iloc[0]


CITED = ("share", "2021", 70, "article", "about")


# ------------------------------------------------------------------ the cases the evidence model must get right


def test_a_falling_proxy_never_contradicts(tmp_path):
    part = {"test": "rises", "cited_series": "", "from_period": "2015", "cited_period": "2024", "tolerance": ""}
    falling = [("proxy", "2015", 60, "pub-a"), ("proxy", "2024", 40, "pub-a")]
    assert status(tmp_path / "fall", falling, [("a", "proxy")], **part) == "not testable"
    rising = [("proxy", "2015", 40, "pub-a"), ("proxy", "2024", 60, "pub-a")]
    assert status(tmp_path / "rise", rising, [("a", "proxy")], **part) == "partly supported"  # never more


def test_a_proxy_cannot_test_a_level(tmp_path):
    obs = [CITED, ("proxy", "2021", 70, "pub-a")]
    ledger = verdict(tmp_path, obs, [("a", "proxy")])
    assert ledger.claims["status"].iloc[0] == "not testable"
    assert "hint of direction only" in ledger.claims["why"].iloc[0]


def test_a_contrary_direct_figure_nearer_the_cited_period_changes_the_verdict(tmp_path):
    far = [CITED, ("share", "2024", 68, "pub-a")]
    assert status(tmp_path / "far", far, [("a", "share")]) == "supported"
    nearer = far + [("share", "2023", 50, "pub-b", "less than")]
    ledger = verdict(tmp_path / "near", nearer, [("a", "share")])
    assert ledger.claims["status"].iloc[0] == "contradicted"
    assert ledger.parts["reasons"].iloc[0][1].startswith("Inconsistency")  # the farther 2024 figure disagrees


def test_definitions_that_disagree_give_depends_on_definition(tmp_path):
    obs = [CITED, ("share_other", "2021", 40, "pub-b"), ("share_third", "2021", 71, "pub-c")]
    ledger = verdict(tmp_path, obs, [("a", "share_other"), ("a", "share_third")], definitions="")
    assert ledger.claims["status"].iloc[0] == "depends on definition"
    why = ledger.claims["why"].iloc[0]
    assert "Publisher C's 71%" in why and "Publisher B's 40%" in why  # both definitions are named
    assert "(2021, biotech)" in why and "(2021, small)" in why


def test_the_articles_own_rows_never_count(tmp_path):
    obs = [CITED, ("share", "2022", 70, "article"), ("share", "2021", 72, "reading", "about")]
    assert status(tmp_path, obs, [("a", "share")]) == "not testable"


def test_without_independent_figures_a_claim_is_not_testable(tmp_path):
    obs = [CITED, ("share", "2021", 68, "pub-a")]
    data = dataset(tmp_path, obs, [{}], [("a", "share")])
    assert claims.assess(load(data)).claims["status"].iloc[0] == "supported"
    path = data / "observations.csv"
    path.write_text("\n".join(line for line in path.read_text().splitlines() if "pub-a" not in line) + "\n")
    ledger = claims.assess(load(data))
    assert ledger.claims["status"].iloc[0] == "not testable"
    assert "No independent figure was found" in ledger.claims["why"].iloc[0]


@pytest.mark.parametrize(
    ("figure", "bound", "expected"),
    [
        (66.7, "less than", "supported"),  # "almost two thirds": its limit sits in the band
        (50, "less than", "contradicted"),  # "less than half": wholly below the band
        (30, "more than", "not testable"),  # "more than 30": could be anything in the band or beyond
        (80, "more than", "contradicted"),  # wholly above the band
        (67, "exact", "supported"),
    ],
)
def test_a_bound_is_compared_as_a_bound(tmp_path, figure, bound, expected):
    obs = [CITED, ("share", "2021", figure, "pub-a", bound)]
    assert status(tmp_path, obs, [("a", "share")]) == expected


def test_two_upper_bounds_never_contradict(tmp_path):
    obs = [("share", "2021", 50, "article", "less than"), ("share", "2021", 30, "pub-a", "less than")]
    assert status(tmp_path, obs, [("a", "share")], tolerance="0") == "supported"


def test_a_lower_bound_claim(tmp_path):
    obs = [("money", "2023", 50, "article", "more than"), ("money", "2023", 48, "pub-a")]
    part = {"measures": "venture", "cited_series": "money", "cited_period": "2023", "tolerance": "0"}
    assert status(tmp_path / "low", obs, [("a", "money")], **part) == "contradicted"
    assert status(tmp_path / "tol", obs, [("a", "money")], **part | {"tolerance": "2.5"}) == "supported"


def test_direct_figures_decide_before_indirect_ones(tmp_path):
    obs = [CITED, ("share", "2021", 69, "pub-a"), ("share_other", "2021", 30, "pub-b")]
    ledger = verdict(tmp_path, obs, [("a", "share"), ("a", "share_other")])
    assert ledger.claims["status"].iloc[0] == "supported"
    figures = ledger.figures.set_index("source_id")
    assert figures.loc["pub-a", "directness"] == "direct" and figures.loc["pub-b", "directness"] == "indirect"
    assert not figures.loc["pub-b", "decides"]


def test_context_figures_are_shown_and_never_counted(tmp_path):
    obs = [CITED, ("share_other", "2021", 70, "pub-b")]
    ledger = verdict(tmp_path, obs, [("a", "share_other", "context")])
    assert ledger.claims["status"].iloc[0] == "not testable"
    assert ledger.figures["directness"].tolist() == ["context"]


def test_figures_outside_the_window_do_not_count(tmp_path):
    obs = [CITED, ("share", "2010", 70, "pub-a")]
    assert status(tmp_path, obs, [("a", "share")]) == "not testable"


def test_counts_combine_into_a_share_of_the_same_source(tmp_path):
    obs = [CITED, ("part_count", "2021", 34, "pub-a"), ("total_count", "2021", 50, "pub-a")]
    part = {"measures": "approvals"}
    ledger = verdict(tmp_path, obs, [("a", "part_count", "evidence", "total_count", "ratio")], **part)
    assert ledger.claims["status"].iloc[0] == "supported"
    assert ledger.figures["value"].iloc[0] == pytest.approx(68)


def test_a_level_plus_an_expected_rise_tests_a_forecast(tmp_path):
    obs = [
        ("share", "2026", 93, "article", "exact", "true"),
        ("share", "2022", 80, "pub-a"),
        ("rise", "2022-2026", 13, "pub-a", "exact", "true"),
    ]
    part = {"cited_period": "2026", "tolerance": "1", "window": "1"}
    assert status(tmp_path, obs, [("a", "share", "evidence", "rise", "plus")], **part) == "supported"


def test_growth_is_tested_on_one_estimators_own_figures(tmp_path):
    obs = [("count", "2008", 100, "article"), ("count", "2021", 600, "article")]
    part = {"test": "growth", "measures": "trials", "cited_series": "count", "from_period": "2008", "tolerance": "1"}
    spliced = obs + [("count", "2008", 100, "pub-a"), ("count", "2021", 600, "pub-b")]
    assert status(tmp_path / "splice", spliced, [("a", "count")], **part) == "not testable"
    one = obs + [("count", "2008", 100, "pub-a"), ("count", "2021", 300, "pub-a")]
    assert status(tmp_path / "one", one, [("a", "count")], **part) == "contradicted"  # 3x, not 6x


PEAK = {"test": "peak", "measures": "venture", "cited_series": "", "cited_period": "2021", "tolerance": ""}


def test_a_peak_needs_a_year_on_each_side(tmp_path):
    starts_there = [("money", "2021", 50, "pub-a"), ("money", "2022", 30, "pub-a")]
    assert status(tmp_path / "start", starts_there, [("a", "money")], **PEAK) == "not testable"
    peaks = [("money", "2020", 30, "pub-a"), *starts_there]
    assert status(tmp_path / "peak", peaks, [("a", "money")], **PEAK) == "supported"


def test_each_vintage_is_judged_on_its_own(tmp_path):
    obs = [("money", "2020", 30, "pub-a"), ("money", "2021", 50, "pub-a"), ("money", "2022", 40, "pub-b")]
    assert status(tmp_path, obs, [("a", "money")], **PEAK) == "not testable"  # never spliced across sources


def test_an_estimator_peaking_later_contradicts(tmp_path):
    obs = [("money", "2020", 30, "pub-a"), ("money", "2021", 50, "pub-a"), ("money", "2022", 60, "pub-a")]
    assert status(tmp_path, obs, [("a", "money")], **PEAK) == "contradicted"


# ------------------------------------------------------------------ claims from parts; certainty; sensitivity


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["supported", "supported"], "supported"),
        (["supported", "not testable"], "partly supported"),
        (["contradicted", "not testable"], "contradicted"),
        (["supported", "depends on definition"], "partly supported"),
        (["depends on definition"], "depends on definition"),
        (["not testable", "not testable"], "not testable"),
        (["supported", "contradicted"], "partly supported"),
    ],
)
def test_a_claims_status_follows_from_its_parts(parts, expected):
    assert claims.claim_status(parts) == expected


def test_certainty_starts_from_the_source_and_each_step_down_is_written(tmp_path):
    direct = verdict(
        tmp_path / "d", [CITED, ("share", "2021", 69, "pub-a"), ("share", "2021", 71, "pub-b")], [("a", "share")]
    )
    assert direct.claims["certainty"].iloc[0] == "high" and direct.parts["reasons"].iloc[0] == []
    secondary = verdict(tmp_path / "s", [CITED, ("share_third", "2022", 68, "pub-c")], [("a", "share_third")])
    reasons = secondary.parts["reasons"].iloc[0]
    assert secondary.claims["certainty"].iloc[0] == "very low"  # moderate, less indirectness and imprecision
    assert [r.split(":")[0] for r in reasons] == ["It starts at moderate", "Indirectness", "Imprecision"]


def test_an_unconfirmed_figure_is_named_and_lowers_certainty_when_the_verdict_rests_on_it(tmp_path):
    ledger = verdict(tmp_path, [CITED, ("share", "2021", 69, "pub-d")], [("a", "share")])
    claim = ledger.claims.iloc[0]
    assert claim["unconfirmed"] == ["Publisher D"] and "could not be confirmed" in claim["sentence"]
    assert any(r.startswith("Risk of bias") for r in ledger.parts["reasons"].iloc[0])


def test_sensitivity_names_the_source_that_would_change_the_verdict(tmp_path):
    obs = [CITED, ("share", "2021", 69, "pub-a"), ("share_other", "2021", 40, "pub-b")]
    ledger = verdict(tmp_path, obs, [("a", "share"), ("a", "share_other")])
    assert ledger.claims["sensitivity"].iloc[0] == "without Publisher A (pub-a) it would be contradicted"


def test_numbers_round_half_up_from_their_decimal_text():
    assert claims.number(82.55) == "82.6" and claims.number(48.19) == "48.2" and claims.number(70.0) == "70"
    assert claims.value_text(66.7, "less than", "percent") == "< 66.7%"
    assert claims.value_text(50, "more than", "usd_bn") == "> 50 USD bn"
    assert claims.value_text(70, "about", "percent") == "≈ 70%"


# ------------------------------------------------------------------ claims from data alone; validation


def test_a_new_claim_from_data_alone_gets_its_ledger_row_and_its_chart(data_copy):
    def append(name: str, line: str) -> None:
        path = data_copy / name
        path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")

    append("claims.csv", "C10,Emerging biopharma held two thirds of the pipeline in 2021.,pipeline,")
    append(
        "claim_parts.csv",
        "C10,a,Two thirds in 2021.,level,pipeline_molecules,iqvia-ebp,global,ebp_share_rd_pipeline,,2021,3,1,",
    )
    append("claim_evidence.csv", "C10,a,ebp_share_rd_pipeline,,,evidence,")
    append("observations.csv", "ebp_share_rd_pipeline,2021,66.7,icon-2023-as-read,about,,false,a reading")
    evidence = load(data_copy)
    ledger = claims.assess(evidence)
    row = ledger.claims.set_index("claim_id").loc["C10"]
    assert row["status"] == "supported" and "IQVIA Institute's 65%" in row["why"]
    from crobook.charts import claim_chart

    terms = dict(zip(evidence.definitions["definition_id"], evidence.definitions["term"], strict=True))
    row = row.copy()
    row["claim_id"] = "C10"
    chart = claim_chart(
        row, ledger.parts[ledger.parts["claim_id"] == "C10"], ledger.figures[ledger.figures["claim_id"] == "C10"], terms
    )
    spec = chart.to_dict()
    values = [r.get("value") for rows in spec["datasets"].values() for r in rows]
    assert 65 in values and "C10" in spec["title"]["text"]


def problems(data: Path) -> list[str]:
    with pytest.raises(DataError) as err:
        load(data)
    return [str(p) for p in err.value.problems]


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_validate_catches_a_missing_chapter(data_copy):
    replace_in(data_copy / "claims.csv", ",cro-market,", ",cro-markets,")
    assert [p.split(": ", 1)[1] for p in problems(data_copy)] == [
        f'no chapter "cro-markets"; expected the name of a file in {DEFAULT_DATA_DIR.parent / "chapters"}'
    ]


def test_validate_catches_a_cited_period_with_no_row(data_copy):
    replace_in(
        data_copy / "claim_parts.csv",
        "biotech_share_clinical_pipeline,,2021,",
        "biotech_share_clinical_pipeline,,2019,",
    )
    found = problems(data_copy)
    assert len(found) == 1 and 'claim_parts.csv, row 1 (line 2), column "cited_period"' in found[0]
    assert 'no figure of the article for series "biotech_share_clinical_pipeline" and period "2019"' in found[0]


def test_validate_catches_an_unknown_series_or_definition(data_copy):
    replace_in(data_copy / "claim_evidence.csv", "C1,a,ebp_share_rd_pipeline,", "C1,a,ebp_share_rd_pipelines,")
    replace_in(data_copy / "claim_parts.csv", "clinical_assets,bio-emerging,", "clinical_assets,bio-emergent,")
    found = problems(data_copy)
    assert any(
        'claim_evidence.csv, row 1 (line 2), column "series_id": unknown series "ebp_share_rd_pipelines"' in p
        for p in found
    )
    assert any(
        'claim_parts.csv, row 1 (line 2), column "definitions": unknown definition "bio-emergent"' in p for p in found
    )


def test_validate_catches_a_claim_without_parts_and_a_link_to_no_part(data_copy):
    replace_in(data_copy / "claim_evidence.csv", "C9,a,preferred", "C9,b,preferred")
    lines = (data_copy / "claim_parts.csv").read_text(encoding="utf-8").splitlines()
    (data_copy / "claim_parts.csv").write_text("\n".join(line for line in lines if not line.startswith("C9,")) + "\n")
    found = problems(data_copy)
    assert any('claims.csv, row 9 (line 10), column "claim_id": claim C9 has no part' in p for p in found)
    assert any("claim_evidence.csv" in p and "no part b of claim C9" in p for p in found)


def test_validate_catches_a_series_with_an_unknown_definition(data_copy):
    replace_in(data_copy / "series.csv", ",iqvia-ebp,global", ",iqvia-epb,global")
    found = problems(data_copy)
    assert any("series.csv" in p and 'column "definition_id": unknown definition "iqvia-epb"' in p for p in found)


def test_a_range_needs_its_upper_end(data_copy):
    replace_in(
        data_copy / "observations.csv",
        "ebp_share_rd_pipeline,2001,34,iqvia-ebp-2022,exact,,",
        "ebp_share_rd_pipeline,2001,34,iqvia-ebp-2022,between,,",
    )
    found = problems(data_copy)
    assert any('column "value_high": expected the upper end of the range: bound is between' in p for p in found)


# ------------------------------------------------------------------ the shipped data


def test_shipped_verdicts_follow_the_reviewers_reasoning():
    """What REVIEW-2's reasoning reaches from the same figures (see data/claims.csv notes for why)."""
    ledger = claims.assess(load())
    got = dict(zip(ledger.claims["claim_id"], ledger.claims["status"], strict=True))
    assert got == {
        "C1": "supported",  # IQVIA and EY, both under other definitions than BIO's
        "C2": "not testable",  # counts of another kind of "biotech"; only proxies
        "C3": "supported",  # FDA's own 2021 list, counted outside the top 20 by revenue: 64%
        "C4": "supported",
        "C5": "partly supported",  # Series A strong; drop-off true of companies, not of dollars
        "C6": "partly supported",  # phase 2-3 confirmed (80, +13), phase 1 not
        "C7": "not testable",  # spend, not outsourcing
        "C8": "partly supported",  # 2023 level on Tufts' basis; 2017 and growth untestable
        "C9": "not testable",
    }
    parts = ledger.parts.set_index(["claim_id", "part"])
    assert parts.loc[("C5", "b"), "status"] == "depends on definition"
    # the size line is the book's choice, and the count moves with it: certainty is low, and says why
    assert parts.loc[("C3", "a"), "certainty"] == "low"
    assert any("top 10: 74%" in r for r in parts.loc[("C3", "a"), "reasons"])
    assert parts.loc[("C8", "b"), "status"] == "supported"
    assert ledger.claims.set_index("claim_id").loc["C1", "certainty"] in ("low", "very low")  # on the tolerance edge


def test_every_verdict_sentence_reads_as_prose():
    ledger = claims.assess(load())
    for text in [*ledger.claims["sentence"], *ledger.claims["why"]]:
        assert ": :" not in text and ".." not in text and "1 of 1" not in text and " ," not in text, text


def test_changing_one_figure_flips_a_claim(data_copy):
    replace_in(data_copy / "observations.csv", "ebp_share_rd_pipeline,2021,65,", "ebp_share_rd_pipeline,2021,55,")
    after = claims.assess(load(data_copy)).claims.set_index("claim_id").loc["C1"]
    assert after["status"] == "depends on definition"  # EY's 65% still holds; IQVIA's 55% no longer does
    assert "IQVIA Institute's 55%" in after["why"]


def test_the_readme_table_of_verdicts_is_the_computed_one():
    from crobook.cli import MARKERS, README

    text = README.read_text(encoding="utf-8")
    shown = text[text.index(MARKERS[0]) + len(MARKERS[0]) : text.index(MARKERS[1])].strip()
    assert shown == claims.markdown_summary(claims.assess(load())), "run: crobook ledger --readme"


def test_tolerance_steps_say_where_each_verdict_would_change():
    """The slider's table: at the published tolerance it gives the published verdicts; a deciding figure
    counts as the article's figure once the tolerance reaches its distance from it, never before."""
    evidence = load()
    ledger = claims.assess(evidence)
    published = ledger.parts.set_index(["claim_id", "part"])["status"]
    seen = 0
    for claim_id in evidence.claims["claim_id"]:
        steps = claims.tolerance_steps(evidence, claim_id)
        status = ledger.claims.set_index("claim_id").loc[claim_id, "status"]
        for part, rows in steps.groupby("part"):
            at = rows[(rows["tolerance"] - rows["published"]).abs() < rows["step"] / 2]
            assert len(at) == 1, (claim_id, part)
            assert at["status"].iloc[0] == published[(claim_id, part)]
            assert at["claim_status"].iloc[0] == status
            assert rows["tolerance"].is_monotonic_increasing and rows["tolerance"].iloc[0] == 0
            seen += 1
    assert seen >= 5
    c1 = claims.tolerance_steps(evidence, "C1")
    figures = ledger.figures[(ledger.figures["claim_id"] == "C1") & ledger.figures["decides"].astype(bool)]
    cited = ledger.parts.set_index(["claim_id", "part"]).loc[("C1", "a"), "cited_value"]
    reach = (figures["value"] - cited).abs().max()  # the farthest deciding figure
    holds = c1[c1["status"] == claims.SUPPORTED]["tolerance"]
    assert holds.min() == pytest.approx(reach) and (c1[c1["tolerance"] < reach]["status"] != claims.SUPPORTED).all()


def test_a_claim_chart_carries_a_tolerance_slider_per_value_part():
    from crobook.charts import claim_chart

    evidence = load()
    ledger = claims.assess(evidence)
    terms = dict(zip(evidence.definitions["definition_id"], evidence.definitions["term"], strict=True))
    row = ledger.claims.set_index("claim_id").loc["C6"].copy()
    row["claim_id"] = "C6"
    steps = claims.tolerance_steps(evidence, "C6")
    spec = claim_chart(
        row,
        ledger.parts[ledger.parts["claim_id"] == "C6"],
        ledger.figures[ledger.figures["claim_id"] == "C6"],
        terms,
        steps,
    ).to_dict()
    sliders = {p["name"]: p for p in spec["params"]}
    assert set(sliders) == {f"tolerance_C6_{part}" for part in steps["part"].unique()}
    for name, slider in sliders.items():
        part = steps[steps["part"] == name.rsplit("_", 1)[1]]
        assert slider["value"] == part["published"].iloc[0] and slider["bind"]["max"] == part["tolerance"].max()


def test_a_ledger_handed_to_a_chapter_records_what_computing_it_there_records(tmp_path, monkeypatch):
    """The build assesses every claim and hands the evidence, ledger included, to its chapters (a pickle); the
    key findings page then uses that ledger, and must still depend on every series the ledger read."""
    import json
    import pickle

    from crobook.data import RECORD_ENV

    evidence = load()
    in_chapter = pickle.loads(pickle.dumps(evidence))  # a chapter given no ledger computes its own
    claims.assess(evidence)
    handed = pickle.loads(pickle.dumps(evidence))
    assert None in handed.ledgers and None not in in_chapter.ledgers
    recorded = {}
    for name, copy in (("computed", in_chapter), ("handed", handed)):
        monkeypatch.setenv(RECORD_ENV, str(tmp_path / f"{name}.json"))
        recorded[name] = claims.assess(copy)
        recorded[name + " reads"] = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
    assert recorded["handed reads"] == recorded["computed reads"]
    assert any(item.startswith("observations.csv:") for item in recorded["handed reads"]["reads"])
    assert recorded["handed"].claims.equals(recorded["computed"].claims)


def test_a_chapter_about_one_claim_takes_it_from_the_handed_ledger_and_records_only_that_claims_reads(
    tmp_path, monkeypatch
):
    """The key findings page and the claim chapters ask for one claim at a time: after the build's assessment
    of every claim, that is a slice of what was handed, not a new assessment, and it still records only what
    assessing that claim alone reads (so a chapter re-runs only when its own claim's data change)."""
    import json
    import pickle

    from crobook.data import RECORD_ENV

    evidence = load()
    alone = pickle.loads(pickle.dumps(evidence))
    claims.assess(evidence)
    handed = pickle.loads(pickle.dumps(evidence))
    monkeypatch.setenv(RECORD_ENV, str(tmp_path / "alone.json"))
    computed = claims.assess(alone, ["C4", "C5"])
    for name in ("_assess_claim", "judge_part"):
        monkeypatch.setattr(claims, name, lambda *args: pytest.fail("a handed claim was assessed again"))
    monkeypatch.setenv(RECORD_ENV, str(tmp_path / "handed.json"))
    sliced = claims.assess(handed, ["C4", "C5"])
    reads = {name: json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8")) for name in ("alone", "handed")}
    assert reads["handed"] == reads["alone"]
    assert "claims.csv" not in reads["handed"]["reads"]  # the whole claims table is read only by the full ledger
    assert {"claims.csv:C4", "claims.csv:C5"} <= set(reads["handed"]["reads"])
    for table in ("claims", "parts", "figures"):
        assert getattr(sliced, table).equals(getattr(computed, table))
    assert list(sliced.claims["claim_id"]) == ["C4", "C5"]
    # the tolerance slider's steps come with the claim's assessment too (the key findings page draws them)
    assert claims.tolerance_steps(handed, "C4").equals(claims.tolerance_steps(alone, "C4"))


def test_a_build_reassesses_only_the_claims_whose_data_changed_and_gets_the_same_ledger(tmp_path, monkeypatch):
    """`cache.assessed`: after a one-row change in a series of claim C1, only the claims that read that row are
    assessed again; the ledger is the one a fresh assessment gives; a change of code assesses every claim."""
    from crobook import cache

    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    assessed_now: list[str] = []
    real = claims._assess_claim
    monkeypatch.setattr(
        claims, "_assess_claim", lambda ev, claim: assessed_now.append(claim["claim_id"]) or real(ev, claim)
    )
    every = list(load(data).claims["claim_id"])

    cache.assessed(load(data), tmp_path / "cache")
    assert sorted(assessed_now) == sorted(every)
    assessed_now.clear()
    observations = data / "observations.csv"
    text = observations.read_text(encoding="utf-8")
    assert "ebp_share_rd_pipeline,2021,65," in text
    observations.write_text(text.replace("ebp_share_rd_pipeline,2021,65,", "ebp_share_rd_pipeline,2021,40,"), "utf-8")
    kept = cache.assessed(load(data), tmp_path / "cache")
    assert assessed_now == ["C1"]
    fresh = claims.assess(load(data))
    for table in ("claims", "parts", "figures"):
        assert getattr(kept, table).equals(getattr(fresh, table))
    assert kept.claims.set_index("claim_id").loc["C1", "status"] != "supported"  # 40% is outside the claim's band

    assessed_now.clear()
    monkeypatch.setattr(cache, "code_digest", lambda: "other code")
    cache.assessed(load(data), tmp_path / "cache")
    assert sorted(assessed_now) == sorted(every)
