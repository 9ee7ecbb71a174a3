"""Batch runner: execute the analysis notebooks for many kommuner with papermill.

``boso reports --kommune 3203 3903`` (or ``--fylke 32`` / ``--all``) writes
``reports/<kommunenummer>-<slug>/<analysis>.ipynb`` for every notebook in ``notebooks/``.

How it stays correct:

* **Incremental.** Each report has a key, the SHA-256 over: the source notebook with outputs and
  execution counts stripped, the parameters, the content hashes of the processed tables the
  notebook declares in ``metadata.boso.reads`` (``{kommunenummer}`` filled in; a missing file
  hashes as ``"absent"``; without ``reads`` every file in ``data/processed`` counts),
  ``boso.__version__`` and a digest of the ``boso`` package's source and data files that notebooks
  use (so a fix in ``boso.figures`` re-runs the reports even when nobody bumped the version;
  fetchers, build, site, CLI and this runner are left out, see :func:`package_digest`). The key is
  written to ``reports/<dir>/.<analysis>.key`` (JSON: the key and the parts it was built
  from, to see why a report re-ran) only after a successful run; a report is skipped
  when its stored key equals the new one and the report file exists. File hashes are cached in
  ``reports/.boso-cache.json`` by ``(path, size, mtime_ns)``, so a no-op rerun does not re-read
  parquet files, yet a touched-but-unchanged file still hashes the same (content, not time).
* **Failure isolation.** Every report runs on its own; an error is caught, written to
  ``<analysis>.error.txt`` (plus the partially executed notebook, papermill's error markers
  included, as ``<analysis>.error.ipynb``) and the other reports carry on. A report is written to
  a temporary file and moved into place only on success, so a failed rerun never destroys the
  previous good report. Success removes stale error files.

How it stays fast (see ``../shared/docs/toolchain-notes.md``: most of the per-notebook time is
process start-up, ``import papermill``, kernel start/shutdown and kernel-side imports):

* ``--jobs`` worker processes (spawn context), each importing papermill once.
* Each worker keeps **one warm IPython kernel** and executes notebook after notebook in it
  through a papermill engine (``boso-warm``), so the output is a normal papermill notebook
  (``injected-parameters`` cell, ``metadata.papermill``, per-cell timing). At start-up the
  kernel pre-imports the modules the notebooks import. Between notebooks the kernel is reset:
  ``InteractiveShell.reset(new_session=True)`` (empties the user namespace and restarts
  execution counts at 1), and the working directory, ``os.environ``, ``sys.path``, warning
  filters, pandas options and plotly's default template/renderer are restored to their state
  after warm-up. Imported modules stay loaded (that is the point); module-level state that a
  notebook mutates in some other library is not reset, so notebooks must not depend on it.
  After any failure the kernel is restarted, so a broken kernel never leaks into the next one.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boso
from boso.config import paths
from boso.errors import DataError, QueryError

#: The analyses in the order a reader meets them; other notebooks follow alphabetically.
ANALYSES = [
    "befolkning",
    "levekar",
    "boligpriser",
    "startlan",
    "kommunale_boliger",
    "boligbehov",
]

ENGINE_NAME = "boso-warm"
CACHE_FILE = ".boso-cache.json"
MANIFEST_FILE = "manifest.json"
KERNEL_DIR_PREFIX = "boso-kernel-"  # + owner pid: socket folders under $TMPDIR
#: A cell that runs longer than this is a hang, not an analysis.
CELL_TIMEOUT = 600
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

OK, SKIPPED, FAILED = "ok", "skipped", "failed"
_LABELS = {OK: "ok", SKIPPED: "hoppet over", FAILED: "feilet"}


# --------------------------------------------------------------------------------------------
# Pure helpers


def slugify(name: str) -> str:
    """Directory slug of a kommune name: lower-case, æ→ae ø→o å→a, other characters → ``-``.

    Delegates to :func:`boso.kommune.slug` so that the runner, the site and the notebooks agree
    on one spelling of every folder name.

    Args:
        name: Kommune name, e.g. ``"Bø (Nordland)"``.

    Returns:
        The slug, e.g. ``"bo-nordland"``.
    """
    from boso.kommune import slug

    return slug(name)


def report_dirname(kommunenummer: str, kommunenavn: str) -> str:
    """``<kommunenummer>-<slug>``, the folder of one kommune's reports."""
    return f"{kommunenummer}-{slugify(kommunenavn)}"


