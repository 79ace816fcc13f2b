"""Fewer garbage collections in the build's long-lived Python processes.

Docutils nodes point at their parents, so every doctree Sphinx drops is a reference cycle that only the cyclic
collector frees. With CPython's thresholds (700, 10, 10) those trees live long enough to reach the oldest
generation, and each full collection then walks every object of the process: the imported modules, Sphinx's
environment and every doctree it holds. Measured on the Sphinx builds of a one-row rebuild: the LaTeX build went
from 1.9-2.0 s to 1.2-1.3 s, the HTML build from 1.6-3.1 s to 1.1-1.2 s. Freezing what the imports made (it is
never garbage) and collecting the youngest generation after 20,000 allocations instead of 700 lets the dropped
trees die young; the processes' peak memory stayed within 10% (140-187 MB)."""

from __future__ import annotations

import gc

YOUNGEST_THRESHOLD = 20_000


def collect_less() -> None:
    """Call once the process has imported what it needs."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST_THRESHOLD, middle, oldest)
