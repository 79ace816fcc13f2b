"""Altair charts that work offline: interactive on the website, vector in the PDF.

The website loads Vega from the book's own `_static` (see `crobook.webpages.write_vega_bundle`), and only once
the reader interacts with a page (`_static/crobook-charts.js`); each chart's HTML only queues its spec, so no
page names a CDN. For LaTeX, myst-nb picks the PDF output.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import vl_convert

from crobook.cache import read_used, write_whole
from crobook.data import CHART_CACHE_ENV
from crobook.text import number, value_text

# Okabe–Ito: distinguishable under the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
WIDTH, HEIGHT = 460, 280
# Static SVGs of the charts, beside the executing notebook's views (see crobook.page.VIEWS_DIR); the build
# serves them as the website's `_static/charts/`.
CHART_FILES = Path("views") / "charts"


def theme() -> dict:
    return {
        "config": {
            "range": {"category": PALETTE},
            "font": "Helvetica, Arial, sans-serif",
            "view": {"continuousWidth": WIDTH, "continuousHeight": HEIGHT, "stroke": None},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "grid": True, "gridColor": "#e5e5e5"},
            "legend": {"labelFontSize": 11, "titleFontSize": 12, "orient": "bottom", "columns": 2, "labelLimit": 320},
            "title": {"fontSize": 14, "anchor": "start", "subtitleFontSize": 11, "subtitleColor": "#555"},
        }
    }


def _script_safe(text: str) -> str:
    # Data text must never close the <script> element it is embedded in.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


COMPOSED = ("facet", "concat", "hconcat", "vconcat", "repeat")
TITLE_LINE = 48  # characters: longer titles wrap, so that they fit a phone's column


def _wrapped(title: str) -> list[str] | str:
    lines = [""]
    for word in title.split():
        if lines[-1] and len(lines[-1]) + 1 + len(word) > TITLE_LINE:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    return lines if len(lines) > 1 else title


def responsive(spec: dict) -> dict:
    """The spec as the website draws it: as wide as its column (a single or layered view), its title wrapped,
    its legend in one column. Faceted and concatenated charts keep their width and scroll inside their box."""
    spec = json.loads(json.dumps(spec))
    title = spec.get("title")
    if isinstance(title, str):
        spec["title"] = {"text": _wrapped(title)}
    elif isinstance(title, dict) and isinstance(title.get("text"), str):
        title["text"] = _wrapped(title["text"])
    spec.setdefault("config", {}).setdefault("legend", {}).update({"columns": 1, "labelLimit": 260})
    if not any(key in spec for key in COMPOSED):
        for layer in spec.get("layer", []):
            layer.pop("width", None)
        spec["width"] = "container"
        spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    return spec


def chart_name(spec: dict) -> str:
    spec_json = json.dumps({k: v for k, v in spec.items() if k != "$schema"}, sort_keys=True, ensure_ascii=False)
    return "chart-" + hashlib.sha256(spec_json.encode()).hexdigest()[:12]


def chart_html(spec: dict, size: tuple[str, str]) -> str:
    """The chart on the website: a static SVG of it (`static_svg`), which is all a reader sees with scripts off,
    in print, or until they first scroll, point or type; then `_static/crobook-charts.js` loads Vega and draws
    the spec in its place, as wide as its column, with tooltips and sliders. `size` is the image's width and
    height, so that the page keeps its room before the image arrives."""
    # The $schema address is only a label; vegaEmbed is told the mode instead, so no page names it.
    chart_id = chart_name(spec)
    spec_json = json.dumps(
        responsive({k: v for k, v in spec.items() if k != "$schema"}), sort_keys=True, ensure_ascii=False
    )
    label = html.escape(spec.get("description", ""), quote=True)
    wide = any(key in spec for key in COMPOSED)
    # A box that can scroll must be reachable by keyboard (axe: scrollable-region-focusable).
    extra = (" crobook-chart-wide", ' tabindex="0"') if wide else ("", "")
    # A chart with sliders is a group (its inputs must stay reachable), any other an image.
    role = "group" if any("bind" in p for p in spec.get("params", [])) else "img"
    return (
        f'<div class="crobook-chart{extra[0]}" id="{chart_id}" role="{role}" aria-label="{label}"{extra[1]}></div>\n'
        f'<div class="crobook-chart-static" id="{chart_id}-static"><img src="../_static/charts/{chart_id}.svg" '
        f'alt="{label}" width="{size[0]}" height="{size[1]}" loading="lazy"></div>\n'
        # Data, not code: the browser neither parses nor runs it while it reads the page.
        f'<script type="application/json" class="crobook-spec" data-chart="{chart_id}">{_script_safe(spec_json)}'
        "</script>"
    )


def converted(spec: dict, kind: str, figure: str | None = None) -> bytes:
    """The chart as SVG or PDF (`kind`), from the build's chart cache when this very chart was converted before.

    vl-convert's PDFs differ from run to run (an identifier), so a PDF is kept per `figure` name: two figures
    sharing one cached PDF in one build and not in the next would number the PDF's images differently. Without
    a figure name a PDF is not kept."""
    folder = os.environ.get(CHART_CACHE_ENV) if kind == "svg" or figure else None
    text = f"{vl_convert.__version__}\0{figure if kind == 'pdf' else ''}\0{json.dumps(spec, sort_keys=True)}"
    key = hashlib.sha256(text.encode()).hexdigest()
    path = Path(folder) / f"{key[:32]}.{kind}" if folder else None
    if path is not None and (kept := read_used(path)) is not None:
        return kept
    # The PDF from the SVG (kept already for the website): a fifth of the time of running Vega again.
    svg = converted(spec, "svg").decode() if kind == "pdf" else vl_convert.vegalite_to_svg(spec)
    data = svg.encode() if kind == "svg" else vl_convert.svg_to_pdf(svg)
    if path is not None:
        write_whole(path, data)
    return data


@functools.cache
def _drawing_code() -> bytes:
    """What a chart's specification depends on besides its inputs: the package's code and Altair's version."""
    digest = hashlib.sha256(alt.__version__.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


def kept_spec(inputs: tuple, make: Callable[[], dict]) -> dict:
    """The specification `make()` returns, from the build's chart cache when a chart was made from equal `inputs`
    (the data frames and values it is drawn from) by the same code before. Building a claim's evidence chart
    and turning it into a specification takes Altair about 0.4 s; the key findings page draws nine of them
    whenever any figure changes. Without a cache (a chapter run on its own), `make()` every time."""
    folder = os.environ.get(CHART_CACHE_ENV)
    if not folder:
        return make()
    key = hashlib.sha256(_drawing_code() + pickle.dumps(inputs)).hexdigest()
    path = Path(folder) / f"{key[:32]}.spec.json"
    if (kept := read_used(path)) is not None:
        return json.loads(kept)
    spec = make()
    write_whole(path, json.dumps(spec).encode("utf-8"))
    return spec


def static_svg(spec: dict, folder: Path) -> Path:
    """Write the chart's static SVG as `folder/<chart name>.svg`: the website's fallback and print image."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chart_name(spec)}.svg"
    if not path.exists():
        path.write_bytes(converted(spec, "svg"))
    return path


def svg_size(path: Path) -> tuple[str, str]:
    """The width and height an SVG written by vl-convert declares on its root element."""
    root = re.search(r"<svg\b[^>]*>", path.read_text(encoding="utf-8")).group(0)
    return tuple(re.search(rf'\b{name}="([\d.]+)"', root).group(1) for name in ("width", "height"))


def render(spec: dict, figure: str | None = None, **_) -> tuple[dict, dict]:
    """Altair renderer: interactive HTML for the website, vector PDF for LaTeX (myst-nb picks per builder).
    `figure`, the name the chart is glued as, lets its PDF be kept between builds (see `converted`)."""
    from crobook.data import record

    image = static_svg(spec, CHART_FILES)
    record("files", f"charts/{chart_name(spec)}.svg")  # kept with the chapter's cached run
    bundle = {
        "text/html": chart_html(spec, svg_size(image)),
        "application/pdf": converted(spec, "pdf", figure),
        "text/plain": spec.get("description", "chart"),
    }
    return bundle, {}


def setup() -> None:
    """Use the book's theme and renderer; call once at the top of a notebook."""
    alt.theme.register("crobook", enable=True)(theme)
    alt.renderers.register("crobook", render)
    alt.renderers.enable("crobook")


# A source line names at most this many publishers (today at most 30); the rest are counted, so that a caption
# stays on its page.
SOURCE_LINE_ENTRIES = 40


def source_line(rows: pd.DataFrame) -> str:
    """'Sources: publisher via outlet (date, date); ...' for the sources of the rows shown, in order of first
    appearance; one entry per publisher and outlet, with each of its dates, so that a caption stays short.
    Past SOURCE_LINE_ENTRIES entries the rest are counted and the sources appendix named.
    A chart with no sourced figure (an edition may leave every one out) says so."""
    if rows.empty or "publisher" not in rows:
        return "No sourced figure is shown."
    dates: dict[tuple[str, str], list[str]] = {}
    for publisher, via, published in dict.fromkeys(zip(rows["publisher"], rows["via"], rows["published"])):
        when = "no date" if published == "n.d." else published.replace("~", "c. ")
        dates.setdefault((publisher, via), []).append(when)
    parts = [
        f"{publisher}{f' via {via}' if via else ''} ({', '.join(whens)})" for (publisher, via), whens in dates.items()
    ]
    if len(parts) > SOURCE_LINE_ENTRIES:
        more = len(parts) - SOURCE_LINE_ENTRIES
        parts = parts[:SOURCE_LINE_ENTRIES] + [f"and {more:,} more sources (see the sources appendix)"]
    return (
        ("Sources: " if len(rows.drop_duplicates(["publisher", "via", "published"])) > 1 else "Source: ")
        + "; ".join(parts)
        + "."
    )


def _tooltip(extra: list | None = None) -> list:
    return [
        alt.Tooltip("label:N", title="Series"),
        alt.Tooltip("period:N", title="Period"),
        alt.Tooltip("shown:N", title="Value, as the source gives it"),
        alt.Tooltip("publisher:N", title="Publisher"),
        alt.Tooltip("title:N", title="Title"),
        alt.Tooltip("published:N", title="Published"),
        alt.Tooltip("grade:N", title="Grade"),
        alt.Tooltip("approximate:N", title="Approximate (a reading of words)"),
        alt.Tooltip("check:N", title="Checked against a public page"),
        alt.Tooltip("note:N", title="Note"),
        *(extra or []),
    ]


BACKGROUND_COLUMNS = {"row", "claim", "description", "unit", "url", "check_note"}


# A chart carries every row it draws inside the page, and Altair refuses more than 5,000 (MaxRowsError). Past these
# limits a chart draws whole series, as many as fit, and its subtitle counts the rest; its CSV holds the rows it
# draws (as every view's does) and the edition's data.zip every figure. Today's charts hold at most 32 rows of 31
# series.
CHART_ROWS, CHART_SERIES = 600, 40


def whole_series(frame: pd.DataFrame, by: str = "label") -> tuple[pd.DataFrame, int]:
    """At most CHART_SERIES series and CHART_ROWS rows of `frame`, whole series only, taken in turns from each
    `by` group (each company, say) in their order of appearance; and the number of series left out."""
    if "series_id" not in frame:
        return frame, 0
    series = frame.drop_duplicates("series_id")
    if len(series) <= CHART_SERIES and len(frame) <= CHART_ROWS:
        return frame, 0
    turn = series.groupby(by, sort=False).cumcount() if by in series else pd.Series(range(len(series)))
    order = series.assign(_turn=turn.to_numpy()).sort_values("_turn", kind="stable")["series_id"]
    sizes = frame.groupby("series_id").size().reindex(order)
    fits = (sizes.cumsum() <= CHART_ROWS).to_numpy() & (np.arange(len(sizes)) < CHART_SERIES)
    kept = set(sizes.index[fits])
    return frame[frame["series_id"].isin(kept)], len(sizes) - len(kept)


def _titled(title: str, frame: pd.DataFrame) -> str | alt.TitleParams:
    """The chart's title, with a subtitle counting the series `whole_series` left out, if any."""
    left_out = frame.attrs.get("series_left_out", 0)
    if not left_out:
        return title
    drawn = frame["series_id"].nunique()
    return alt.TitleParams(
        title,
        subtitle=[f"{drawn} series drawn, {left_out:,} more not drawn: every figure is in the book's data (data.zip)"],
    )


def _chart_frame(rows: pd.DataFrame, by: str = "label") -> pd.DataFrame:
    rows, left_out = whole_series(rows, by)
    keep = [
        "series_id",
        "source_id",
        "label",
        "period",
        "year",
        "value",
        "unit_label",
        "publisher",
        "via",
        "title",
        "published",
        "grade",
        "check",
        "approximate",
        "bound",
        "note",
    ]
    # The rows a chart carries are the rows its CSV offers: the figure, its source, and the chart's own columns.
    extra = [c for c in rows.columns if c not in keep and c not in BACKGROUND_COLUMNS]
    frame = rows[[c for c in keep if c in rows.columns] + extra].copy()
    frame["year"] = frame["year"].astype(float)
    if {"bound", "unit"} <= set(rows.columns):
        frame["shown"] = [
            value_text(v, b, u) for v, b, u in zip(rows["value"], rows["bound"], rows["unit"], strict=True)
        ]
    frame.attrs["series_left_out"] = left_out
    return frame


BOUND_SHAPES = {"more than": "triangle-up", "less than": "triangle-down"}


def bound_marks(frame: pd.DataFrame, x: str, y: str = "value:Q") -> list[alt.Chart]:
    """Open triangles over the figures that are bounds: pointing up for "more than", down for "less than"."""
    if "bound" not in frame:
        return []
    layers = []
    for bound, shape in BOUND_SHAPES.items():
        rows = frame[frame["bound"] == bound]
        if len(rows):
            layers.append(
                alt.Chart(rows)
                .mark_point(shape=shape, size=260, filled=False, strokeWidth=1.5, color="#222222")
                .encode(x=x, y=y, tooltip=_tooltip())
            )
    return layers


def estimates_chart(
    rows: pd.DataFrame, title: str, y_title: str, description: str, colour: str = "kind", colour_title: str = "Figure"
) -> alt.Chart:
    """One point per figure, by year: several estimators of one quantity side by side; bounds are marked by an
    open triangle pointing the way the bound leaves open."""
    frame = _chart_frame(rows)
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=90, opacity=0.9)
        .encode(
            x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(zero=False)),
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=True)),
            color=alt.Color(f"{colour}:N", title=colour_title),
            shape=alt.Shape(f"{colour}:N", title=colour_title),
            tooltip=_tooltip([alt.Tooltip(f"{colour}:N", title=colour_title)]),
        )
    )
    return alt.layer(points, *bound_marks(frame, "year:Q"), title=_titled(title, frame), description=description)


