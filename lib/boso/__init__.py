"""boso: statistics for social housing work (boligsosialt arbeid) in Norwegian kommuner.

The public API is imported lazily so that ``import boso`` stays cheap in notebooks and workers::

    import boso
    df = boso.read_jsonstat("12008.json")               # JSON-stat2 -> tidy DataFrame
    pop = boso.load("befolkning", kommunenummer="3203")  # harmonised processed series
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read_jsonstat": ("boso.jsonstat", "read_jsonstat"),
    "load": ("boso.processed", "load_indicator"),
    "load_catalog": ("boso.catalog", "load_catalog"),
    "BosoError": ("boso.errors", "BosoError"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'boso' has no attribute {name!r}")