def _close_matches(value: str, candidates: Iterable[str], n: int = 5) -> str:
    candidates = sorted(set(candidates))
    near = difflib.get_close_matches(value, candidates, n=n, cutoff=0.5)
    if not near and len(value) >= 2:
        near = [c for c in candidates if c[:2] == value[:2]][:n]
    return f" (mente du {', '.join(near)}?)" if near else ""


def select_kommuner(
    registry: Any,
    kommune: Sequence[str] | None = None,
    fylke: Sequence[str] | None = None,
    all_kommuner: bool = False,
) -> list[tuple[str, str]]:
    """Choose kommuner from the registry.

    Args:
        registry: DataFrame with at least ``kommunenummer``, ``kommunenavn``, ``fylkesnummer``.
        kommune: Kommune codes (validated against the registry).
        fylke: Fylke codes; every kommune whose ``fylkesnummer`` matches is chosen.
        all_kommuner: Choose every kommune in the registry.

    Returns:
        ``(kommunenummer, kommunenavn)`` pairs, sorted by code, without duplicates.

    Raises:
        QueryError: An unknown kommune or fylke code (close matches in the message), or no
            selection at all.
    """
    for column in ("kommunenummer", "kommunenavn", "fylkesnummer"):
        if column not in registry.columns:
            raise DataError(f"kommuneregisteret mangler kolonnen {column!r}")
    codes = registry["kommunenummer"].astype(str).tolist()
    names = dict(zip(codes, registry["kommunenavn"].astype(str), strict=True))
    fylker = dict(zip(codes, registry["fylkesnummer"].astype(str), strict=True))
    chosen: list[str] = []
    if all_kommuner:
        chosen = codes
    elif kommune:
        for raw in kommune:
            code = str(raw).strip()
            if code.isdigit() and len(code) < 4:
                code = code.zfill(4)
            if code not in names:
                raise QueryError(f"ukjent kommunenummer {raw!r}{_close_matches(code, codes)}")
            chosen.append(code)
    elif fylke:
        known = set(fylker.values())
        for raw in fylke:
            code = str(raw).strip()
            if code.isdigit() and len(code) < 2:
                code = code.zfill(2)
            if code not in known:
                raise QueryError(f"ukjent fylkesnummer {raw!r}{_close_matches(code, known)}")
            chosen.extend(k for k, f in fylker.items() if f == code)
    else:
        raise QueryError("velg kommuner med --kommune, --fylke eller --all")
    return [(code, names[code]) for code in sorted(set(chosen))]


def notebook_fingerprint(nb: dict[str, Any]) -> str:
    """SHA-256 of what in a notebook decides its output: cell types, sources, tags, metadata.

    Outputs, execution counts and papermill's own metadata are left out, so saving a notebook
    after running it in JupyterLab does not trigger a rerun.
    """
    cells = []
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        tags = (cell.get("metadata") or {}).get("tags", [])
        cells.append([cell.get("cell_type"), source, sorted(tags)])
    meta = {k: v for k, v in (nb.get("metadata") or {}).items() if k in ("boso", "kernelspec")}
    return _sha256_json({"cells": cells, "metadata": meta})


def notebook_reads(nb: dict[str, Any]) -> list[str] | None:
    """The processed-table stems a notebook declares in ``metadata.boso.reads`` (or None)."""
    reads = ((nb.get("metadata") or {}).get("boso") or {}).get("reads")
    if reads is None:
        return None
    if not isinstance(reads, list) or not all(isinstance(r, str) for r in reads):
        raise DataError("metadata.boso.reads må være en liste med filnavn (uten .parquet)")
    return reads


def report_key(
    notebook: str,
    parameters: dict[str, Any],
    inputs: dict[str, str],
    code: str,
) -> str:
    """The content key of one report (see the module docstring).

    Args:
        notebook: :func:`notebook_fingerprint` of the source notebook.
        parameters: The injected papermill parameters.
        inputs: Processed file stem → content SHA-256 (or ``"absent"``).
        code: Digest of the boso package (:func:`package_digest`).
    """
    return _sha256_json(
        {
            "notebook": notebook,
            "parameters": parameters,
            "inputs": dict(sorted(inputs.items())),
            "boso": boso.__version__,
            "code": code,
        }
    )


