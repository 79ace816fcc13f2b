"""Re-run a chapter only when something it depends on changed.

After a chapter runs, its cache record keeps the key of what it ran on, the data it actually read (recorded
by `crobook.data` while it ran: whole files, or the rows of one series, source or claim) and the views it
wrote. The key hashes the chapter's source, the
package code, its parameters, the content of the files it read and anything the build handed it (other
chapters' views, the previous edition). On the next build the key is computed again from the recorded
files; if it matches, the stored notebook and views are reused and no kernel starts.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent

# The user's cache folder, outside the repository: things slow to work out that never depend on the data.
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crobook"


def kept(path: Path, make: Callable[[], str]) -> str:
    """The text of `path`, made by `make()` and written there when missing. Written whole (parallel builds
    read and write the same files); an unreadable or read-only cache folder only costs the time of `make`."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    text = make()
    write_whole(path, text)
    return text


def write_whole(path: Path, content: str | bytes) -> None:
    """Write `path` through a temporary file, so a reader sees the old content or the new, never a part. A cache
    only saves time: a folder that cannot be written is passed over."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            f.write(content.encode() if isinstance(content, str) else content)
        os.replace(f.name, path)
    except OSError:
        pass


def read_used(path: Path) -> bytes | None:
    """A cache entry's content, marked as used (see `prune`); None if it is not there."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    touch(path)
    return data


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


@cache
def code_digest() -> str:
    """The package code and the versions of the libraries that shape a chapter's output."""
    from crobook.site import package_versions

    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(json.dumps(package_versions(), sort_keys=True).encode())
    return digest.hexdigest()


def folder_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        digest.update(path.name.encode() + b"\0" + file_digest(path).encode())
    return digest.hexdigest()


@cache
def _key_digests(path: Path, file_hash: str) -> dict[str, str]:
    """Digest of each key's rows in a CSV file (see crobook.data.KEYS), by key."""
    from crobook.data import KEYS
    from crobook.schema import TABLES

    column = next(KEYS[name] for name, table in TABLES.items() if table.file == path.name and name in KEYS)
    groups: dict[str, list[list[str]]] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f)
        header = [cell.strip() for cell in next(rows, [])]
        at = header.index(column) if column in header else None
        for row in rows:
            key = row[at].strip() if at is not None and at < len(row) else ""
            groups.setdefault(key, []).append(row)
    return {key: hashlib.sha256(json.dumps([header, found]).encode()).hexdigest() for key, found in groups.items()}


def read_digests(data_dir: Path, reads: list[str]) -> dict[str, str]:
    """Digest of each thing a chapter read: a whole file ("sources.csv") or one key's rows ("observations.csv:x").
    Each file is hashed once, however many of its keys were read (a chapter may read thousands of series)."""
    keys: dict[str, list[str]] = {}
    for item in reads:
        name, _, key = item.partition(":")
        keys.setdefault(name, []).append(key)
    found = {}
    for name, wanted in keys.items():
        whole = file_digest(data_dir / name)
        slices = _key_digests(data_dir / name, whole) if whole != "missing" and any(wanted) else {}
        for key in wanted:
            found[f"{name}:{key}" if key else name] = slices.get(key, "missing") if key else whole
    return found


