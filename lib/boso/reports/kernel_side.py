"""Code that runs inside the warm kernel: warm-up, the clean-state snapshot, reset, read log.

The runner (:mod:`boso.reports.kernel`) never sends code of its own to the kernel beyond a
one-line call into this module, made through ``__import__`` so that nothing is left in the
notebook's namespace. Everything here runs in the kernel process, not in the runner.

Between notebooks the kernel is reset: ``InteractiveShell.reset(new_session=True)`` (empties the
user namespace and restarts execution counts at 1), and the working directory, ``os.environ``,
``sys.path``, warning filters, pandas options and plotly's default template/renderer are restored
to their state after warm-up. Imported modules stay loaded (that is the point); module-level state
that a notebook mutates in some other library is not reset, so notebooks must not depend on it.

While a notebook runs, :mod:`boso.processed` notes every processed table it opens (see
:func:`boso.processed.record_reads`); the runner fetches the list with :func:`recorded_reads`
after the notebook and keys the report's cache on those tables.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class _CleanState:
    cwd: str
    environ: dict[str, str]
    path: list[str]
    filters: list[Any]
    pandas_options: dict[str, Any] | None
    plotly: tuple[Any, Any] | None


#: The state right after warm-up, restored before every notebook but the first.
_STATE: _CleanState | None = None
#: Paths of the processed tables the current notebook opened (filled by boso.processed).
_READS: list[str] = []


def warmup(modules: Iterable[str]) -> None:
    """Import the modules the notebooks import, and pay plotly's first-figure cost once.

    A module that fails to import is left for the notebook to report in its own cell.
    """
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    go = sys.modules.get("plotly.graph_objects")
    if go is not None:
        # The first figure pays for plotly's lazily built validators; pay it once here.
        with contextlib.suppress(Exception):
            go.Figure(go.Scatter(x=[1], y=[1]), layout={"title": "x"}).to_plotly_json()


def snapshot(cwd: str) -> None:
    """Change to ``cwd`` and remember the clean state that :func:`reset` restores."""
    global _STATE
    os.chdir(cwd)
    pandas_options = None
    pd = sys.modules.get("pandas")
    if pd is not None:
        try:
            from pandas._config.config import _registered_options

            pandas_options = {k: pd.get_option(k) for k in _registered_options}
        except Exception:
            pandas_options = None
    pio = sys.modules.get("plotly.io")
    plotly = (pio.templates.default, pio.renderers.default) if pio is not None else None
    _STATE = _CleanState(
        cwd=cwd,
        environ=dict(os.environ),
        path=list(sys.path),
        filters=list(warnings.filters),
        pandas_options=pandas_options,
        plotly=plotly,
    )


def reset() -> None:
    """Empty the user namespace and restore the state taken by :func:`snapshot`."""
    from IPython import get_ipython

    state = _STATE
    if state is None:
        raise RuntimeError("boso-warm: reset before snapshot")
    # reset() ends with a full gc.collect(), 0.2-0.7 s with pandas/plotly loaded; the
    # interpreter's own collector handles cycles soon enough.
    collect, gc.collect = gc.collect, lambda *args, **kwargs: 0
    try:
        get_ipython().reset(new_session=True)
    finally:
        gc.collect = collect
    os.chdir(state.cwd)
    if os.environ != state.environ:
        os.environ.clear()
        os.environ.update(state.environ)
    sys.path[:] = state.path
    warnings.filters[:] = state.filters
    pd = sys.modules.get("pandas")
    if pd is not None and state.pandas_options is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for key, value in state.pandas_options.items():
                with contextlib.suppress(Exception):
                    if pd.get_option(key) != value:
                        pd.set_option(key, value)
    pio = sys.modules.get("plotly.io")
    if pio is not None and state.plotly is not None:
        pio.templates.default, pio.renderers.default = state.plotly
    outputs = sys.modules.get("boso.outputs")
    if outputs is not None:
        # Figure ids count from 1 in every report, so a report's HTML does not depend on
        # which warm kernel ran it before.
        outputs.reset_figure_ids()


def begin_notebook(clean: bool) -> None:
    """Prepare for the next notebook: reset when ``clean`` and start an empty read log."""
    from boso.processed import record_reads

    if clean:
        reset()
    _READS.clear()
    record_reads(_READS)


def recorded_reads() -> str:
    """The paths of the tables opened since :func:`begin_notebook`, as a JSON list."""
    return json.dumps(sorted(set(_READS)))