WHAT_IF_YEARS = 20  # how far past the start the horizon slider reaches


def projection_chart(
    observed: pd.DataFrame, projected: pd.DataFrame, title: str, y_title: str, description: str, horizon: int
) -> alt.LayerChart:
    """Observed figures as points, scenario projections as lines; on the website, sliders for each scenario's
    rate and for the horizon redraw the lines in the browser (the printed chart shows the edition's values).

    `projected` (see `crobook.analysis.projection`) may run past `horizon`: the slider reaches those years."""
    order = list(dict.fromkeys(projected["scenario"]))
    start = projected.loc[projected["year"].idxmin()]
    first_year, last_year = int(projected["year"].min()), int(projected["year"].max())
    rates = projected.groupby("scenario", sort=False)["rate_pct"].first()
    params = [
        alt.param(
            name=f"rate_{name}",
            value=round(float(rate), 2),
            bind=alt.binding_range(min=0, max=25, step=0.1, name=f"{name.capitalize()} growth, % a year "),
        )
        for name, rate in rates.items()
    ]
    params.append(
        alt.param(
            name="horizon",
            value=horizon,
            bind=alt.binding_range(min=first_year + 1, max=last_year, step=1, name="Horizon year "),
        )
    )
    rate_of = " : ".join(f"datum.scenario === '{name}' ? rate_{name}" for name in rates.index) + " : 0"
    what_if = (
        alt.Chart(projected)
        .transform_calculate(rate_pct=rate_of)
        .transform_calculate(
            value=f"{float(start['value'])} * pow(1 + datum.rate_pct / 100, datum.year - {first_year})"
        )
        .transform_filter("datum.year <= horizon")
    )
    lines = what_if.mark_line(strokeWidth=2.5).encode(
        x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(zero=False)),
        y=alt.Y("value:Q", title=y_title),
        color=alt.Color("scenario:N", title="Scenario", sort=order),
        strokeDash=alt.StrokeDash("scenario:N", sort=order, legend=None),
        tooltip=[
            alt.Tooltip("scenario:N", title="Scenario"),
            alt.Tooltip("year:Q", title="Year", format="d"),
            alt.Tooltip("rate_pct:Q", title="Growth, % a year", format=".1f"),
            alt.Tooltip("value:Q", title=y_title, format=",.1f"),
        ],
    )
    points = (
        alt.Chart(_chart_frame(observed))
        .mark_point(filled=True, size=60, color="#555555", opacity=0.8)
        .encode(x="year:Q", y="value:Q", tooltip=_tooltip())
    )
    # Names at the line ends, so the scenarios read without colour or a legend.
    labels = (
        what_if.transform_filter("datum.year === horizon")
        .mark_text(align="left", dx=5, fontSize=11)
        .encode(x="year:Q", y="value:Q", text="scenario:N", color=alt.Color("scenario:N", sort=order, legend=None))
    )
    return alt.layer(points, lines, labels, title=title, description=description).add_params(*params)


