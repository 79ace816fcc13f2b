"""The no-change rebuild in well under a second: `crobook build` with the very inputs of an edition it already
published says so without reading the data, importing pandas or starting Sphinx.

After each build the site remembers a digest of the raw inputs (the bytes of every data file, the parameters
file, the chapters, the book's configuration, the package code and the pinned requirements) and the edition
they gave. The data were validated when that edition was built, and the same bytes validate the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from crobook import __version__

ROOT = Path(__file__).resolve().parent.parent
RECORD = ".cache/up-to-date.json"  # in the site folder


def _files(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []


def raw_digest(data_dir: Path, params_file: Path) -> str:
    digest = hashlib.sha256(f"{__version__}\0{sys.version}\0".encode())
    paths = [
        *_files(data_dir),
        params_file,
        *_files(ROOT / "chapters", "*.md"),
        ROOT / "_config.yml",
        ROOT / "_toc.yml",
        ROOT / "requirements.txt",
        *_files(ROOT / "_static"),
        *_files(ROOT / "_templates"),
        *_files(Path(__file__).parent, "*.py"),
    ]
    for path in paths:
        digest.update(str(path).encode() + b"\0" + (path.read_bytes() if path.is_file() else b"missing") + b"\0")
    text = params_file.read_text(encoding="utf-8-sig") if params_file.is_file() else ""
    if not any(line.startswith("as_of:") for line in text.splitlines()):
        digest.update(datetime.now(UTC).date().isoformat().encode())  # without as_of an edition speaks for today
    return digest.hexdigest()


def up_to_date(data_dir: Path, params_file: Path, site_dir: Path, name: str | None) -> str | None:
    """The edition these inputs gave, if it is still published whole: the one named `name`, or without a name
    the one built under its default name (an edition named by hand does not answer for the default)."""
    try:
        known = json.loads((site_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = known.get(raw_digest(data_dir, params_file))
    if (
        not isinstance(found, dict)
        or found["name"] != (name or found["name"])
        or (name is None and not found["default"])
    ):
        return None
    return found["name"] if (site_dir / found["name"] / "manifest.json").is_file() else None


def remember(data_dir: Path, params_file: Path, site_dir: Path, name: str, default: bool) -> None:
    """Note that these inputs gave edition `name`, under its default name or not (the newest inputs are kept)."""
    path = site_dir / RECORD
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    known.pop(digest := raw_digest(data_dir, params_file), None)
    known[digest] = {"name": name, "default": default}
    known = dict(list(known.items())[-20:])
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
    temporary.write_text(json.dumps(known, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)