def _sha256_json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def notebook_imports(nb: dict[str, Any]) -> list[str]:
    """Top-level modules a notebook imports (to pre-import them in the warm kernel)."""
    found: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        # IPython magics and shell escapes are not Python; drop those lines before parsing.
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append(node.module)
                # ``from boso import figures`` imports the submodule boso.figures.
                found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------------------------
# Content hashes with a (path, size, mtime_ns) cache


class FileHasher:
    """SHA-256 of files, cached by ``(size, mtime_ns)`` in a JSON file between runs.

    The cache only avoids re-reading unchanged files; a file whose mtime changed is re-hashed
    and, if its content is the same, yields the same hash (decisions stay content based).
    """

    def __init__(self, cache_path: Path | None = None) -> None:
        self.cache_path = cache_path
        self._memo: dict[str, str] = {}
        self._cache: dict[str, dict[str, Any]] = {}
        self._dirty = False
        if cache_path and cache_path.is_file():
            try:
                loaded = json.loads(cache_path.read_text("utf-8"))
                if isinstance(loaded, dict):
                    self._cache = loaded.get("files", {})
            except (OSError, ValueError):
                self._cache = {}  # a corrupt cache only costs a re-hash

    def hash(self, path: Path) -> str:
        """Content SHA-256 of ``path``, or ``"absent"`` when it does not exist."""
        key = str(path.resolve())
        if key in self._memo:
            return self._memo[key]
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._memo[key] = "absent"
            return "absent"
        cached = self._cache.get(key)
        if (
            cached
            and cached.get("size") == stat.st_size
            and cached.get("mtime") == stat.st_mtime_ns
        ):
            digest = cached["sha256"]
        else:
            digest = _sha256_file(path)
            self._cache[key] = {"size": stat.st_size, "mtime": stat.st_mtime_ns, "sha256": digest}
            self._dirty = True
        self._memo[key] = digest
        return digest

    def save(self) -> None:
        """Write the cache back (only when something changed)."""
        if not (self.cache_path and self._dirty):
            return
        live = {k: v for k, v in self._cache.items() if Path(k).exists()}
        _atomic_write(self.cache_path, json.dumps({"files": live}, indent=0, sort_keys=True))
        self._dirty = False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Parts of the package that cannot change a report's content: the fetchers and the build
#: (their effect reaches reports through the processed files, which are hashed), the site's
#: templates and assets, the chapter documents (built from reports), the CLI and this runner.
_NOT_REPORT_CODE = (
    "sources/",
    "chapter/",
    "templates/",
    "assets/",
    "cli.py",
    "build.py",
    "site.py",
    "reports.py",
)


