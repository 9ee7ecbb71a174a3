"""What a killed run leaves behind, and worker processes that outlive their parent.

``boso build``, ``boso site`` and ``boso reports`` write into temporary directories named after
the process that owns them (``…-<pid>…``) and swap the result in once. When such a run is killed
(``kill -9``), the next run removes what it left, but only once the owner is really gone, so two
runs at the same time do not remove each other's work. Worker processes watch their parent and
exit when it dies instead of running on for nobody.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    # A killed run's orphans are reaped by PID 1, which in some containers never happens: an
    # exited process then stays a zombie that still answers kill(pid, 0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "Z"


def owner(name: str, prefix: str) -> int | None:
    """The pid in ``<prefix><pid>[-…]`` (None when the name does not carry one)."""
    if not name.startswith(prefix):
        return None
    found = re.match(r"(\d+)(?:$|[-.])", name[len(prefix) :])
    return int(found.group(1)) if found else None


def remove_stale(parent: Path, prefix: str, unowned_after: float | None = None) -> list[Path]:
    """Remove the entries ``<prefix><pid>…`` in ``parent`` whose owning process is dead.

    Args:
        parent: The directory to look in.
        prefix: The name prefix, e.g. ``"._site.build-"``.
        unowned_after: Also remove entries without a pid in the name (left by versions that did
            not write one) when untouched for this many seconds.

    Returns:
        What was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for path in entries:
        if not path.name.startswith(prefix):
            continue
        pid = owner(path.name, prefix)
        if pid is None:
            try:
                age = time.time() - path.lstat().st_mtime
            except OSError:
                continue
            if unowned_after is None or age < unowned_after:
                continue
        elif pid == os.getpid() or pid_alive(pid):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns:
        False when the system or file system cannot do it (nothing was changed then).
    """
    if os.environ.get("BOSO_TEST_NO_EXCHANGE") or not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def exit_with_parent(cleanup: Callable[[], None] | None = None) -> None:
    """Make this worker process exit when the process that started it dies.

    Use as a ``ProcessPoolExecutor`` initializer (or call it from one). A daemon thread waits
    on the parent's multiprocessing sentinel (or polls ``os.getppid()`` outside
    multiprocessing), runs ``cleanup`` (e.g. stopping a kernel) and ends the process.

    Args:
        cleanup: Called once before exiting; its errors are ignored.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    parent_pid = parent.pid if parent is not None else os.getppid()

    def watch() -> None:
        if parent is not None and parent.sentinel is not None:
            wait([parent.sentinel])
        else:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
        if cleanup is not None:
            with contextlib.suppress(Exception):  # we are exiting anyway
                cleanup()
        os._exit(1)

    threading.Thread(target=watch, name="boso-exit-with-parent", daemon=True).start()
