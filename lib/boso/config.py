"""Where boso keeps its files.

Every path is derived from one project root so that the library, the CLI, the batch runner and
the notebooks agree. The root is ``$BOSO_HOME`` when set, otherwise the checkout that contains
this package (an editable install), otherwise the current directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("BOSO_HOME")
    if env:
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "lib" / "boso").is_dir():
        return checkout
    return Path.cwd().resolve()


@dataclass(frozen=True)
class Paths:
    """The project's directories."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def site_source(self) -> Path:
        return self.root / "site_src"

    @property
    def site(self) -> Path:
        return self.root / "_site"


def paths(root: str | Path | None = None) -> Paths:
    """Return the project paths, for ``root`` or the discovered project root."""
    return Paths(Path(root).resolve() if root else _find_root())


def snapshot_dir() -> Path:
    """The offline snapshot: ``$BOSO_SNAPSHOT`` or ``../shared/snapshot`` beside the checkout."""
    env = os.environ.get("BOSO_SNAPSHOT")
    if env:
        return Path(env).resolve()
    return (paths().root.parent / "shared" / "snapshot").resolve()