def package_digest() -> str:
    """Digest of the ``boso`` package files that notebooks run (see ``_NOT_REPORT_CODE``).

    Source rather than ``__version__`` alone: a fix in, say, ``boso.figures`` re-runs the reports
    although nobody bumped the version.
    """
    root = Path(boso.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if (
            not path.is_file()
            or "__pycache__" in path.parts
            or path.suffix in (".pyc", ".pyo")
            or rel.startswith(_NOT_REPORT_CODE)
        ):
            continue
        digest.update(rel.encode())
        digest.update(_sha256_file(path).encode())
    return digest.hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary project files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------
# Results


@dataclass
class ReportResult:
    """Outcome of one (kommune, analysis) report."""

    kommunenummer: str
    kommunenavn: str
    analysis: str
    path: Path
    status: str
    seconds: float = 0.0
    error: str = ""
    error_file: Path | None = None


@dataclass
class RunSummary:
    """All results of one ``run_reports`` call."""

    results: list[ReportResult] = field(default_factory=list)
    seconds: float = 0.0

    def _with(self, status: str) -> list[ReportResult]:
        return [r for r in self.results if r.status == status]

    @property
    def ok(self) -> list[ReportResult]:
        """Reports executed successfully in this run."""
        return self._with(OK)

    @property
    def skipped(self) -> list[ReportResult]:
        """Reports left alone because nothing they depend on changed."""
        return self._with(SKIPPED)

    @property
    def failed(self) -> list[ReportResult]:
        """Reports whose run failed (their error file names the cause)."""
        return self._with(FAILED)

    @property
    def exit_code(self) -> int:
        """1 when any report failed, else 0."""
        return 1 if self.failed else 0

    def table(self) -> str:
        """A plain-text summary in bokmål: counts per analysis, then one line per failure."""
        analyses = list(dict.fromkeys(r.analysis for r in self.results))
        width = max([len("analyse"), *(len(a) for a in analyses)]) + 2
        head = f"{'analyse':<{width}}{'ok':>6}{'hoppet over':>13}{'feilet':>8}"
        lines = [head, "-" * len(head)]
        for analysis in [*analyses, "totalt"]:
            rows = [r for r in self.results if analysis in ("totalt", r.analysis)]
            counts = [sum(r.status == s for r in rows) for s in (OK, SKIPPED, FAILED)]
            if analysis == "totalt":
                lines.append("-" * len(head))
            lines.append(f"{analysis:<{width}}{counts[0]:>6}{counts[1]:>13}{counts[2]:>8}")
        if self.failed:
            lines += ["", "Feilet:"]
            for r in self.failed:
                where = f" (se {r.error_file})" if r.error_file else ""
                lines.append(
                    f"  {r.kommunenummer} {r.kommunenavn} / {r.analysis}: {r.error}{where}"
                )
        lines.append(f"\nTid: {self.seconds:.1f} s")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The warm kernel and its papermill engine (used inside worker processes)


_RESET_TEMPLATE = """
def __boso_reset():
    import gc, os, sys, warnings
    state = sys.modules["__boso_warm_state__"]
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
                try:
                    if pd.get_option(key) != value:
                        pd.set_option(key, value)
                except Exception:
                    pass
    pio = sys.modules.get("plotly.io")
    if pio is not None and state.plotly is not None:
        pio.templates.default, pio.renderers.default = state.plotly
__boso_reset()
"""

_SNAPSHOT_TEMPLATE = """
def __boso_snapshot():
    import os, sys, types, warnings
    state = types.ModuleType("__boso_warm_state__")
    state.cwd = {cwd!r}
    os.chdir(state.cwd)
    state.environ = dict(os.environ)
    state.path = list(sys.path)
    state.filters = list(warnings.filters)
    state.pandas_options = None
    pd = sys.modules.get("pandas")
    if pd is not None:
        try:
            from pandas._config.config import _registered_options
            state.pandas_options = {{k: pd.get_option(k) for k in _registered_options}}
        except Exception:
            state.pandas_options = None
    state.plotly = None
    pio = sys.modules.get("plotly.io")
    if pio is not None:
        state.plotly = (pio.templates.default, pio.renderers.default)
    sys.modules["__boso_warm_state__"] = state
__boso_snapshot()
"""

_WARMUP_TEMPLATE = """
def __boso_warmup(modules):
    import importlib
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    import sys
    go = sys.modules.get("plotly.graph_objects")
    if go is not None:
        # The first figure pays for plotly's lazily built validators; pay it once here.
        try:
            go.Figure(go.Scatter(x=[1], y=[1]), layout={{"title": "x"}}).to_plotly_json()
        except Exception:
            pass
__boso_warmup({modules!r})
"""


class WarmKernel:
    """One IPython kernel that executes many notebooks, reset between them.

    Args:
        kernel_name: Kernel spec name (``python3``).
        cwd: Working directory the notebooks run in (restored before every notebook).
        preload: Modules to import once at start-up.
    """

    def __init__(self, kernel_name: str, cwd: Path, preload: Sequence[str] = ()) -> None:
        self.kernel_name = kernel_name
        self.cwd = Path(cwd)
        self.preload = list(preload)
        self.km: Any = None
        self.kc: Any = None
        self.notebooks = 0
        self._sockets: str | None = None

    def start(self) -> None:
        """Start the kernel, import the preload modules and snapshot the clean state."""
        self.launch()
        self.ready()

    def launch(self) -> None:
        """Start the kernel process without waiting for it (the caller can work meanwhile)."""
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        # Async manager/client, as nbclient uses: its execute loop awaits the client's calls.
        # IPC sockets in a private temp dir: no TCP ports to pick (ipykernel warns about
        # unencrypted TCP) and nothing left in the working directory.
        # The owner's pid in the name lets a later run remove it once this process is gone.
        self._sockets = tempfile.mkdtemp(prefix=f"{KERNEL_DIR_PREFIX}{os.getpid()}-")
        self.km = AsyncKernelManager(
            kernel_name=self.kernel_name, transport="ipc", ip=os.path.join(self._sockets, "k")
        )
        run_sync(self.km.start_kernel)(
            cwd=str(self.cwd), extra_arguments=["--HistoryManager.enabled=False"]
        )

    def ready(self) -> None:
        """Wait for the launched kernel, pre-import the modules, snapshot the clean state."""
        from jupyter_core.utils import run_sync

        self.kc = self.km.client()
        self.kc.start_channels()
        run_sync(self.kc.wait_for_ready)(timeout=60)
        self.kc.allow_stdin = False
        self._run_silent(_WARMUP_TEMPLATE.format(modules=self.preload))
        self._run_silent(_SNAPSHOT_TEMPLATE.format(cwd=str(self.cwd)))
        self.notebooks = 0

    def _run_silent(self, code: str, timeout: float = 120) -> None:
        from jupyter_core.utils import run_sync

        reply = run_sync(self.kc.execute_interactive)(
            code, silent=True, store_history=False, timeout=timeout, output_hook=lambda msg: None
        )
        if reply["content"].get("status") != "ok":
            content = reply["content"]
            raise RuntimeError(f"warm kernel: {content.get('ename')}: {content.get('evalue')}")

    def reset(self) -> None:
        """Give the next notebook a clean namespace (imports stay loaded)."""
        if not self.alive():
            self.close()
            self.start()
        elif self.notebooks:
            self._run_silent(_RESET_TEMPLATE)
        self.notebooks += 1

    def restart(self) -> None:
        """Throw the kernel away and start a fresh one (after a failure)."""
        self.close()
        self.start()

    def kill_now(self) -> None:
        """Kill the kernel process and remove its sockets at once (no event loop needed)."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(Exception):
                process.kill()
        if self._sockets:
            shutil.rmtree(self._sockets, ignore_errors=True)

    def alive(self) -> bool:
        """Whether the kernel process is running."""
        from jupyter_core.utils import run_sync

        return self.km is not None and bool(run_sync(self.km.is_alive)())

    def close(self) -> None:
        """Stop the kernel (quietly: this also runs at interpreter exit)."""
        from jupyter_core.utils import run_sync

        try:
            if self.kc is not None:
                self.kc.stop_channels()
            if self.km is not None and self.km.has_kernel:
                run_sync(self.km.shutdown_kernel)(now=True)
            if self.km is not None:
                run_sync(self.km.cleanup_resources)()
        except Exception:  # noqa: S110 - shutting down a dead kernel may fail; nothing to do
            pass
        if self._sockets:
            shutil.rmtree(self._sockets, ignore_errors=True)
        self.km = self.kc = None
        self._sockets = None


#: The worker's kernel (one per process). The engine reads it; the worker sets it.
_CURRENT: WarmKernel | None = None


def _make_engine() -> type:
    """The papermill engine class (built lazily: importing papermill costs ~0.5 s)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import Engine
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class WarmKernelEngine(Engine):
        """papermill engine that runs the notebook in the worker's warm kernel."""

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            **kwargs: Any,
        ) -> Any:
            kernel = _CURRENT
            if kernel is None:
                raise RuntimeError("boso-warm: no warm kernel in this process")
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = PapermillNotebookClient(nb_man, km=kernel.km, **final)
            # A client we hand in is kept alive by nbclient (it does not own the manager).
            client.kc = kernel.kc
            return client.execute()

    return WarmKernelEngine