def bars_chart(
    frame: pd.DataFrame,
    x: str,
    x_title: str,
    colour: str,
    colour_title: str,
    column: str | None,
    title: str,
    y_title: str,
    description: str,
) -> alt.Chart:
    """Grouped bars of a share: `x` within each `column` facet, coloured by `colour`."""
    frame = _chart_frame(frame)
    order = list(dict.fromkeys(frame[x]))
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(f"{x}:N", title=x_title, sort=order, axis=alt.Axis(labelAngle=0, labelLimit=160)),
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(domain=[0, 100])),
            color=alt.Color(f"{colour}:N", title=colour_title, sort=list(dict.fromkeys(frame[colour]))),
            tooltip=_tooltip(),
        )
        .properties(width=WIDTH // 2 - 40 if column else WIDTH)
    )
    text = chart.mark_text(dy=-7, fontSize=11).encode(text=alt.Text("value:Q", format=".0f"), color=alt.value("#222"))
    if not column:
        return alt.layer(chart, text, title=_titled(title, frame), description=description)
    return alt.layer(chart, text).facet(
        column=alt.Column(f"{column}:N", title=None, sort=list(dict.fromkeys(frame[column]))),
        title=_titled(title, frame),
        description=description,
    )


def with_reference(chart: alt.TopLevelMixin, value: float, label: str) -> alt.LayerChart:
    """Add a dashed horizontal line at `value` (such as the article's cited figure), labelled at its left end."""
    frame = pd.DataFrame({"value": [value], "reference": [label]})
    rule = (
        alt.Chart(frame)
        .mark_rule(strokeDash=[6, 4], color="#333333", strokeWidth=1.5)
        .encode(
            y="value:Q", tooltip=[alt.Tooltip("reference:N", title="Reference"), alt.Tooltip("value:Q", title="Value")]
        )
    )
    text = (
        alt.Chart(frame)
        .mark_text(align="left", baseline="bottom", dx=4, dy=-3, color="#333333", fontSize=11)
        .encode(y="value:Q", x=alt.value(0), text="reference:N")
    )
    inner = chart.copy()
    title, description = inner.title, inner.description
    inner.title, inner.description = alt.Undefined, alt.Undefined
    return alt.layer(inner, rule, text, title=title, description=description)


