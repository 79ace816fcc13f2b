"""Time the build: validation alone, a cold full build, and a rebuild with nothing changed.

Run with `make bench`. Prints one line per measurement and writes them to _build/bench.json.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CROBOOK = str(Path(sys.executable).parent / "crobook")


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    results = {}
    runs = [timed([CROBOOK, "validate"]) for _ in range(5)]
    results["validate_s"] = statistics.median(runs)
    site = ROOT / "_build" / "bench-site"
    shutil.rmtree(ROOT / "_build" / "work", ignore_errors=True)
    shutil.rmtree(site, ignore_errors=True)
    results["cold_build_s"] = timed([CROBOOK, "build", "--site", str(site)])
    results["rebuild_unchanged_s"] = timed([CROBOOK, "build", "--site", str(site)])
    shutil.rmtree(site, ignore_errors=True)
    for name, seconds in results.items():
        print(f"{name}: {seconds:.2f}")
    (ROOT / "_build" / "bench.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