# --------------------------------------------------------------------------------------------
# Worker side


@dataclass(frozen=True)
class _Task:
    kommunenummer: str
    kommunenavn: str
    analysis: str
    notebook: str
    output: str
    key: str
    #: What went into the key, stored beside it to explain why a report re-ran.
    key_parts: dict[str, Any]
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
    global _CURRENT
    for kernel in _WORKER.get("kernels", {}).values():
        kernel.close()
    _WORKER["kernels"] = {}
    _CURRENT = None


def _kill_kernels_now() -> None:
    # Called from the watchdog thread when the parent died: no asyncio, no waiting.
    for kernel in list(_WORKER.get("kernels", {}).values()):
        kernel.kill_now()


def remove_stale_kernel_dirs() -> list[Path]:
    """Remove the kernel socket folders (``$TMPDIR/boso-kernel-<pid>-…``) of dead runs."""
    from boso.lifetime import remove_stale

    # Folders of versions that did not name their owner: stale after a day.
    return remove_stale(Path(tempfile.gettempdir()), KERNEL_DIR_PREFIX, unowned_after=86400)


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
    global _CURRENT
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
    error_nb = output.with_name(f"{task.analysis}.error.ipynb")
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
        _CURRENT = kernel
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
        tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
        nbformat.write(nb, str(tmp))
        os.replace(tmp, output)
        error_txt.unlink(missing_ok=True)
        error_nb.unlink(missing_ok=True)
        _atomic_write(
            key_file, json.dumps({"key": task.key, **task.key_parts}, indent=1, sort_keys=True)
        )
        return {"status": OK, "seconds": time.perf_counter() - start}
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