def lines_chart(
    rows: pd.DataFrame, title: str, y_title: str, description: str, colour: str = "label", colour_title: str = "Series"
) -> alt.Chart:
    """One line with points per series (or per `colour` value) over the years, e.g. one per estimator."""
    frame = _chart_frame(rows)
    order = list(dict.fromkeys(frame[colour]))
    base = alt.Chart(frame).encode(
        x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(zero=False)),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=True)),
        # Colour only (Okabe–Ito): a shape channel beside it draws a second legend in layered charts.
        color=alt.Color(f"{colour}:N", title=colour_title, scale=alt.Scale(domain=order)),
        tooltip=_tooltip(),
    )
    lines = base.mark_line(strokeWidth=2, opacity=0.8)
    points = base.mark_point(filled=True, size=60)
    return alt.layer(lines, points, *bound_marks(frame, "year:Q"), title=_titled(title, frame), description=description)


def yearly_bars_chart(
    rows: pd.DataFrame,
    title: str,
    y_title: str,
    description: str,
    colour: str = "publisher",
    colour_title: str = "Source",
) -> alt.Chart:
    """Bars by year, coloured by `colour` (by default the source): a change of source shows, and two sources
    for one year stand side by side."""
    frame = _chart_frame(rows)
    return (
        alt.Chart(frame, title=_titled(title, frame), description=description)
        .mark_bar()
        .encode(
            x=alt.X("year:O", title="Year", axis=alt.Axis(labelAngle=-45)),
            xOffset=alt.XOffset(f"{colour}:N", sort=list(dict.fromkeys(frame[colour]))),
            y=alt.Y("value:Q", title=y_title),
            color=alt.Color(f"{colour}:N", title=colour_title, sort=list(dict.fromkeys(frame[colour]))),
            tooltip=_tooltip(),
        )
        .properties(width=WIDTH)
    )


