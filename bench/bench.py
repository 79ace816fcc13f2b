"""Time the analyst's loop and the book at scale, each measure beside its target (issue 12).

Run with `make bench`. Every build goes to a temporary site from a temporary copy of the data, so nothing in
the repository changes. Prints one line per measure and writes them to _build/bench.json.

- validation of today's data, and of a synthetic folder with 100,000 observations (bench/scale.py);
- a first build with an empty user cache (as on a new machine), a cold build (website and PDF into a new site,
  the user cache as it is), a rebuild with nothing changed, and a rebuild after a one-row
  change in one series, which re-runs only the chapters that read that series, and after a second edit of the
  same row (the analyst's next step: the what-changed page keeps its shape);
- the same one-row change in the preview: `crobook preview` serving, from the moment the file is written to
  the moment the server has rebuilt the website and tells the browser to reload (file watcher included);
- the book at 100 times today's observations (website and PDF), and the website at 1,000 times (the preview's
  steps: chapters and Sphinx HTML, no PDF);
- before and after, the time of a fixed pure-Python loop: the machine's speed at that hour.
"""

from __future__ import annotations

import json
import math
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import make  # noqa: E402  (bench/scale.py, beside this file)

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# One row of a series of claim C1, as the analyst edits it: 65 (as shipped) to 61, then to 63; the preview takes
# it back to 61. The first edit gives the first what-changed table since the cold build, which adds a line to the
# PDF's list of tables, so TeX runs twice; the next edit changes only the table's figures.
ROW = "ebp_share_rd_pipeline,2021,{},"
EDITS = (65, 61, 63)