# --------------------------------------------------------------------------------------------
# Parent side


def discover_analyses(notebooks_dir: Path) -> dict[str, Path]:
    """Analysis name → notebook path for every ``*.ipynb`` in ``notebooks_dir``.

    Raises:
        DataError: The folder has no notebooks.
    """
    found = {p.stem: p for p in sorted(notebooks_dir.glob("*.ipynb")) if not p.stem.startswith(".")}
    if not found:
        raise DataError(f"{notebooks_dir}: ingen notatbøker (*.ipynb) å kjøre")
    order = [a for a in ANALYSES if a in found] + sorted(set(found) - set(ANALYSES))
    return {name: found[name] for name in order}


def load_registry(processed_dir: Path | None = None) -> Any:
    """The kommune registry (``core_klass__kommuner``).

    Uses ``boso.processed.kommuner()`` for the project's own data, else reads the parquet file
    in ``processed_dir``.

    Raises:
        DataError: The registry has not been built yet.
    """
    default = paths().processed
    if processed_dir is None or Path(processed_dir).resolve() == default.resolve():
        try:
            from boso.processed import kommuner
        except ImportError:
            pass
        else:
            return kommuner()
        processed_dir = default
    path = Path(processed_dir) / "core_klass__kommuner.parquet"
    if not path.is_file():
        raise DataError(f"{path} mangler: kjør `boso build` først")
    import pandas as pd

    frame = pd.read_parquet(path)
    for column in ("kommunenummer", "fylkesnummer"):
        if column in frame.columns:
            frame[column] = frame[column].astype(str)
    return frame