def size_line_chart(table: pd.DataFrame, band: tuple[float, float], title: str, description: str) -> alt.LayerChart:
    """The share of approvals outside the top N for each size line N, one line per way of counting, over the
    band of values that count as the article's figure. `table` has n, counted_by, share (NaN where no ranking
    lists N companies) and the source columns."""
    frame = table.assign(line=table["n"].map(lambda n: f"top {n}"), value=table["share"])
    order = list(dict.fromkeys(frame["line"]))
    x = alt.X("line:N", title="Size line: companies counted as large", sort=order, axis=alt.Axis(labelAngle=0))
    shade = (
        alt.Chart(pd.DataFrame({"low": [band[0]], "high": [band[1]], "what": ["the article's figure, as read"]}))
        .mark_rect(color="#999999", opacity=0.2)
        .encode(y="low:Q", y2="high:Q", tooltip=[alt.Tooltip("what:N", title="Band")])
    )
    drawn = frame.dropna(subset=["value"])
    base = alt.Chart(drawn).encode(
        x=x,
        y=alt.Y("value:Q", title="Approvals outside the line (%)", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("counted_by:N", title="Counted by", sort=list(dict.fromkeys(frame["counted_by"]))),
        tooltip=[
            alt.Tooltip("line:N", title="Size line"),
            alt.Tooltip("counted_by:N", title="Counted by"),
            alt.Tooltip("outside:Q", title="Outside the line", format=".0f"),
            alt.Tooltip("total:Q", title="Approvals", format=".0f"),
            alt.Tooltip("value:Q", title="Share (%)", format=".0f"),
        ],
    )
    layers = [shade, base.mark_line(strokeWidth=2), base.mark_point(filled=True, size=70)]
    missing = frame[frame["value"].isna()].drop_duplicates("line")
    if len(missing):
        note = missing.assign(text="no ranking lists this many", value=50.0)
        layers.append(
            alt.Chart(note)
            .mark_text(angle=270, fontSize=11, color="#555555")
            .encode(x=alt.X("line:N", sort=order), y="value:Q", text="text:N")
        )
    return alt.layer(*layers, title=title, description=description).properties(width=WIDTH)


# Directness of a figure to a claim, and the source's grade: the two encodings of every evidence chart.
DIRECTNESS_COLOURS = {"direct": "#0072B2", "indirect": "#E69F00", "proxy": "#CC79A7", "context": "#999999"}
GRADE_SHAPES = {"official": "square", "reported": "circle", "secondary": "diamond"}


def _evidence_encodings() -> tuple[alt.Color, alt.Shape]:
    """Colour by how directly a figure bears on the claim, shape by the grade of its source."""
    colour = alt.Color(
        "directness:N",
        title="Bears on the claim",
        scale=alt.Scale(domain=list(DIRECTNESS_COLOURS), range=list(DIRECTNESS_COLOURS.values())),
    )
    shape = alt.Shape(
        "grade:N",
        title="Grade of the source",
        scale=alt.Scale(domain=list(GRADE_SHAPES), range=list(GRADE_SHAPES.values())),
    )
    return colour, shape


def _evidence_tooltip() -> list:
    return [
        alt.Tooltip("row_label:N", title="Figure"),
        alt.Tooltip("shown:N", title="Value"),
        alt.Tooltip("label:N", title="Series"),
        alt.Tooltip("measure_text:N", title="Measure"),
        alt.Tooltip("term:N", title="Who is counted"),
        alt.Tooltip("directness:N", title="Bears on the claim"),
        alt.Tooltip("counted:N", title="Counted"),
        alt.Tooltip("publisher:N", title="Publisher"),
        alt.Tooltip("title:N", title="Title"),
        alt.Tooltip("grade:N", title="Grade"),
        alt.Tooltip("check:N", title="Checked against a public page"),
        alt.Tooltip("link_note:N", title="Note"),
    ]


def _evidence_frame(figures: pd.DataFrame, terms: dict[str, str], unit: str) -> pd.DataFrame:
    """One row per figure of a part in the part's unit, labelled with who, what and when."""
    frame = figures[figures["unit"] == unit].copy() if unit else figures.copy()
    frame["term"] = frame["definition_id"].map(terms).fillna("")
    frame["measure_text"] = frame["measure"].str.replace("_", " ")
    frame["row_label"] = [
        f"{r.publisher}, {r.period.lstrip('~')}, {r.term}"
        + (f" ({r.measure_text})" if r.directness in ("proxy", "context") else "")
        for r in frame.itertuples()
    ]
    frame["counted"] = frame["decides"].map({True: "yes, it decides", False: "no"})
    frame.loc[frame["directness"] == "context", "counted"] = "no: context only"
    return frame


def _part_scale(frame: pd.DataFrame, part: pd.Series) -> tuple[float, float]:
    values = [*frame["value"], *frame["value_high"].dropna()]
    values += [
        v for v in (part["cited_value"], part["band_low"], part["band_high"]) if pd.notna(v) and abs(v) != float("inf")
    ]
    low, high = min(values), max(values)
    pad = (high - low) * 0.12 or abs(high) * 0.1 or 1.0
    return low - pad, high + pad


TOLERANCE_UNITS = {"percent": "percentage points", "factor": "times", "usd_bn": "USD bn", "usd_m": "USD m"}


def _tolerance_slider(part: pd.Series, steps: pd.DataFrame, low: float, high: float) -> tuple[alt.Parameter, list]:
    """A slider for the part's tolerance: the band widens or narrows with it, and a line says what the part's
    and the claim's verdicts would be at that tolerance (`crobook.claims.tolerance_steps`, computed here by the
    book's own rules). The published verdicts keep the tolerance in the data; the printed chart shows it."""
    name = f"tolerance_{part['claim_id']}_{part['part']}"
    published, step = float(steps["published"].iloc[0]), float(steps["step"].iloc[0])
    unit = TOLERANCE_UNITS.get(part["unit"], part["unit"] or "")
    slider = alt.param(
        name=name,
        value=published,
        bind=alt.binding_range(
            min=0, max=float(steps["tolerance"].max()), step=step, name=f"Tolerance of part {part['part']}, {unit} "
        ),
    )
    # Edges at zero tolerance; an open side starts far enough out that no tolerance brings it into view.
    far = (high - low) + float(steps["tolerance"].max())
    band = pd.DataFrame(
        {
            "base_low": [part["band_low"] + published if part["band_low"] != float("-inf") else low - far],
            "base_high": [part["band_high"] - published if part["band_high"] != float("inf") else high + far],
            "band": [f"the article's figure with the tolerance the slider sets (published: {number(published)})"],
        }
    )
    moving = (
        alt.Chart(band)
        .transform_calculate(start=f"max(datum.base_low - {name}, {low})", end=f"min(datum.base_high + {name}, {high})")
        .mark_rect(color="#bbbbbb", opacity=0.25)
        .encode(
            x=alt.X("start:Q", scale=alt.Scale(domain=[low, high])),
            x2="end:Q",
            tooltip=[alt.Tooltip("band:N", title="Band")],
        )
    )
    said = (
        alt.Chart(steps)
        .transform_filter(f"abs(datum.tolerance - {name}) < datum.step / 2")
        .transform_calculate(
            text=f"'At ± ' + format(datum.tolerance, ',.4~f') + ' {unit}: part ' + datum.status + ', claim '"
            " + datum.claim_status + (abs(datum.tolerance - datum.published) < datum.step / 2"
            " ? ' (the published tolerance)' : '')"
        )
        .mark_text(align="left", baseline="bottom", fontSize=11, color="#333333")
        .encode(x=alt.value(0), y=alt.value(-6), text="text:N")
    )
    return slider, [moving, said]


def _forest(frame: pd.DataFrame, part: pd.Series, title: str, steps: pd.DataFrame | None = None) -> alt.LayerChart:
    """A forest plot: one row per figure, bounds as arrows, the article's figure as a dashed line in its band
    (with `steps`, a band the reader's slider moves)."""
    low, high = _part_scale(frame, part)
    reach = (high - low) * 0.12
    frame = frame.assign(
        end=[
            r.value + reach if r.bound == "more than" else r.value - reach if r.bound == "less than" else r.value_high
            for r in frame.itertuples()
        ],
        arrow=frame["bound"].map({"more than": "triangle-right", "less than": "triangle-left"}),
        opacity=frame["decides"].map({True: 1.0, False: 0.45}),
    )
    order = list(dict.fromkeys(frame["row_label"]))
    x = alt.X(
        "value:Q",
        title=_axis_title(frame),
        scale=alt.Scale(domain=[low, high], nice=False, zero=False),
    )
    y = alt.Y("row_label:N", title=None, sort=order, axis=alt.Axis(labelLimit=380))
    colour, shape = _evidence_encodings()
    layers, params = [], []
    if steps is not None and len(steps) and pd.notna(part["band_low"]):
        slider, marks = _tolerance_slider(part, steps, low, high)
        params.append(slider)
        layers += marks
    elif pd.notna(part["band_low"]):
        band = pd.DataFrame(
            {
                "from": [max(part["band_low"], low)],
                "to": [min(part["band_high"], high)],
                "band": [f"the article's figure, read as {part['target']}"],
            }
        )
        layers.append(
            alt.Chart(band)
            .mark_rect(color="#bbbbbb", opacity=0.25)
            .encode(
                x=alt.X("from:Q", scale=alt.Scale(domain=[low, high])),
                x2="to:Q",
                tooltip=[alt.Tooltip("band:N", title="Band")],
            )
        )
    if pd.notna(part["band_low"]):
        cited = pd.DataFrame({"value": [part["cited_value"]], "text": [f"Article: {part['cited']}"]})
        layers.append(alt.Chart(cited).mark_rule(strokeDash=[6, 4], color="#333333").encode(x="value:Q"))
        layers.append(
            alt.Chart(cited)
            .mark_text(align="left", baseline="top", dx=3, y=2, fontSize=11, color="#333333")
            .encode(x="value:Q", text="text:N")
        )
    base = alt.Chart(frame).encode(y=y, color=colour, tooltip=_evidence_tooltip())
    ranged = frame["end"].notna()
    if ranged.any():
        layers.append(
            alt.Chart(frame[ranged])
            .mark_rule(strokeWidth=2)
            .encode(x=x, x2="end:Q", y=y, color=colour, opacity=alt.Opacity("opacity:Q", legend=None, scale=None))
        )
    for arrow in ("triangle-right", "triangle-left"):
        heads = frame[frame["arrow"] == arrow]
        if len(heads):
            layers.append(
                alt.Chart(heads)
                .mark_point(filled=True, size=70, shape=arrow)
                .encode(x=alt.X("end:Q"), y=y, color=colour, opacity=alt.Opacity("opacity:Q", legend=None, scale=None))
            )
    layers.append(
        base.mark_point(filled=True, size=90).encode(
            x=x, shape=shape, opacity=alt.Opacity("opacity:Q", legend=None, scale=None)
        )
    )
    chart = alt.layer(*layers, title=alt.TitleParams(title, offset=22 if params else 10))
    return chart.add_params(*params).properties(width=WIDTH, height=max(40, 22 * len(order)))


def _trends(frame: pd.DataFrame, part: pd.Series, title: str) -> alt.LayerChart:
    """Direction parts: each estimator's own line over the years, the claim's year marked."""
    frame = frame.assign(
        estimator=frame["publisher"] + " (" + frame["label"] + ", " + frame["source_id"] + ")",
        year=frame["period"].map(lambda p: float(p.lstrip("~")[:4]) if p[:1].isdigit() or p[:1] == "~" else None),
        opacity=frame["decides"].map({True: 1.0, False: 0.45}),
    )
    colour, shape = _evidence_encodings()
    base = alt.Chart(frame).encode(
        x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(zero=False)),
        y=alt.Y("value:Q", title=_axis_title(frame), scale=alt.Scale(zero=True)),
        color=colour,
        detail="estimator:N",
        tooltip=[
            alt.Tooltip("estimator:N", title="Estimator"),
            alt.Tooltip("period:N", title="Period"),
            *_evidence_tooltip(),
        ],
    )
    year = pd.DataFrame({"year": [float(part["cited_period"][:4])], "text": [f"Article: {part['cited_period'][:4]}"]})
    rule = alt.Chart(year).mark_rule(strokeDash=[6, 4], color="#333333").encode(x="year:Q")
    label = (
        alt.Chart(year)
        .mark_text(align="left", baseline="top", dx=3, y=2, fontSize=11)
        .encode(x="year:Q", text="text:N")
    )
    lines = base.mark_line(strokeWidth=1.5, opacity=0.7)
    bounds = bound_marks(frame, "year:Q")
    points = base.mark_point(filled=True, size=60).encode(
        shape=shape, opacity=alt.Opacity("opacity:Q", legend=None, scale=None)
    )
    return alt.layer(rule, label, lines, points, *bounds, title=title).properties(width=WIDTH, height=HEIGHT - 60)


