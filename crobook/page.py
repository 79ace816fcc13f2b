"""Helpers for chapter pages: glue values, and publish each chart and table with the data it shows.

Every view (chart or table) writes `views/<name>.csv`, the exact rows it shows, and `views/<name>.json`,
its title and the sources it draws on; the page links the CSV, and the sources appendix reads the JSON.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
from myst_nb import glue as _glue

from crobook.charts import source_line
from crobook.data import record

VIEWS_DIR = Path("views")  # relative to the executing notebook, which papermill runs in its output folder


def glue(name: str, value) -> None:
    """Glue a value for the prose; numpy scalars become plain Python numbers so format specs work."""
    if isinstance(value, np.generic):
        value = value.item()
    _glue(name, value, display=False)


def publish(relative: str, text: str) -> Path:
    """Write a file for readers to download under views/ (kept with the chapter's cached run)."""
    path = VIEWS_DIR / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    record("files", relative)
    return path


def chart_data(spec: dict) -> pd.DataFrame:
    """The rows a chart holds: every inline dataset of its specification, one after the other."""
    frames = [pd.DataFrame(rows) for rows in spec["datasets"].values()]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def write_view(name: str, kind: str, title: str, shown: pd.DataFrame, sources: list[str]) -> Path:
    VIEWS_DIR.mkdir(exist_ok=True)
    path = VIEWS_DIR / f"{name}.csv"
    shown.to_csv(path, index=False, lineterminator="\n")
    meta = {"name": name, "kind": kind, "title": title, "sources": sorted(set(sources))}
    record("views", name)
    (VIEWS_DIR / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return path


class Rendered:
    """A chart's specification shown as the book's renderer shows a chart (`charts.render`), without building
    the specification a second time, and with the figure's name, under which its PDF is kept."""

    def __init__(self, spec: dict, name: str):
        self.spec, self.name = spec, name

    def _repr_mimebundle_(self, *args, **kwargs):
        from crobook.charts import render

        return render(self.spec, figure=self.name)


def spec_of(chart: alt.TopLevelMixin) -> dict:
    # Not validated here: Altair's schema check is a third of a chart's cost; tests/test_build.py checks every
    # chart of a built book against the Vega-Lite schema.
    return chart.to_dict(validate=False, context={"pre_transform": False})


def figure(name: str, chart: alt.TopLevelMixin | dict, evidence=None) -> None:
    """Glue a chart (or its specification) as `name`, its source line as `name_source`, and write
    `views/<name>.csv` of its data.

    With `evidence`, also glue `name_definitions`: the definition of every group the chart shows.

    The figure's caption links the CSV: {download}`Data of this chart (CSV) <views/NAME.csv>`.
    """
    spec = chart if isinstance(chart, dict) else spec_of(chart)
    shown = chart_data(spec)
    spec_title = spec.get("title", name)
    title = spec_title if isinstance(spec_title, str) else spec_title.get("text", name)
    sourced = shown.dropna(subset=["publisher"]) if "publisher" in shown else shown.iloc[0:0]
    write_view(name, "figure", title, shown, list(sourced.get("source_id", [])))
    _glue(name, Rendered(spec, name), display=False)
    _glue(f"{name}_source", source_line(sourced), display=False)
    if evidence is not None:
        ids = shown["definition_id"].dropna() if "definition_id" in shown else []
        _glue(f"{name}_definitions", definitions_line(evidence, ids), display=False)


def claim(evidence, claim_id: str) -> dict:
    """Glue a claim's verdict for the prose: `claim-<id>` (the verdict and the reason for each part),
    `claim-<id>-status` and `claim-<id>-certainty`. Returns the ledger row."""
    from crobook.claims import assess

    row = assess(evidence, [claim_id]).claims.set_index("claim_id").loc[claim_id]
    _glue(f"claim-{claim_id}", f"{row['sentence']} {row['why']}", display=False)
    _glue(f"claim-{claim_id}-status", row["status"], display=False)
    _glue(f"claim-{claim_id}-certainty", row["certainty"] or "none", display=False)
    return row.to_dict() | {"claim_id": claim_id}


def claim_figure(evidence, claim_id: str, name: str) -> None:
    """Glue the evidence chart of a claim as `name` (see `figure`), with its definitions line."""
    from crobook.charts import claim_chart, kept_spec
    from crobook.claims import assess, tolerance_steps

    ledger = assess(evidence, [claim_id])
    row = ledger.claims.set_index("claim_id").loc[claim_id].copy()
    row["claim_id"] = claim_id
    terms = dict(zip(evidence.definitions["definition_id"], evidence.definitions["term"], strict=True))
    parts = ledger.parts[ledger.parts["claim_id"] == claim_id]
    figures = ledger.figures[ledger.figures["claim_id"] == claim_id] if len(ledger.figures) else ledger.figures
    steps = tolerance_steps(evidence, claim_id)
    drawn = (row, parts, figures, terms, steps)
    figure(name, kept_spec(drawn, lambda: spec_of(claim_chart(*drawn))), evidence)
    _glue(f"{name}_caption", claim_caption(claim_id, parts["test"], steps), display=False)


def claim_caption(claim_id: str, tests: pd.Series, steps: pd.DataFrame) -> str:
    """How to read a claim's evidence chart, for its caption: the marks it draws and, where parts compare
    values, the tolerance slider (the printed chart shows the published tolerance)."""
    text = [
        f"Every figure that bears on claim {claim_id}: colour says how directly it bears on the claim (direct, "
        "indirect, proxy, context), shape the grade of its source, and faded marks do not decide the verdict."
    ]
    if tests.isin(["level", "growth"]).any():
        text.append(
            "Where a part compares values, each figure has a row, bounds are arrows, the dashed line is the "
            "article's figure and the grey band what counts as it."
        )
    if tests.isin(["peak", "falls_after", "rises"]).any():
        text.append("Where a part is about direction, each release is a line; a dashed line marks the article's year.")
    if len(steps):
        text.append(
            "The line above such a part says what its verdict, and the claim's, would be at the tolerance shown: "
            "on the website a slider under the chart moves the tolerance and the band; this changes no published "
            "verdict, which keeps the tolerance in the data, and the printed chart shows that tolerance."
        )
    return " ".join(text)


def claim_table(evidence, claim_id: str, name: str):
    """The parts of a claim as a table: the article's figure, how it is read, the verdict, its certainty and why."""
    from crobook import tables
    from crobook.claims import assess

    ledger = assess(evidence, [claim_id])
    parts = ledger.parts[ledger.parts["claim_id"] == claim_id]
    shown = pd.DataFrame(
        {
            "Part": parts["part"],
            "What it asserts": parts["statement"],
            "Article": parts["cited"].replace("", "none"),
            "Counts as the article's figure": parts["target"].replace("", "a direction, not a value"),
            "Verdict": parts["status"],
            "Certainty": parts["certainty"].replace("", "none"),
            "Why": [
                " ".join(r) if r else "nothing lowers it" if c else ""
                for r, c in zip(parts["reasons"], parts["certainty"], strict=True)
            ],
        }
    )
    # The claim's figures name its sources (in the order of the observations file, as other source lines).
    used = ledger.figures.sort_values("row").drop_duplicates("source_id") if len(ledger.figures) else ledger.figures
    return tables.table(shown, name, f"Claim {claim_id}, part by part", used)


def definitions_line(evidence, definition_ids) -> str:
    """'Who is counted: ...' for every definition a view draws on, so a chart never mixes them unnamed."""
    table = evidence.definitions.set_index("definition_id")
    parts = [
        f"{table.loc[d, 'publisher']}, {table.loc[d, 'term']}: {table.loc[d, 'threshold']}"
        for d in dict.fromkeys(definition_ids)
        if d in table.index
    ]
    return ("Who is counted: " + "; ".join(parts) + ".") if parts else ""


def load(data_dir: str = "", book: dict | None = None):
    """The chapters' one way in: the validated data folder (the book's own when empty), read with the book-wide
    parameters the build hands every chapter (the defaults when empty).

    A build has validated the folder already: it hands the result to its chapters (see EVIDENCE_ENV), which
    then need not read and validate it again in each kernel (4 s at 100 times today's observations, 35 s at
    1,000 times). Anything else, such as a notebook opened by hand, reads the folder itself."""
    from crobook.approvals import TOP_N
    from crobook.data import DEFAULT_DATA_DIR, EVIDENCE_ENV
    from crobook.data import load as load_data

    handed = os.environ.get(EVIDENCE_ENV)
    if handed and Path(handed).is_file():
        evidence = pickle.loads(Path(handed).read_bytes())
        same_folder = evidence.data_dir == Path(data_dir or DEFAULT_DATA_DIR).resolve()
        if same_folder and evidence.book == {"top_n": TOP_N} | (book or {}):
            return evidence
    return load_data(data_dir or None, book=book or None)


def claim_sections(evidence, ledger) -> str:
    """MyST for every claim of the ledger: an anchor, its verdict and reasons, and its evidence figure.

    Generated from data, so a claim added to data/ gets its section and figure with no code change."""
    from crobook.tables import escape

    blocks = []
    parts = ledger.parts
    for claim in ledger.claims.itertuples():
        key = claim.claim_id.lower()
        name = f"fig-findings-{key}"
        claim_figure(evidence, claim.claim_id, name)
        reasons = [
            f"- ({p.part}) {escape(p.status)}"
            + (
                f", {escape(p.certainty)} certainty: " + escape(" ".join(p.reasons) or "nothing lowers it.")
                if p.certainty
                else ""
            )
            for p in parts[parts["claim_id"] == claim.claim_id].itertuples()
        ]
        blocks += [
            f"(claim-{key})=",
            f"**{escape(claim.claim_id)}: {escape(claim.statement)}** {escape(claim.sentence)} {escape(claim.why)}",
            "",
            *reasons,
            "",
            f"What would change it: {escape(claim.sensitivity)}. {escape(claim.caveat)} "
            f"The chapter {{doc}}`{claim.chapter}` sets out the evidence.",
            "",
            f":::{{glue:figure}} {name}",
            f":name: {name}",
            "",
            f"Evidence for claim {escape(claim.claim_id)}. {{download}}`Data of this chart (CSV) <views/{name}.csv>`",
            ":::",
            "",
            # Outside the caption: a figure cannot break across pages, a paragraph can.
            f"{{glue:text}}`{name}_definitions` {{glue:text}}`{name}_source`",
            "",
        ]
    return "\n".join(blocks)


def json_ld(items: list[dict]) -> str:
    """MyST for JSON-LD in the web page's HTML (the PDF leaves it out)."""
    text = json.dumps(items, ensure_ascii=False, indent=1).replace("</", "<\\/")
    return "\n".join([":::{raw} html", '<script type="application/ld+json">', text, "</script>", ":::"])