def _read_notebook(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: ikke en gyldig notatbok ({exc})") from exc


def _kernel_env(processed_dir: Path | None) -> dict[str, str]:
    """Environment for the kernels: BOSO_HOME pointing at the root that owns ``processed_dir``."""
    if processed_dir is None:
        return {}
    processed_dir = Path(processed_dir).resolve()
    if processed_dir.name == "processed" and processed_dir.parent.name == "data":
        return {"BOSO_HOME": str(processed_dir.parent.parent)}
    return {}


def run_reports(
    kommuner: list[str],
    analyses: list[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    notebooks_dir: str | Path | None = None,
    reports_dir: str | Path | None = None,
    processed_dir: str | Path | None = None,
    progress: bool = True,
    registry: Any = None,
) -> RunSummary:
    """Execute the analysis notebooks for ``kommuner`` (incremental, parallel, isolated).

    Workers are started with the ``spawn`` method, which re-imports the caller's main module:
    from a script, call this under ``if __name__ == "__main__":``.

    Args:
        kommuner: Kommune codes (validated against the registry).
        analyses: Notebook stems to run (default: every notebook in ``notebooks_dir``).
        jobs: Worker processes (default: the number of cores, but fewer for small runs, see
            :func:`effective_jobs`; 1 runs in this process).
        force: Run even reports whose inputs did not change.
        notebooks_dir: Source notebooks (default ``notebooks/``).
        reports_dir: Output root (default ``reports/``).
        processed_dir: Processed tables the notebooks read (default ``data/processed``); its
            files' content hashes decide what is up to date.
        progress: Show a tqdm progress bar on stderr.
        registry: Kommune registry DataFrame (default :func:`load_registry`), injectable for
            tests and callers that already have it.

    Returns:
        A :class:`RunSummary`; ``summary.exit_code`` is non-zero when any report failed.

    Raises:
        QueryError: Unknown kommune or analysis.
        DataError: Missing notebooks or registry, or a malformed notebook.
    """
    started = time.perf_counter()
    project = paths()
    notebooks_dir = Path(notebooks_dir or project.notebooks).resolve()
    reports_dir = Path(reports_dir or project.reports).resolve()
    processed_root = Path(processed_dir or project.processed).resolve()
    remove_stale_kernel_dirs()  # what killed runs left in $TMPDIR
    if registry is None:
        registry = load_registry(processed_root)
    selected = select_kommuner(registry, kommune=kommuner)

    available = discover_analyses(notebooks_dir)
    if analyses:
        for name in analyses:
            if name not in available:
                raise QueryError(f"ukjent analyse {name!r}{_close_matches(name, available)}")
        chosen = {name: available[name] for name in dict.fromkeys(analyses)}
    else:
        chosen = available

    hasher = FileHasher(reports_dir / CACHE_FILE)
    code = package_digest()
    all_processed = sorted(p.stem for p in processed_root.glob("*.parquet"))
    notebooks = {name: _read_notebook(path) for name, path in chosen.items()}
    fingerprints = {name: notebook_fingerprint(nb) for name, nb in notebooks.items()}
    reads = {name: notebook_reads(nb) for name, nb in notebooks.items()}

    summary = RunSummary()
    tasks: list[_Task] = []
    for kommunenummer, kommunenavn in selected:
        folder = reports_dir / report_dirname(kommunenummer, kommunenavn)
        for name, path in chosen.items():
            parameters = {"kommunenummer": kommunenummer}
            stems = reads[name]
            if stems is None:
                stems = all_processed
            else:
                stems = [s.replace("{kommunenummer}", kommunenummer) for s in stems]
            inputs = {s: hasher.hash(processed_root / f"{s}.parquet") for s in stems}
            key = report_key(fingerprints[name], parameters, inputs, code)
            parts = {"notebook": fingerprints[name], "inputs": inputs, "code": code}
            output = folder / f"{name}.ipynb"
            if not force and output.is_file() and _stored_key(folder, name) == key:
                summary.results.append(
                    ReportResult(kommunenummer, kommunenavn, name, output, SKIPPED)
                )
                continue
            tasks.append(
                _Task(
                    kommunenummer,
                    kommunenavn,
                    name,
                    str(path),
                    str(output),
                    key,
                    parts,
                    parameters,
                )
            )
    hasher.save()

    if tasks:
        preload = ["boso"]
        for nb in notebooks.values():
            preload.extend(notebook_imports(nb))
        preload = list(dict.fromkeys(preload))
        kernel_names = {
            ((nb.get("metadata") or {}).get("kernelspec") or {}).get("name") or "python3"
            for nb in notebooks.values()
        }
        summary.results.extend(
            _execute(
                tasks,
                jobs,
                (str(notebooks_dir), preload, _kernel_env(processed_dir), min(kernel_names)),
                progress,
            )
        )
    summary.seconds = time.perf_counter() - started
    _update_manifest(reports_dir, summary, notebooks)
    return summary


def _stored_key(folder: Path, analysis: str) -> str | None:
    try:
        return json.loads((folder / f".{analysis}.key").read_text("utf-8")).get("key")
    except (OSError, ValueError, AttributeError):
        return None


#: With the default ``jobs``, each worker gets at least this many reports: a worker costs a
#: process, a kernel and its imports (~3 s), a report ~0.5 s, so for one kommune's five
#: reports a single in-process worker is faster than two.
TASKS_PER_WORKER = 8


def effective_jobs(requested: int | None, tasks: int) -> int:
    """Worker count: ``requested`` (capped at ``tasks``), else cores, but few for small runs."""
    if requested:
        return max(1, min(requested, tasks))
    return max(1, min(os.cpu_count() or 1, tasks // TASKS_PER_WORKER))


def _execute(
    tasks: list[_Task],
    jobs: int | None,
    init: tuple[str, list[str], dict[str, str], str],
    progress: bool,
) -> list[ReportResult]:
    """Run ``tasks`` in ``jobs`` worker processes (in this process when jobs == 1).

    ``init`` holds the arguments of :func:`_worker_init`.
    """
    from tqdm import tqdm

    jobs = effective_jobs(jobs, len(tasks))
    results: list[ReportResult] = []
    bar = tqdm(total=len(tasks), unit="rapport", desc="rapporter", disable=not progress)

    def record(task: _Task, outcome: dict[str, Any]) -> None:
        results.append(
            ReportResult(
                task.kommunenummer,
                task.kommunenavn,
                task.analysis,
                Path(task.output),
                outcome["status"],
                outcome.get("seconds", 0.0),
                outcome.get("error", ""),
                Path(outcome["error_file"]) if outcome.get("error_file") else None,
            )
        )
        bar.update(1)

    try:
        if jobs == 1:
            saved_env = dict(os.environ)
            try:
                _worker_init(*init)
                for task in tasks:
                    record(task, _execute_task(task))
            finally:
                _worker_close()
                os.environ.clear()
                os.environ.update(saved_env)
        else:
            _execute_pool(tasks, jobs, init, record)
    finally:
        bar.close()
    return results


def _execute_pool(
    tasks: list[_Task],
    jobs: int,
    init: tuple[str, list[str], dict[str, str], str],
    record: Callable[[_Task, dict[str, Any]], None],
) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # spawn: a forked copy of a parent holding pandas/zmq state is not safe for kernels.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_worker_init, initargs=init
    ) as pool:
        futures = {pool.submit(_execute_task, task): task for task in tasks}
        try:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    outcome = {"status": FAILED, "error": f"arbeidsprosessen døde: {exc}"}
                except Exception as exc:
                    outcome = {"status": FAILED, "error": f"{type(exc).__name__}: {exc}"}
                record(task, outcome)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _update_manifest(reports_dir: Path, summary: RunSummary, notebooks: dict[str, Any]) -> None:
    """Keep ``reports/manifest.json``: every good report with its kommune, analysis and title.

    The site build can list reports from it instead of globbing folders.
    """
    path = reports_dir / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        manifest = {}
    entries = {e["path"]: e for e in manifest.get("reports", []) if isinstance(e, dict)}
    changed = False
    for r in summary.results:
        rel = r.path.relative_to(reports_dir).as_posix()
        if r.status == FAILED and not r.path.is_file():
            changed |= entries.pop(rel, None) is not None
            continue
        title = ((notebooks.get(r.analysis) or {}).get("metadata", {}).get("boso") or {}).get(
            "title", r.analysis
        )
        entry = {
            "path": rel,
            "kommunenummer": r.kommunenummer,
            "kommunenavn": r.kommunenavn,
            "analysis": r.analysis,
            "title": title,
            "error": r.status == FAILED,
        }
        if entries.get(rel) != entry:
            entries[rel] = entry
            changed = True
    if changed or not path.is_file():
        ordered = sorted(entries.values(), key=lambda e: (e["kommunenummer"], e["path"]))
        _atomic_write(path, json.dumps({"reports": ordered}, ensure_ascii=False, indent=1))


def run_cli(args: argparse.Namespace) -> int:
    """``boso reports``: choose kommuner, run, print the summary; 1 when any report failed."""
    registry = load_registry()
    selected = select_kommuner(
        registry, kommune=args.kommune, fylke=args.fylke, all_kommuner=bool(args.all)
    )
    summary = run_reports(
        [code for code, _ in selected],
        analyses=args.analysis,
        jobs=args.jobs,
        force=args.force,
        progress=True,
        registry=registry,
    )
    print(summary.table())
    return summary.exit_code