def _axis_title(frame: pd.DataFrame) -> str:
    """The unit, then every measure on the axis, so that two measures never pass for one."""
    unit = UNITS_LABEL.get(frame["unit"].iloc[0], "") if len(frame) else ""
    return f"{unit}: " + ", ".join(dict.fromkeys(frame["measure_text"])) if len(frame) else unit


UNITS_LABEL = {
    "percent": "%",
    "usd_bn": "USD bn",
    "count": "count",
    "points": "points",
    "percent_change": "% change",
    "factor": "growth factor, ×",
}


def claim_chart(
    claim: pd.Series,
    parts: pd.DataFrame,
    figures: pd.DataFrame,
    terms: dict[str, str],
    steps: pd.DataFrame | None = None,
):
    """The evidence chart of a claim: for each part, every figure that bears on it, by directness and grade;
    with `steps` (`crobook.claims.tolerance_steps`), a tolerance slider on each part that compares values."""
    panels, described = [], []
    for part in parts.itertuples():
        part = pd.Series(part._asdict())
        rows = figures[figures["part"] == part["part"]]
        title = f"({part['part']}) {part['statement'].rstrip('.')}: {part['status']}"
        if rows.empty and pd.isna(part["band_low"]):
            continue
        if part["test"] in ("peak", "falls_after", "rises"):
            frame = _evidence_frame(rows, terms, rows["unit"].mode().iloc[0])
            panels.append(_trends(frame, part, title))
        else:
            frame = _evidence_frame(rows, terms, part["unit"] or (rows["unit"].mode().iloc[0] if len(rows) else ""))
            if frame.empty and pd.isna(part["band_low"]):
                continue
            moves = steps[steps["part"] == part["part"]] if steps is not None else None
            panels.append(_forest(frame, part, title, moves))
        described.append(
            f"part {part['part']}, {part['status']}: "
            + ("; ".join(f"{r.row_label} {r.shown} ({r.directness})" for r in frame.itertuples()) or "no figure")
        )
    heading = alt.TitleParams(
        f"{claim['claim_id']}: {claim['statement']}",
        subtitle=[f"Verdict: {claim['status']}" + (f", {claim['certainty']} certainty" if claim["certainty"] else "")],
    )
    description = f"Evidence chart for claim {claim['claim_id']}: " + " | ".join(described or ["no figure bears on it"])
    if not panels:
        empty = pd.DataFrame({"text": ["No figure bears on this claim."]})
        return (
            alt.Chart(empty, title=heading, description=description)
            .mark_text(fontSize=13)
            .encode(text="text:N")
            .properties(width=WIDTH, height=40)
        )
    return alt.vconcat(*panels, title=heading, description=description).resolve_scale(x="independent", y="independent")


