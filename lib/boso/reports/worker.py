"""The worker side of a report run: per-process set-up and the execution of one report.

A worker process (or the runner's own process when ``jobs == 1``) imports papermill once, keeps
a warm kernel (:mod:`boso.reports.kernel`) and runs :class:`_Task` after :class:`_Task` in it.
Every report runs on its own: an error is caught, written to ``<analysis>.error.txt`` (plus the
partially executed notebook, papermill's error markers included, as ``<analysis>.error.ipynb``)
and the other reports carry on. A report is written to a temporary file and moved into place
only on success, so a failed rerun never destroys the previous good report; success removes
stale error files. The outcome names the tables the notebook read, for the runner to key on.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boso.reports import kernel as warm
from boso.reports.cache import _atomic_write
from boso.reports.kernel import CELL_TIMEOUT, ENGINE_NAME, WarmKernel, _make_engine
from boso.reports.results import ERROR_NOTEBOOK_SUFFIX, FAILED, OK

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class _Task:
    kommunenummer: str
    kommunenavn: str
    analysis: str
    notebook: str
    output: str
    #: :func:`boso.reports.cache.notebook_fingerprint` of the source notebook.
    fingerprint: str
    parameters: dict[str, Any]


_WORKER: dict[str, Any] = {}


def _worker_init(
    cwd: str, preload: list[str], env: dict[str, str], kernel_name: str | None = None
) -> None:
    """Per-process set-up: start the warm kernel, import papermill once, register the engine.

    The kernel boots while this process imports papermill (both take about a second).
    """
    import atexit
    import logging
    import multiprocessing

    os.environ.update(env)
    if "kernels" not in _WORKER:
        atexit.register(_worker_close)
        if multiprocessing.parent_process() is not None:  # a pool worker, not jobs == 1
            from boso.lifetime import exit_with_parent

            exit_with_parent(_kill_kernels_now)
    _WORKER.update(cwd=cwd, preload=preload, kernels={})
    kernel = None
    if kernel_name:
        kernel = WarmKernel(kernel_name, Path(cwd), preload)
        kernel.launch()
    from papermill.engines import papermill_engines

    # papermill logs every notebook at INFO; the runner reports on its own.
    logging.getLogger("papermill").setLevel(logging.WARNING)
    papermill_engines.register(ENGINE_NAME, _make_engine())
    if kernel is not None:
        try:
            kernel.ready()
        except Exception:
            kernel.close()  # the first task starts a kernel again and reports the error
        else:
            _WORKER["kernels"][kernel_name] = kernel


def _worker_close() -> None:
    for kernel in _WORKER.get("kernels", {}).values():
        kernel.close()
    _WORKER["kernels"] = {}
    warm.set_current(None)


def _kill_kernels_now() -> None:
    # Called from the watchdog thread when the parent died: no asyncio, no waiting.
    for kernel in list(_WORKER.get("kernels", {}).values()):
        kernel.kill_now()


def _kernel_for(name: str) -> WarmKernel:
    kernels: dict[str, WarmKernel] = _WORKER["kernels"]
    if name not in kernels:
        kernel = WarmKernel(name, Path(_WORKER["cwd"]), _WORKER["preload"])
        kernel.start()
        kernels[name] = kernel
    return kernels[name]


def _error_summary(exc: BaseException) -> tuple[str, str]:
    """(one line for the summary table, full text for the error file)."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        line = f"{exc.ename}: {exc.evalue}".strip().splitlines()[0]
        cell = f"celle {exc.exec_count}" if exc.exec_count else f"celle nr. {exc.cell_index}"
        text = (
            f"Feil i {cell}:\n\n{exc.source}\n\n"
            + _ANSI.sub("", "\n".join(exc.traceback))
            + f"\n\n{exc.ename}: {exc.evalue}\n"
        )
        return f"{cell}: {line}", text
    line = (f"{type(exc).__name__}: {exc}".strip().splitlines() or [type(exc).__name__])[0]
    text = "".join(traceback.format_exception(exc))
    return line, _ANSI.sub("", text)


def _execute_task(task: _Task) -> dict[str, Any]:
    """Run one report in this worker; never raises (the outcome is in the returned dict)."""
    import nbformat
    from papermill.engines import papermill_engines
    from papermill.execute import (
        prepare_notebook_metadata,
        raise_for_execution_errors,
        remove_error_markers,
    )
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    start = time.perf_counter()
    output = Path(task.output)
    error_txt = output.with_name(f"{task.analysis}.error.txt")
    error_nb = output.with_name(task.analysis + ERROR_NOTEBOOK_SUFFIX)
    key_file = output.with_name(f".{task.analysis}.key")
    kernel: WarmKernel | None = None
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        nb = load_notebook_node(task.notebook)
        nb = parameterize_notebook(nb, task.parameters, engine_name=ENGINE_NAME)
        nb = prepare_notebook_metadata(nb, task.notebook, str(output))
        nb = remove_error_markers(nb)
        kernel_name = papermill_engines.nb_kernel_name(ENGINE_NAME, nb, None)
        kernel = _kernel_for(kernel_name)
        kernel.reset()
        warm.set_current(kernel)
        nb = papermill_engines.execute_notebook_with_engine(
            ENGINE_NAME,
            nb,
            kernel_name=kernel_name,
            input_path=task.notebook,
            output_path=None,  # no per-cell saves: the report is written once, at the end
            progress_bar=False,
            log_output=False,
            start_timeout=60,
            execution_timeout=CELL_TIMEOUT,
        )
        # Writes the notebook with papermill's error markers, then raises on a cell error.
        raise_for_execution_errors(nb, str(error_nb))
        reads = kernel.recorded_reads()
        tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        nbformat.write(nb, str(tmp))
        # The old key must not outlive the old report: the runner writes the new one.
        key_file.unlink(missing_ok=True)
        os.replace(tmp, output)
        error_txt.unlink(missing_ok=True)
        error_nb.unlink(missing_ok=True)
        return {"status": OK, "seconds": time.perf_counter() - start, "reads": reads}
    except Exception as exc:  # one report's failure must not stop the batch
        line, text = _error_summary(exc)
        header = f"{task.kommunenummer} {task.kommunenavn} / {task.analysis} ({task.notebook})\n\n"
        with contextlib.suppress(OSError):
            _atomic_write(error_txt, header + text)
        if kernel is not None:
            try:
                kernel.restart()
            except Exception:  # noqa: S110 - the next task starts a kernel if this one failed
                _WORKER["kernels"].pop(kernel.kernel_name, None)
        return {
            "status": FAILED,
            "seconds": time.perf_counter() - start,
            "error": line,
            "error_file": str(error_txt),
        }