def crobook(*args: str, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Seconds a crobook command took, and what it printed (`env`: variables set for it)."""
    start = time.perf_counter()
    environ = os.environ | (env or {})
    result = subprocess.run([PYTHON, "-m", "crobook.cli", *args], cwd=ROOT, capture_output=True, text=True, env=environ)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"crobook {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def ran(output: str) -> int:
    return len(re.findall(r": ran in ", output))


def website(data: Path, folder: Path) -> float:
    """The preview's steps: bring the draft up to date, then the incremental Sphinx HTML build."""
    start = time.perf_counter()
    crobook("preview", "--sync", "--data", str(data), "--dir", str(folder))
    sphinx = [
        PYTHON,
        "-m",
        "sphinx",
        "build",
        str(folder / "src"),
        str(folder / "html"),
        "-d",
        str(folder / "doctrees"),
    ]
    subprocess.run([*sphinx, "-q", "-n"], check=True, capture_output=True)
    return time.perf_counter() - start


def preview_after_edit(data: Path, folder: Path) -> tuple[float, str]:
    """Seconds from a one-row edit to the running preview's reload, and the server's own account of the update."""
    command = [PYTHON, "-u", "-m", "crobook.cli", "preview", "--data", str(data), "--dir", str(folder), "--port", "0"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()

    def until(pattern: str) -> str:
        while True:
            try:
                line = lines.get(timeout=300)
            except queue.Empty:
                raise SystemExit(f"crobook preview: no {pattern!r} in 300 s") from None
            if re.search(pattern, line):
                return line

    try:
        until(r"Waiting to detect changes")
        time.sleep(1)  # the watcher starts with the server
        start = time.perf_counter()
        edit_one_row(data, EDITS[2], EDITS[1])
        account = until(r"website up to date in|failed")
        until(r"Serving on")  # the reload goes out now
        return time.perf_counter() - start, account.strip()
    finally:
        server.terminate()
        server.wait(timeout=60)


def edit_one_row(data: Path, old: int, new: int) -> None:
    path = data / "observations.csv"
    text = path.read_text(encoding="utf-8")
    if ROW.format(old) not in text:
        raise SystemExit(f"{path}: no row {ROW.format(old)!r} to edit")
    path.write_text(text.replace(ROW.format(old), ROW.format(new), 1), encoding="utf-8")


def tex_passes(output: str) -> str:
    found = re.search(r"xelatex ran (\d+) time", output)
    return f", xelatex {found.group(1)} pass(es)" if found else ""


def reference_loop() -> float:
    """Seconds this machine takes for a fixed piece of pure Python (the best of three), so that runs on machines
    of different speed, or on one virtual machine at different hours, can be set side by side."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for number in range(10_000_000):
            total += number
        best = min(best, time.perf_counter() - start)
    return best


def measure(tmp: Path) -> list[dict]:
    rows = []

    def note(name: str, target: float | None, seconds: float, detail: str = "") -> None:
        rows.append({"measure": name, "target_s": target, "measured_s": round(seconds, 2), "detail": detail})
        print(line(rows[-1]), flush=True)

    note("machine speed: a fixed pure-Python loop, before", None, reference_loop(), "lower is faster")

    data = tmp / "data"
    shutil.copytree(ROOT / "data", data)
    observations = sum(1 for _ in (data / "observations.csv").open(encoding="utf-8")) - 1
    seconds, _ = crobook("validate", "--data", str(data))
    note("validate today's data", None, seconds, f"{observations} observations")

    big = tmp / "scale-100k"
    count = make(math.ceil(100_000 / observations), big)
    seconds, _ = crobook("validate", "--data", str(big))
    note("validate 100,000 observations", 3, seconds, f"{count:,} observations")
    shutil.rmtree(big)

    # A new site has nothing cached; the user's cache folder (Vega's script, the parameters each chapter
    # declares, the chapters' last run times) is measured both empty, as on a new machine, and as it is.
    fresh = {"XDG_CACHE_HOME": str(tmp / "empty-user-cache")}
    seconds, out = crobook("build", "--data", str(data), "--site", str(tmp / "first-site"), env=fresh)
    note("first build on a new machine, website and PDF", None, seconds, f"{ran(out)} chapters run, no user cache")
    shutil.rmtree(tmp / "first-site")
    site = tmp / "site"
    seconds, out = crobook("build", "--data", str(data), "--site", str(site))
    note("cold build, website and PDF", 20, seconds, f"{ran(out)} chapters run, new site")
    seconds, out = crobook("build", "--data", str(data), "--site", str(site))
    note("rebuild, nothing changed", 1, seconds, out.strip().splitlines()[-1][:60])
    shipped, first, second = EDITS
    edit_one_row(data, shipped, first)
    seconds, out = crobook("build", "--data", str(data), "--site", str(site))
    detail = f"{ran(out)} of 12 chapters run{tex_passes(out)}"
    note("rebuild after a one-row change, website and PDF", 8, seconds, detail)
    edit_one_row(data, first, second)
    seconds, out = crobook("build", "--data", str(data), "--site", str(site))
    detail = f"{ran(out)} of 12 chapters run{tex_passes(out)}"
    note("the same row edited again, website and PDF", 8, seconds, detail)

    seconds, account = preview_after_edit(data, tmp / "preview")
    note("preview after a one-row change", 4, seconds, account.removeprefix("preview: "))

    for factor, target in ((100, 60), (1000, None)):
        scaled = tmp / f"scale-{factor}"
        count = make(factor, scaled)
        if factor == 100:
            seconds, out = crobook("build", "--data", str(scaled), "--site", str(tmp / "site-100"))
            note(f"{factor}x today's data, website and PDF", target, seconds, f"{count:,} observations")
        else:
            seconds = website(scaled, tmp / f"preview-{factor}")
            note(f"{factor}x today's data, website", target, seconds, f"{count:,} observations")
        shutil.rmtree(scaled)
    note("machine speed: the same loop, after", None, reference_loop(), "lower is faster")
    return rows


def line(row: dict) -> str:
    target = f"<= {row['target_s']:g} s" if row["target_s"] is not None else "-"
    verdict = "" if row["target_s"] is None else ("met" if row["measured_s"] <= row["target_s"] else "MISSED")
    return f"{row['measure']:<50} {target:>9} {row['measured_s']:>9.2f} s  {verdict:<6} {row['detail']}"


def main() -> None:
    print(f"{'measure':<50} {'target':>9} {'measured':>11}  {'':<6} detail", flush=True)
    with tempfile.TemporaryDirectory(prefix="crobook-bench-") as tmp:
        rows = measure(Path(tmp))
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "bench.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
