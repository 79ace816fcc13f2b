"""Make a synthetic data folder FACTOR times the size of data/, to see how the book builds at scale.

    python bench/scale.py FACTOR OUT_DIR

OUT_DIR gets a copy of data/ whose observations are FACTOR times as many, all valid. Copy k (1 to FACTOR - 1) of
every observation belongs to a new series (a copy of its series, id `<series>_x<k>`, same claim, measure and
definition, so it shows wherever a real extra series of that claim or measure would) and cites a new source (a
copy of its source, id `<source>-x<k>`, its publisher named as a copy, same grade). Existing series get no extra
figure: the chapters read one figure per series and period, as the data hold today. Values move by up to 2%
(shares stay between 0 and 100). The claims tables are not touched, so verdicts stay comparable. Deterministic:
the same FACTOR gives the same files.
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
SEED = 12
WOBBLE = 0.02  # largest relative change of a copied value


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def _moved(text: str, factor: float, share: bool) -> str:
    """`text` (a plain number) times `factor`, with as many decimals as it had; a share stays within 0-100."""
    if not text:
        return text
    decimals = len(text.split(".")[1]) if "." in text else 0
    value = float(text) * factor
    if share and not 0 <= value <= 100:
        return text
    return f"{value:.{decimals}f}"


def make(factor: int, out_dir: Path) -> int:
    """Write the scaled data folder to `out_dir` (replacing it); returns the number of observations."""
    if factor < 1:
        raise ValueError(f"factor must be 1 or more, got {factor}")
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    shutil.copytree(DATA_DIR, out_dir)
    observations = _read(DATA_DIR / "observations.csv")
    series = _read(DATA_DIR / "series.csv")
    sources = _read(DATA_DIR / "sources.csv").set_index("source_id", drop=False)
    share = series.set_index("series_id")["unit"].eq("percent")
    used_sources = sources.loc[list(dict.fromkeys(observations["source_id"]))]
    copied_series = series[series["series_id"].isin(observations["series_id"])]

    random_numbers = random.Random(SEED)
    new_observations, new_series, new_sources = [observations], [series], [sources]
    for k in range(1, factor):
        copy = observations.copy()
        copy["source_id"] = copy["source_id"] + f"-x{k}"
        copy["series_id"] = copy["series_id"] + f"_x{k}"
        extra_series = copied_series.copy()
        extra_series["label"] = extra_series["label"] + f" (copy {k})"
        extra_series["series_id"] = extra_series["series_id"] + f"_x{k}"
        new_series.append(extra_series)
        moves = [1 + random_numbers.uniform(-WOBBLE, WOBBLE) for _ in range(len(copy))]
        is_share = observations["series_id"].map(share).tolist()
        for column in ("value", "value_high"):
            copy[column] = [_moved(v, m, s) for v, m, s in zip(observations[column], moves, is_share, strict=True)]
        # A range keeps its low end below its high end when both move by the same factor, unless one was kept.
        flipped = (copy["value_high"] != "") & (
            pd.to_numeric(copy["value"]) > pd.to_numeric(copy["value_high"].replace("", None))
        )
        copy.loc[flipped, ["value", "value_high"]] = observations.loc[flipped, ["value", "value_high"]].to_numpy()
        new_observations.append(copy)
        extra_sources = used_sources.copy()
        extra_sources["source_id"] = extra_sources["source_id"] + f"-x{k}"
        extra_sources["publisher"] = extra_sources["publisher"] + f" (copy {k})"
        extra_sources["title"] = extra_sources["title"] + f" (copy {k})"
        new_sources.append(extra_sources)

    all_observations = pd.concat(new_observations, ignore_index=True)
    _write(all_observations, out_dir / "observations.csv")
    _write(pd.concat(new_series, ignore_index=True), out_dir / "series.csv")
    _write(pd.concat(new_sources, ignore_index=True), out_dir / "sources.csv")
    return len(all_observations)


def main(argv: list[str]) -> None:
    if len(argv) != 2 or not argv[0].isdigit():
        sys.exit("usage: python bench/scale.py FACTOR OUT_DIR")
    count = make(int(argv[0]), Path(argv[1]))
    print(f"{argv[1]}: {count} observations")


if __name__ == "__main__":
    main(sys.argv[1:])
