"""The warm kernel: one IPython kernel per worker that runs notebook after notebook.

Each worker keeps one warm kernel and executes its notebooks in it through a papermill engine
(``boso-warm``), so the output is a normal papermill notebook (``injected-parameters`` cell,
``metadata.papermill``, per-cell timing). At start-up the kernel pre-imports the modules the
notebooks import (:func:`notebook_imports`); between notebooks it is reset. The code that runs
inside the kernel lives in :mod:`boso.reports.kernel_side`; this module only calls into it.
After any failure the kernel is restarted, so a broken kernel never leaks into the next notebook.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ENGINE_NAME = "boso-warm"
KERNEL_DIR_PREFIX = "boso-kernel-"  # + owner pid: socket folders under $TMPDIR
#: A cell that runs longer than this is a hang, not an analysis.
CELL_TIMEOUT = 600

#: How the runner reaches the kernel-side module without leaving a name in the notebook's
#: namespace (the first notebook runs in the namespace warm-up leaves behind).
_SIDE = '__import__("boso.reports.kernel_side", fromlist=["_"])'


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
        self._run_silent(f"{_SIDE}.warmup({self.preload!r})")
        self._run_silent(f"{_SIDE}.snapshot({str(self.cwd)!r})")
        self.notebooks = 0

    def _run_silent(self, code: str, timeout: float = 120, **kwargs: Any) -> dict[str, Any]:
        from jupyter_core.utils import run_sync

        reply = run_sync(self.kc.execute_interactive)(
            code,
            silent=True,
            store_history=False,
            timeout=timeout,
            output_hook=lambda msg: None,
            **kwargs,
        )
        if reply["content"].get("status") != "ok":
            content = reply["content"]
            raise RuntimeError(f"warm kernel: {content.get('ename')}: {content.get('evalue')}")
        return reply

    def reset(self) -> None:
        """Give the next notebook a clean namespace (imports stay loaded) and an empty read log."""
        if not self.alive():
            self.close()
            self.start()
        self._run_silent(f"{_SIDE}.begin_notebook({bool(self.notebooks)!r})")
        self.notebooks += 1

    def recorded_reads(self) -> list[str]:
        """Paths of the processed tables the last notebook opened (see ``kernel_side``)."""
        reply = self._run_silent("", user_expressions={"reads": f"{_SIDE}.recorded_reads()"})
        value = reply["content"]["user_expressions"]["reads"]
        if value.get("status") != "ok":
            raise RuntimeError(f"warm kernel: {value.get('ename')}: {value.get('evalue')}")
        # text/plain is the repr of the JSON string that recorded_reads returns.
        return list(json.loads(ast.literal_eval(value["data"]["text/plain"])))

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


def set_current(kernel: WarmKernel | None) -> None:
    """Make ``kernel`` the one the ``boso-warm`` engine runs the next notebook in."""
    global _CURRENT
    _CURRENT = kernel


def current() -> WarmKernel | None:
    """The kernel set by :func:`set_current` (None outside a worker)."""
    return _CURRENT


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
            kernel = current()
            if kernel is None:
                raise RuntimeError("boso-warm: ingen varm kjerne i denne prosessen")
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


def remove_stale_kernel_dirs() -> list[Path]:
    """Remove the kernel socket folders (``$TMPDIR/boso-kernel-<pid>-…``) of dead runs."""
    from boso.lifetime import remove_stale

    # Folders of versions that did not name their owner: stale after a day.
    return remove_stale(Path(tempfile.gettempdir()), KERNEL_DIR_PREFIX, unowned_after=86400)
