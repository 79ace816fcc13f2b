"""What changed between two editions: figures, every other row field by field, parameters, and verdicts with what
moved them.

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
    claims: list[dict] = field(default_factory=list)  # claim_id, old, new, old_certainty, new_certainty, moved_by
    rows: list[dict] = field(default_factory=list)  # file, key, change (added, removed, edited), field, old, new

    @property
    def empty(self) -> bool:
        return (
            self.values.empty
            and self.added.empty
            and self.removed.empty
            and not (self.tables or self.parameters or self.claims or self.rows)
        )


def _text(path: Path) -> pd.DataFrame:
    """A data file as the edition kept it: every cell text, stripped."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return frame.apply(lambda col: col.str.strip())


def _observations(data_dir: Path) -> pd.DataFrame:
    frame = _text(data_dir / TABLES["observations"].file)
    frame["value"] = frame["value"].astype(float)
    return frame[KEY + ["value"]]


RULES = ("claims", "claim_parts", "claim_evidence")  # the tables that say how claims are tested


def _table(data_dir: Path, key: str) -> pd.DataFrame | None:
    path = data_dir / TABLES[key].file
    if not path.is_file():
        return None
    return _text(path).set_index(list(TABLES[key].key))


def row_changes(old_dir: Path, new_dir: Path) -> list[dict]:
    """Rows added, removed or edited (field by field) in every table but the observations, by the table's key."""
    found = []
    for key, table in TABLES.items():
        if key == "observations":
            continue
        before, after = _table(old_dir, key), _table(new_dir, key)
        if before is None or after is None:
            continue
        name = lambda index: " ".join(index) if isinstance(index, tuple) else str(index)  # noqa: E731
        gained, lost = after.index.difference(before.index), before.index.difference(after.index)
        for change, keys in (("added", gained), ("removed", lost)):
            found += [
                {"file": table.file, "key": name(k), "change": change, "field": "", "old": "", "new": ""} for k in keys
            ]
        common = before.index.intersection(after.index)
        columns = [c for c in after.columns if c in before.columns]
        old_rows = before.loc[~before.index.duplicated()].loc[common, columns]
        new_rows = after.loc[~after.index.duplicated()].loc[common, columns]
        for index, column in zip(*(old_rows != new_rows).to_numpy().nonzero(), strict=True):
            found.append(
                {
                    "file": table.file,
                    "key": name(common[index]),
                    "change": "edited",
                    "field": columns[column],
                    "old": old_rows.iat[index, column],
                    "new": new_rows.iat[index, column],
                }
            )
    return found


def _moved_by(tables: list[str], rows: list[dict], values: bool, parameters: list[dict]) -> str:
    """What can have moved a verdict between two editions: the data, the claims' rules, the parameters."""
    rule_files = {TABLES[k].file for k in RULES}
    changed = set(tables) | {r["file"] for r in rows}
    kinds = []
    if values or changed - rule_files:
        kinds.append("the data")
    if changed & rule_files:
        kinds.append("the rules (" + ", ".join(sorted(changed & rule_files)) + ")")
    if parameters:
        kinds.append("the parameters (" + ", ".join(f"{p['chapter']}.{p['name']}" for p in parameters) + ")")
    return " and ".join(kinds) or "the code"


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
    rows = row_changes(Path(old["data_dir"]), Path(new["data_dir"]))
    edited_files = {r["file"] for r in rows}
    tables = [t for t in tables if t not in edited_files]  # only files whose change no row shows
    moved_by = _moved_by(tables, rows, not (values.empty and added.empty and removed.empty), parameters)
    certainty_old, certainty_new = old.get("certainty", {}), new.get("certainty", {})
    claims = [
        {
            "claim_id": c,
            "old": old["claims"].get(c),
            "new": new["claims"].get(c),
            "old_certainty": certainty_old.get(c),
            "new_certainty": certainty_new.get(c),
            "moved_by": moved_by,
        }
        for c in sorted(set(old["claims"]) | set(new["claims"]))
        if old["claims"].get(c) != new["claims"].get(c) or (certainty_old.get(c) or "") != (certainty_new.get(c) or "")
    ]
    return Changes(
        values.reset_index(drop=True),
        added.reset_index(drop=True),
        removed.reset_index(drop=True),
        tables,
        parameters,
        claims,
        rows,
    )


def verdict_text(status: str | None, certainty: str | None) -> str:
    if not status:
        return "absent"
    return status + (f" ({certainty} certainty)" if certainty else "")


def row_text(r: dict) -> str:
    if r["change"] == "edited":
        return f"{r['file']} {r['key']}: {r['field']} {r['old']!r} -> {r['new']!r}"
    return f"{r['file']} {r['key']}: row {r['change']}"


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
    for r in changes.rows:
        lines.append(f"  {r['change']}: {row_text(r)}")
    for name in changes.tables:
        lines.append(f"  data file changed: {name}")
    for p in changes.parameters:
        lines.append(f"  parameter changed: {p['chapter']}.{p['name']}: {p['old']!r} -> {p['new']!r}")
    for c in changes.claims:
        lines.append(
            f"  claim {c['claim_id']}: {verdict_text(c['old'], c['old_certainty'])} -> "
            f"{verdict_text(c['new'], c['new_certainty'])}, moved by {c['moved_by']}"
        )
    return "\n".join(lines)