def company_revenue_chart(
    rows: pd.DataFrame, title: str = "Revenue of the largest CROs, as each company reports it"
) -> alt.LayerChart:
    """One line with points per company-revenue series (`crobook.cro.revenue_rows`): colour by company, dash by
    what the revenue covers (the CRO, a CRO segment, the whole company), point shape by accounting basis. Lines
    are never summed or joined across series; a labelled rule marks ASC 606 (1 January 2018), from which
    reimbursed expenses count as revenue."""
    from crobook import cro

    missing = {"company", "basis", "scope", "accounting"} - set(rows.columns)
    if missing:
        raise ValueError(f"rows lack {sorted(missing)}; pass them through crobook.cro.revenue_rows first")
    frame = _chart_frame(rows, by="company")
    # Whole-company lines are named at their last figure, so that a lone point (one year) reads as one too.
    last = frame.sort_values("year").groupby("series_id").tail(1).index
    frame["end_label"] = ""
    frame.loc[last[frame.loc[last, "scope"] == cro.WHOLE], "end_label"] = "whole company"
    companies = list(dict.fromkeys(frame["company"]))
    scopes = [s for s in cro.SCOPES if s in set(frame["scope"])]
    accounting = [a for a in cro.ACCOUNTING if a in set(frame["accounting"])]
    dashes = dict(zip(cro.SCOPES, ([1, 0], [7, 3], [2, 2]), strict=True))
    shapes = dict(zip(cro.ACCOUNTING, ("circle", "square"), strict=True))
    # Half a year of room either side, so that the first and last figures do not sit on the frame.
    years = [float(frame["year"].min()) - 0.5, float(frame["year"].max()) + 0.5]
    x = alt.X(
        "year:Q", title="Year", axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(domain=years, nice=False)
    )
    y = alt.Y("value:Q", title="Revenue (USD m)", scale=alt.Scale(zero=True))
    colour = alt.Color(
        "company:N",
        title="Company",
        scale=alt.Scale(domain=companies),
        legend=alt.Legend(orient="right", columns=1),
    )
    tooltip = [
        alt.Tooltip("company:N", title="Company"),
        alt.Tooltip("basis:N", title="Revenue line"),
        alt.Tooltip("scope:N", title="What it covers"),
        alt.Tooltip("accounting:N", title="Accounting basis"),
        alt.Tooltip("year:Q", title="Year", format="d"),
        alt.Tooltip("value:Q", title="Revenue (USD m)", format=",.1f"),
        alt.Tooltip("publisher:N", title="Publisher"),
        alt.Tooltip("via:N", title="Read via"),
        alt.Tooltip("title:N", title="Title"),
        alt.Tooltip("published:N", title="Published"),
        alt.Tooltip("grade:N", title="Grade"),
        alt.Tooltip("check:N", title="Checked against a public page"),
        alt.Tooltip("note:N", title="Note"),
    ]
    # `detail` keeps every series its own line: two series of one company (before and after ASC 606, first
    # reported and restated) share colour and dash but are never joined.
    lines = (
        alt.Chart(frame)
        .mark_line(strokeWidth=2, opacity=0.8)
        .encode(
            x=x,
            y=y,
            color=colour,
            strokeDash=alt.StrokeDash(
                "scope:N",
                title="What the revenue covers",
                scale=alt.Scale(domain=scopes, range=[dashes[s] for s in scopes]),
                legend=alt.Legend(orient="right", columns=1, symbolStrokeWidth=2),
            ),
            detail="series_id:N",
            tooltip=tooltip,
        )
    )
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=60)
        .encode(
            x=x,
            y=y,
            color=colour,
            shape=alt.Shape(
                "accounting:N",
                title="Accounting basis",
                scale=alt.Scale(domain=accounting, range=[shapes[a] for a in accounting]),
                legend=alt.Legend(orient="right", columns=1),
            ),
            detail="series_id:N",
            tooltip=tooltip,
        )
    )
    # Annual figures sit on their year; the standard took effect between the 2017 and 2018 figures.
    change = pd.DataFrame(
        {"year": [cro.ASC606_YEAR - 0.5], "text": ["ASC 606 from 1 Jan 2018: reimbursed expenses count as revenue"]}
    )
    rule = (
        alt.Chart(change)
        .mark_rule(strokeDash=[6, 4], color="#333333")
        .encode(x=x, tooltip=[alt.Tooltip("text:N", title="Accounting change")])
    )
    label = (
        alt.Chart(change)
        .mark_text(align="left", baseline="top", dx=3, y=2, fontSize=11, color="#333333")
        .encode(x=x, text="text:N")
    )
    named = (
        alt.Chart(frame)
        .transform_filter("datum.end_label != ''")
        .mark_text(align="left", baseline="middle", dx=7, fontSize=10)
        .encode(
            x=x, y=y, text="end_label:N", color=alt.Color("company:N", scale=alt.Scale(domain=companies), legend=None)
        )
    )
    described = "; ".join(
        f"{r.company}, {r.basis} ({r.scope}; {r.accounting}): "
        + ", ".join(f"{int(y)} {v:,.1f}" for y, v in zip(group["year"], group["value"], strict=True))
        for r, group in ((g.iloc[0], g) for _, g in frame.groupby("series_id", sort=False))
    )
    description = (
        f"Lines of yearly revenue in millions of US dollars, one per company and basis ({frame['series_id'].nunique()}"
        f" series, {len(frame)} figures from {len(companies)} companies), never added together; a dashed vertical "
        f"rule marks ASC 606 from 1 January 2018. {described}."
    )
    if frame.attrs["series_left_out"]:
        description += f" {frame.attrs['series_left_out']:,} more series are not drawn; the book's data hold them."
    return alt.layer(
        rule, label, lines, points, named, title=_titled(title, frame), description=description
    ).properties(width=WIDTH, height=HEIGHT)
