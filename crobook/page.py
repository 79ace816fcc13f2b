"""Helpers for chapter pages."""

from __future__ import annotations

import numpy as np
from myst_nb import glue as _glue


def glue(name: str, value) -> None:
    """Glue a value for the prose; numpy scalars become plain Python numbers so format specs work."""
    if isinstance(value, np.generic):
        value = value.item()
    _glue(name, value, display=False)
