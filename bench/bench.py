"""Time the build: validation alone, a cold full build, a rebuild with nothing changed, and rebuilds after one
data file changed (the outsourcing-models table, read by one chapter; the observations, read by nearly all).

Run with `make bench`. Prints one line per measurement and writes them to _build/bench.json.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CROBOOK = str(Path(sys.executable).parent / "crobook")


def timed(*args: str) -> tuple[float, int]:
    """Seconds a crobook command took, and how many chapters it executed."""
    start = time.perf_counter()
    result = subprocess.run([CROBOOK, *args], check=True, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - start, len(re.findall(r": ran in ", result.stdout))


def main() -> None:
    results = {}
    results["validate_s"] = statistics.median(timed("validate")[0] for _ in range(5))
    with tempfile.TemporaryDirectory() as tmp:
        site, data = Path(tmp) / "site", Path(tmp) / "data"
        shutil.copytree(ROOT / "data", data)
        base = ["build", "--site", str(site), "--data", str(data)]
        results["cold_build_s"], results["cold_build_chapters_run"] = timed(*base, "--edition", "cold")
        results["unchanged_s"], results["unchanged_chapters_run"] = timed(*base, "--edition", "cold")
        models = data / "outsourcing_models.csv"
        models.write_text(models.read_text(encoding="utf-8").replace("One-off", "Single-study", 1), encoding="utf-8")
        results["models_file_changed_s"], results["models_file_changed_chapters_run"] = timed(
            *base, "--edition", "models-changed"
        )
        obs = data / "observations.csv"
        obs.write_text(obs.read_text(encoding="utf-8").replace(",2021,65,", ",2021,64,", 1), encoding="utf-8")
        results["observations_changed_s"], results["observations_changed_chapters_run"] = timed(
            *base, "--edition", "observations-changed"
        )
    for name, value in results.items():
        print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")
    (ROOT / "_build").mkdir(exist_ok=True)
    (ROOT / "_build" / "bench.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
