"""Helpers for chapter pages: glue values, and publish each chart and table with the data it shows.

Every view (chart or table) writes `views/<name>.csv`, the exact rows it shows, and `views/<name>.json`,
its title and the sources it draws on; the page links the CSV, and the sources appendix reads the JSON.
"""

from __future__ import annotations

import json
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


def figure(name: str, chart: alt.TopLevelMixin) -> None:
    """Glue a chart as `name`, its source line as `name_source`, and write `views/<name>.csv` of its data.

    The figure's caption links the CSV: {download}`Data of this chart (CSV) <views/NAME.csv>`.
    """
    spec = chart.to_dict()
    shown = chart_data(spec)
    spec_title = spec.get("title", name)
    title = spec_title if isinstance(spec_title, str) else spec_title.get("text", name)
    sourced = shown.dropna(subset=["publisher"]) if "publisher" in shown else shown.iloc[0:0]
    write_view(name, "figure", title, shown, list(sourced.get("source_id", [])))
    _glue(name, chart, display=False)
    _glue(f"{name}_source", source_line(sourced), display=False)


def claim(evidence, claim_id: str) -> dict:
    """Evaluate one claim of the ledger and glue its sentence as `claim-<id>` and status as `claim-<id>-status`."""
    from crobook.claims import evaluate

    row = evaluate(evidence).set_index("claim_id").loc[claim_id]
    _glue(f"claim-{claim_id}", row["sentence"], display=False)
    _glue(f"claim-{claim_id}-status", row["status"], display=False)
    return row.to_dict()
