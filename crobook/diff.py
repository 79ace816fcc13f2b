"""What changed between two editions: values, rows added and removed, parameters, claim statuses.

Each edition keeps a copy of its data (`<edition>/data/`), its parameters and its ledger in its manifest, so
any two editions can be compared without their source trees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crobook.schema import TABLES

KEY = ["series_id", "period", "source_id"]


@dataclass
class Changes:
    values: pd.DataFrame  # series_id, period, source_id, old, new
    added: pd.DataFrame  # observations only in the newer edition
    removed: pd.DataFrame  # observations only in the older edition
    tables: list[str] = field(default_factory=list)  # other data files whose content changed
    parameters: list[dict] = field(default_factory=list)  # chapter, name, old, new
    claims: list[dict] = field(default_factory=list)  # claim_id, old, new

    @property
    def empty(self) -> bool:
        return (
            self.values.empty
            and self.added.empty
            and self.removed.empty
            and not (self.tables or self.parameters or self.claims)
        )


def _observations(data_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(data_dir / TABLES["observations"].file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame = frame.apply(lambda col: col.str.strip())
    frame["value"] = frame["value"].astype(float)
    return frame[KEY + ["value"]]


def _flatten(params: dict) -> dict[tuple[str, str], object]:
    return {(chapter, name): value for chapter, values in params.items() for name, value in values.items()}


def compare(old: dict, new: dict) -> Changes:
    """Compare two edition manifests (as read from `manifest.json`, with `data_dir` added)."""
    before, after = _observations(Path(old["data_dir"])), _observations(Path(new["data_dir"]))
    merged = before.merge(after, on=KEY, how="outer", suffixes=("_old", "_new"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    changed = both[both["value_old"] != both["value_new"]]
    values = changed[KEY + ["value_old", "value_new"]].rename(columns={"value_old": "old", "value_new": "new"})
    added = merged[merged["_merge"] == "right_only"][KEY + ["value_new"]].rename(columns={"value_new": "value"})
    removed = merged[merged["_merge"] == "left_only"][KEY + ["value_old"]].rename(columns={"value_old": "value"})
    observations = TABLES["observations"].file
    tables = sorted(n for n, digest in new["data"].items() if n != observations and old["data"].get(n) != digest)
    tables += sorted(name for name in old["data"] if name not in new["data"])
    p_old, p_new = _flatten(old["parameters"]), _flatten(new["parameters"])
    parameters = [
        {"chapter": c, "name": n, "old": p_old.get((c, n)), "new": p_new.get((c, n))}
        for c, n in sorted(set(p_old) | set(p_new))
        if p_old.get((c, n)) != p_new.get((c, n))
    ]
    claims = [
        {"claim_id": c, "old": old["claims"].get(c), "new": new["claims"].get(c)}
        for c in sorted(set(old["claims"]) | set(new["claims"]))
        if old["claims"].get(c) != new["claims"].get(c)
    ]
    return Changes(
        values.reset_index(drop=True),
        added.reset_index(drop=True),
        removed.reset_index(drop=True),
        tables,
        parameters,
        claims,
    )


def read_manifest(edition_dir: Path) -> dict:
    manifest = json.loads((edition_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["data_dir"] = str(edition_dir / "data")
    return manifest


def report(changes: Changes, old_name: str, new_name: str) -> str:
    """The changes as plain text, for the terminal."""
    if changes.empty:
        return f"No change from edition {old_name} to edition {new_name}."
    lines = [f"Changes from edition {old_name} to edition {new_name}:"]
    for r in changes.values.itertuples():
        lines.append(f"  value changed: {r.series_id} {r.period} ({r.source_id}): {r.old:g} -> {r.new:g}")
    for r in changes.added.itertuples():
        lines.append(f"  row added: {r.series_id} {r.period} ({r.source_id}): {r.value:g}")
    for r in changes.removed.itertuples():
        lines.append(f"  row removed: {r.series_id} {r.period} ({r.source_id}): {r.value:g}")
    for name in changes.tables:
        lines.append(f"  data file changed: {name}")
    for p in changes.parameters:
        lines.append(f"  parameter changed: {p['chapter']}.{p['name']}: {p['old']!r} -> {p['new']!r}")
    for c in changes.claims:
        lines.append(f"  claim {c['claim_id']}: {c['old'] or 'absent'} -> {c['new'] or 'absent'}")
    return "\n".join(lines)