def chapter_key(source: Path, parameters: dict, reads: list[str], data_dir: Path, handed: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(source.read_bytes())
    digest.update(code_digest().encode())
    digest.update(json.dumps(parameters, sort_keys=True, default=str).encode())
    for item, value in sorted(read_digests(data_dir, reads).items()):
        digest.update(f"{item}\0{value}".encode())
    for name, value in sorted(handed.items()):
        digest.update(f"{name}\0{value}".encode())
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}-{uuid.uuid4().hex}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@dataclass
class ChapterCache:
    """Executed chapters by key: `<root>/<stem>/<key>/` holds the notebook and its views, so going back to
    earlier inputs (another data folder, an earlier parameter) reuses the earlier run too."""

    root: Path  # <site>/.cache

    def reads(self, stem: str) -> list[str] | None:
        """The data files the chapter read when it last ran, or None if it never ran (or the cache is gone)."""
        try:
            return json.loads((self.root / f"{stem}.json").read_text(encoding="utf-8"))["reads"]
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def restore(self, stem: str, key: str, out_dir: Path) -> bool:
        """Copy the stored notebook and views into `out_dir` if a run with this key is stored."""
        stored = self.root / stem / key
        try:
            shutil.copytree(stored / "views", out_dir / "views", dirs_exist_ok=True)
            shutil.copy(stored / f"{stem}.ipynb", out_dir / f"{stem}.ipynb")
        except FileNotFoundError:  # never stored, or the cache folder was removed meanwhile: run the chapter
            return False
        touch(stored)
        return True

    def store(
        self, stem: str, key: str, out_dir: Path, reads: list[str], views: list[str], files: list[str] = ()
    ) -> None:
        """Keep a run: its notebook, its views and the other files it published under views/ (`files`).

        The cache only saves time: if its folder is removed while a build runs, the run is not kept."""
        from crobook.site import fault

        fault("cache")
        try:
            self._store(stem, key, out_dir, reads, views, files)
        except FileNotFoundError as err:
            if Path(err.filename or "").is_relative_to(self.root):
                return
            raise

    def _store(self, stem: str, key: str, out_dir: Path, reads: list[str], views: list[str], files: list[str]) -> None:
        temporary = self.root / stem / f".{key}-{uuid.uuid4().hex}"
        (temporary / "views").mkdir(parents=True)
        for view in views:
            for ext in ("csv", "json"):
                shutil.copy(out_dir / "views" / f"{view}.{ext}", temporary / "views")
        for name in files:
            (temporary / "views" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(out_dir / "views" / name, temporary / "views" / name)
        shutil.copy(out_dir / f"{stem}.ipynb", temporary / f"{stem}.ipynb")
        try:
            os.replace(temporary, self.root / stem / key)
        except OSError:  # another build stored the same run meanwhile
            shutil.rmtree(temporary, ignore_errors=True)
            touch(self.root / stem / key)
        _write_atomic(self.root / f"{stem}.json", json.dumps({"reads": sorted(reads)}, indent=1) + "\n")


def assessed(evidence, root: Path):
    """`crobook.claims.assess(evidence)`, with each claim whose inputs did not change since a build that used
    this cache taken from it: a one-row change re-assesses only the claims that read that row.

    A claim's key hashes the package code, the book-wide parameters, the claim and the content of what it read
    the last time it was assessed (as a chapter's key does). `<root>/claims/<claim>.json` keeps those reads and
    `<root>/claims/<claim>/<key>.pickle` its rows; a missing or unreadable entry only means assessing again."""
    from crobook.claims import assess

    folder = root / "claims"
    claim_ids = list(evidence.tables["claims"]["claim_id"])  # not `evidence.claims`: that records a read
    last_reads: dict[str, list[str]] = {}
    for claim_id in claim_ids:
        try:
            last_reads[claim_id] = json.loads((folder / f"{claim_id}.json").read_text(encoding="utf-8"))["reads"]
        except (OSError, ValueError, KeyError):
            pass
    digests = read_digests(evidence.data_dir, sorted({item for reads in last_reads.values() for item in reads}))

    def key(claim_id: str, reads: list[str]) -> str:
        digest = hashlib.sha256(f"{code_digest()}\0{json.dumps(evidence.book, sort_keys=True)}\0{claim_id}".encode())
        for item in sorted(reads):
            digest.update(f"\0{item}\0{digests[item]}".encode())
        return digest.hexdigest()

    restored = set()
    for claim_id, reads in last_reads.items():
        data = read_used(folder / claim_id / f"{key(claim_id, reads)}.pickle")
        if data is None:
            continue
        try:
            kept = pickle.loads(data)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            continue
        evidence.ledgers[("claim", claim_id)] = kept
        restored.add(claim_id)
    ledger = assess(evidence)
    for claim_id in set(claim_ids) - restored:
        rows, reads = evidence.ledgers[("claim", claim_id)]
        items = sorted(reads.get("reads", ()))
        digests.update(read_digests(evidence.data_dir, items))
        write_whole(folder / claim_id / f"{key(claim_id, items)}.pickle", pickle.dumps((rows, reads)))
        write_whole(folder / f"{claim_id}.json", json.dumps({"reads": items}, indent=1) + "\n")
    return ledger


BUILDS_KEPT = 10  # a cache entry stays while one of the site's last ten builds used it


def touch(path: Path) -> None:
    """Mark a cache entry as used now (see `prune`)."""
    try:
        os.utime(path)
    except OSError:
        pass


def prune(root: Path, started: float, builds: int = BUILDS_KEPT) -> int:
    """After a build that started at `started` (seconds since the epoch): count it among the site's last `builds`
    builds and remove every cache entry that none of them used, so an analyst's hundreds of edits do not pile up
    (a run of the key findings page keeps about 1 MB). Entries are chapter runs (`<chapter>/<key>/`), converted
    charts and specifications (`charts/`) and claims (`claims/<claim>/`); using one touches it. Returns the
    number removed. Another build that restores an entry while it goes only runs that chapter again."""
    record = root / "builds.json"
    try:
        starts = json.loads(record.read_text(encoding="utf-8"))["started"]
    except (OSError, ValueError, KeyError):
        starts = []
    starts = sorted([*starts, started])[-builds:]
    try:
        _write_atomic(record, json.dumps({"started": starts}) + "\n")
    except OSError:
        return 0
    if len(starts) < builds:
        return 0
    removed = 0
    for entry in _entries(root):
        try:
            if entry.stat().st_mtime >= starts[0]:
                continue
            going = entry.with_name(f".gone-{entry.name}-{uuid.uuid4().hex}")
            os.replace(entry, going)  # at once, so that no reader finds half an entry
            shutil.rmtree(going) if going.is_dir() else going.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _entries(root: Path) -> Iterator[Path]:
    folders = [root / record.stem for record in root.glob("*.json") if (root / record.stem).is_dir()]
    folders += [root / "charts", *(root / "claims").glob("*")]
    for folder in folders:
        if folder.is_dir():
            yield from (entry for entry in folder.iterdir() if not entry.name.startswith("."))
