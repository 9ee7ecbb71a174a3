"""boso: statistics for social housing work (boligsosialt arbeid) in Norwegian kommuner.

The public API (imported lazily, so ``import boso`` stays cheap in notebooks and workers)::

    import boso
    boso.load_indicator("befolkning", kommunenummer="3203")    # harmonised series
    boso.comparison("kommunale_boliger_per_1000", "3903")       # + KOSTRA-gruppe, fylke, landet
    boso.kommune_info("3903")                                   # name, fylke, KOSTRA group
    boso.read_jsonstat("data/raw/ssb/12008.json")               # any JSON-stat2 -> tidy frame
    boso.load_catalog()                                         # the indicator declarations

Modules for the notebooks: ``boso.processed`` (the processed store), ``boso.indicators``
(comparisons, growth, index, barometer), ``boso.figures`` (charts and tables with source
captions and CSV links; ``figures.save`` writes a figure as PNG/SVG/PDF with its caption),
``boso.maps`` and ``boso.text``. Every error a user can act on is a :class:`BosoError`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_indicator": ("boso.processed", "load_indicator"),
    "comparison": ("boso.indicators", "comparison"),
    "kommune_info": ("boso.indicators", "kommune_info"),
    "read_jsonstat": ("boso.jsonstat", "read_jsonstat"),
    "load_catalog": ("boso.catalog", "load_catalog"),
    "BosoError": ("boso.errors", "BosoError"),
}
_MODULES = ("processed", "indicators", "figures", "maps", "text")
# Earlier name of load_indicator, kept working for existing notebooks.
_ALIASES = {"load": ("boso.processed", "load_indicator")}

__all__ = ["__version__", *_LAZY, *_MODULES]


def __getattr__(name: str) -> Any:
    if name in _LAZY or name in _ALIASES:
        module, attr = _LAZY.get(name) or _ALIASES[name]
        return getattr(importlib.import_module(module), attr)
    if name in _MODULES:
        return importlib.import_module(f"boso.{name}")
    raise AttributeError(f"module 'boso' has no attribute {name!r}")


def __dir__() -> list[str]:
    # help(boso) and tab completion list the public API, not the lazy-import machinery.
    return sorted(__all__)
