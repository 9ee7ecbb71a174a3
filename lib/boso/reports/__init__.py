"""Batch reports: execute the analysis notebooks for many kommuner with papermill.

``boso reports --kommune 3203 3903`` (or ``--fylke 32`` / ``--all``) writes
``reports/<kommunenummer>-<slug>/<analysis>.ipynb`` for every notebook in ``notebooks/``.
One job per module:

* :mod:`boso.reports.runner`: choosing kommuner and analyses, planning tasks, the process pool,
  the summary and the ``boso reports`` entry point.
* :mod:`boso.reports.cache`: content hashes, report keys keyed on the tables each notebook read
  (recorded while it ran), stored keys and ``reports/manifest.json``.
* :mod:`boso.reports.worker`: one report's execution in a worker, failures isolated.
* :mod:`boso.reports.kernel`: the warm IPython kernel and its papermill engine.
* :mod:`boso.reports.kernel_side`: the code that runs inside that kernel (reset, read log).
* :mod:`boso.reports.results`: :class:`ReportResult` and :class:`RunSummary`.

This package re-exports the names other modules, the tests and the benchmarks use.
"""

from __future__ import annotations

import os  # noqa: F401 - tests patch boso.reports.os.cpu_count

import boso  # noqa: F401 - tests point boso.reports.boso.__file__ at a fake package
from boso.reports.cache import (
    CACHE_FILE,
    MANIFEST_FILE,
    FileHasher,
    _sha256_json,
    _stored_key,
    notebook_fingerprint,
    package_digest,
    report_key,
)
from boso.reports.kernel import (
    CELL_TIMEOUT,
    ENGINE_NAME,
    KERNEL_DIR_PREFIX,
    WarmKernel,
    notebook_imports,
    remove_stale_kernel_dirs,
)
from boso.reports.results import (
    ANALYSES,
    ERROR_NOTEBOOK_SUFFIX,
    FAILED,
    OK,
    SKIPPED,
    ReportResult,
    RunSummary,
)
from boso.reports.runner import (
    TASKS_PER_WORKER,
    _close_matches,
    _kernel_env,
    discover_analyses,
    effective_jobs,
    load_registry,
    report_dirname,
    run_cli,
    run_reports,
    select_kommuner,
    slugify,
)

__all__ = [
    "ANALYSES",
    "ERROR_NOTEBOOK_SUFFIX",
    "CACHE_FILE",
    "CELL_TIMEOUT",
    "ENGINE_NAME",
    "FAILED",
    "KERNEL_DIR_PREFIX",
    "MANIFEST_FILE",
    "OK",
    "SKIPPED",
    "TASKS_PER_WORKER",
    "FileHasher",
    "ReportResult",
    "RunSummary",
    "WarmKernel",
    "_close_matches",
    "_kernel_env",
    "_sha256_json",
    "_stored_key",
    "discover_analyses",
    "effective_jobs",
    "load_registry",
    "notebook_fingerprint",
    "notebook_imports",
    "package_digest",
    "remove_stale_kernel_dirs",
    "report_dirname",
    "report_key",
    "run_cli",
    "run_reports",
    "select_kommuner",
    "slugify",
]
