"""What changed between two editions, item by item: rows field by field, and verdicts with what moved them."""

import shutil
from pathlib import Path

from crobook.data import DEFAULT_DATA_DIR
from crobook.diff import compare, report


def edition(tmp_path: Path, name: str, claims: dict, certainty: dict, book: dict | None = None) -> dict:
    data = tmp_path / name
    shutil.copytree(DEFAULT_DATA_DIR, data)
    digests = {p.name: p.read_text(encoding="utf-8") for p in sorted(data.glob("*.csv"))}
    return {
        "edition": name,
        "data_dir": str(data),
        "data": digests,
        "parameters": {"book": book or {"min_grade": "secondary"}},
        "claims": claims,
        "certainty": certainty,
    }


def edit(manifest: dict, file: str, old: str, new: str) -> None:
    path = Path(manifest["data_dir"]) / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    manifest["data"][file] = path.read_text(encoding="utf-8")


def test_rows_are_listed_field_by_field_and_a_verdict_names_what_moved_it(tmp_path):
    before = edition(tmp_path, "a", {"C1": "supported", "C2": "not testable"}, {"C1": "low", "C2": ""})
    after = edition(tmp_path, "b", {"C1": "contradicted", "C2": "not testable"}, {"C1": "moderate", "C2": ""})
    edit(after, "sources.csv", "Emerging Biopharma's Contribution to Innovation (2019 ed.)", "EBP 2019")
    edit(
        after,
        "claim_parts.csv",
        ",level,pipeline_molecules clinical_assets,bio-emerging,global,biotech_share_clinical_pipeline,,2021,5,",
        ",level,pipeline_molecules clinical_assets,bio-emerging,global,biotech_share_clinical_pipeline,,2021,3,",
    )
    series = Path(after["data_dir"]) / "series.csv"
    lines = series.read_text(encoding="utf-8").splitlines()
    series.write_text("\n".join([lines[0], *lines[2:]]) + "\n", encoding="utf-8")  # the first series removed
    after["data"]["series.csv"] = series.read_text(encoding="utf-8")
    changes = compare(before, after)
    text = report(changes, "a", "b")
    assert (
        '  edited: sources.csv iqvia-ebp-2019: title "Emerging Biopharma\'s Contribution to Innovation (2019 ed.)" '
        "-> 'EBP 2019'" in text
    )
    assert "  edited: claim_parts.csv C1 a: tolerance '5' -> '3'" in text
    assert f"  removed: series.csv {lines[1].split(',')[0]}: row removed" in text
    assert (
        "  claim C1: supported (low certainty) -> contradicted (moderate certainty), moved by the data and the rules "
        "(claim_parts.csv)" in text
    )
    assert "claim C2" not in text  # same verdict, same certainty
    assert "data file changed" not in text  # every changed file is shown row by row


def test_a_parameter_alone_is_named_as_what_moved_the_verdict(tmp_path):
    before = edition(tmp_path, "a", {"C4": "supported"}, {"C4": "high"})
    after = edition(tmp_path, "b", {"C4": "supported"}, {"C4": "moderate"}, {"min_grade": "reported"})
    text = report(compare(before, after), "a", "b")
    assert "  parameter changed: book.min_grade: 'secondary' -> 'reported'" in text
    assert (
        "  claim C4: supported (high certainty) -> supported (moderate certainty), moved by the parameters "
        "(book.min_grade)" in text
    )
