"""The report cache: content hashes, report keys, stored keys and the reports manifest.

Each report has a key, the SHA-256 over: the source notebook with outputs and execution counts
stripped (:func:`notebook_fingerprint`), the parameters, the content hashes of the processed
tables the notebook *read* the last time it ran (recorded in the kernel, see
:mod:`boso.reports.kernel_side`; a missing file hashes as ``"absent"``), ``boso.__version__`` and
a digest of the ``boso`` package's source and data files that notebooks use (so a fix in
``boso.figures`` re-runs the reports even when nobody bumped the version; fetchers, build, site,
CLI and the runner are left out, see :func:`package_digest`).

The key is written to ``reports/<dir>/.<analysis>.key`` (JSON: the key, the tables read and the
other parts it was built from, to see why a report re-ran) only after a successful run. A report
is skipped when its stored key equals the key recomputed over the tables it read last time and
the report file exists; a report without a stored record of its reads always runs. File hashes
are cached in ``reports/.boso-cache.json`` by ``(path, size, mtime_ns)``, so a no-op rerun does
not re-read parquet files, yet a touched-but-unchanged file still hashes the same (content, not
time).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import boso
from boso.reports.results import FAILED, RunSummary

CACHE_FILE = ".boso-cache.json"
MANIFEST_FILE = "manifest.json"


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
    "site/",
    "reports/",
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


def stored_record(folder: Path, analysis: str) -> dict[str, Any] | None:
    """The stored key record of a report (``.<analysis>.key``), or None when there is none."""
    try:
        record = json.loads((folder / f".{analysis}.key").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _stored_key(folder: Path, analysis: str) -> str | None:
    record = stored_record(folder, analysis)
    return record.get("key") if record else None


def input_name(path: str | Path, processed_root: Path) -> str:
    """How a read file is named in a key: its stem (``.parquet``) or name inside
    ``processed_root``, else its absolute path (keys stay valid when the project moves)."""
    path = Path(path)
    if path.parent == processed_root:
        return path.stem if path.suffix == ".parquet" else path.name
    return str(path)


def input_path(name: str, processed_root: Path) -> Path:
    """The file an input name of :func:`input_name` stands for."""
    if os.path.isabs(name):
        return Path(name)
    if Path(name).suffix:
        return processed_root / name
    return processed_root / f"{name}.parquet"


def write_stored_record(folder: Path, analysis: str, record: dict[str, Any]) -> None:
    """Write a report's key record (after a successful run only)."""
    _atomic_write(folder / f".{analysis}.key", json.dumps(record, indent=1, sort_keys=True))


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
