"""Immutable raw store: files exactly as received, each with a provenance sidecar.

Layout::

    data/raw/<source>/<name>                      the file as received
    data/raw/<source>/<name>.provenance.json      url, query, fetched_at, sha256, source_updated
    data/raw/<source>/_history/<name>.<stamp>     earlier versions, never deleted

Writes are atomic (temporary file in the same directory, fsync, ``os.replace``). A new download
replaces the current file only after the caller's validator accepted it, and an SSB table only
when it covers as many kommuner, years and series as the stored one (:func:`check_coverage_kept`,
``--force`` to override); the previous version is moved to ``_history`` first, so nothing
already good is lost.

The offline snapshot (``../shared/snapshot``: ``MANIFEST.json`` plus ``ssb/ klass/ imdi/ geo/
municipal/``) is imported with :func:`import_snapshot`: every file is checked first, then written
into a copy of ``data/raw`` beside it and swapped in once (the swap of
:func:`boso.processed.replace_directory`). :func:`export_snapshot` packs ``data/raw`` back into
the same layout as a ``.tar.gz`` that :func:`import_snapshot` also accepts.
"""

from __future__ import annotations

import datetime as dt
import errno
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boso.config import paths
from boso.errors import DataError, json_problem

PROVENANCE_SUFFIX = ".provenance.json"
_UMASK = os.umask(0)
os.umask(_UMASK)
HISTORY_DIR = "_history"

# Snapshot folder -> raw source name. The register exports live under data/raw/register/.
SNAPSHOT_SOURCES = {
    "ssb": "ssb",
    "klass": "klass",
    "imdi": "imdi",
    "geo": "geo",
    "municipal": "register",
}


def sha256_bytes(content: bytes) -> str:
    """Hex SHA-256 of ``content``."""
    return hashlib.sha256(content).hexdigest()


def utc_now() -> str:
    """Current UTC time as an ISO-8601 string with seconds."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def atomic_write_bytes(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` so readers see either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; published data should get the usual permissions.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


@dataclass(frozen=True)
class RawFile:
    """One stored raw file and its provenance."""

    source: str
    name: str
    path: Path
    provenance: dict[str, Any]

    @property
    def synthetic(self) -> bool:
        return bool(self.provenance.get("synthetic", False))

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


class RawStore:
    """The ``data/raw`` directory.

    Args:
        root: Directory to use instead of the project's ``data/raw``.
        allow_shrink: Let a new version of a file cover less than the one it replaces
            (``--force``; see :func:`check_coverage_kept`).
    """

    def __init__(self, root: str | Path | None = None, *, allow_shrink: bool = False) -> None:
        self.root = Path(root) if root else paths().raw
        self.allow_shrink = allow_shrink
        if not self.root.exists():
            # A snapshot import killed between the two renames of the fallback swap: put the
            # old directory back (imported here: processed imports this module).
            from boso.processed import clean_leftovers

            clean_leftovers(self.root)

    def path(self, source: str, name: str) -> Path:
        """Where ``source/name`` is stored (whether or not it exists)."""
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise DataError(f"rå filnavn må ligge innenfor data/raw/{source}: {name!r}")
        return self.root / source / name

    def exists(self, source: str, name: str) -> bool:
        return self.path(source, name).is_file()

    def write(
        self,
        source: str,
        name: str,
        content: bytes,
        *,
        url: str,
        query: Any = None,
        source_updated: str | None = None,
        synthetic: bool = False,
        fetched_at: str | None = None,
        validate: Callable[[bytes], Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> RawFile:
        """Store a file as received, with provenance; keep any earlier version in ``_history``.

        Args:
            source: Source folder, e.g. ``"ssb"``.
            name: File name inside the source folder, e.g. ``"12008.json"``.
            content: The bytes exactly as received.
            url: Where they came from.
            query: The query sent (JSON-serialisable), if any.
            source_updated: The source's own ``updated`` timestamp, if it has one.
            synthetic: Whether the data are synthetic demo values.
            fetched_at: When they were fetched (default: now, UTC).
            validate: Called with ``content`` before anything is written; if it raises, the
                store is left untouched and the error propagates.
            extra: More provenance fields.

        Returns:
            The stored file.
        """
        if validate is not None:
            validate(content)
        target = self.path(source, name)
        digest = sha256_bytes(content)
        provenance: dict[str, Any] = {
            "source": source,
            "name": name,
            "url": url,
            "query": query,
            "fetched_at": fetched_at or utc_now(),
            "sha256": digest,
            "bytes": len(content),
            "source_updated": source_updated,
            "synthetic": synthetic,
        }
        if extra:
            provenance.update(extra)
        sidecar = target.with_name(target.name + PROVENANCE_SUFFIX)
        if target.is_file():
            old = target.read_bytes()
            if sha256_bytes(old) == digest:
                # Same bytes again: keep the original provenance (first fetch), nothing to do.
                return self.get(source, name)
            if not self.allow_shrink:
                check_coverage_kept(source, name, old, content)
            self._archive(target, sidecar)
        atomic_write_bytes(target, content)
        atomic_write_text(sidecar, json.dumps(provenance, ensure_ascii=False, indent=2) + "\n")
        return RawFile(source, name, target, provenance)

    def _archive(self, target: Path, sidecar: Path) -> None:
        history = target.parent / HISTORY_DIR
        history.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        shutil.copy2(target, history / f"{target.name}.{stamp}")
        if sidecar.is_file():
            shutil.copy2(sidecar, history / f"{sidecar.name}.{stamp}")

    def get(self, source: str, name: str) -> RawFile:
        """Return a stored file, or raise :class:`DataError` naming what is missing."""
        target = self.path(source, name)
        if not target.is_file():
            raise DataError(
                f"rå fil mangler: {target} (kjør `boso snapshot import` eller `boso fetch` først)"
            )
        sidecar = target.with_name(target.name + PROVENANCE_SUFFIX)
        provenance: Any = {}
        if sidecar.is_file():
            try:
                provenance = json.loads(sidecar.read_bytes())
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise DataError(
                    f"{sidecar}: proveniensfilen er ikke gyldig ({json_problem(exc)}); hent "
                    "eller importer filen på nytt"
                ) from None
            if not isinstance(provenance, dict):
                raise DataError(f"{sidecar}: proveniensfilen er ikke et JSON-objekt")
        return RawFile(source, name, target, provenance)

    def files(self, source: str | None = None) -> Iterator[RawFile]:
        """Iterate over the current (not historical) stored files, sorted by path."""
        base = self.root / source if source else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(self.root)
            if (
                not path.is_file()
                or path.name.endswith(PROVENANCE_SUFFIX)
                or HISTORY_DIR in rel.parts
                or path.name.startswith(".")
            ):
                continue
            yield self.get(rel.parts[0], "/".join(rel.parts[1:]))


# --------------------------------------------------------------------------------------------
# A new version may not cover less than the one it replaces


def check_coverage_kept(source: str, name: str, old: bytes, new: bytes) -> None:
    """Refuse a new SSB table that covers fewer kommuner, years or series than the stored one.

    The one rule for ``boso fetch`` and ``boso snapshot import`` (both store through
    :meth:`RawStore.write`): a partial answer or an older snapshot would otherwise silently
    drop kommuner or years from every report. Each dimension of the JSON-stat dataset is
    compared by its number of categories; a renumbered kommune does not count as a loss.
    KLASS answers have their own item check (``sources.klass.check_not_shrunk``); registers
    theirs (``register.store``).

    Args:
        source: Raw source folder; only ``ssb`` tables are compared.
        name: File name in the folder, e.g. ``12008.json``.
        old: The stored version.
        new: The version that would replace it.

    Raises:
        DataError: ``new`` has fewer categories than ``old`` in some dimension (one line
            naming the table, the dimensions, the counts and a few missing codes).
    """
    if source != "ssb" or not name.endswith(".json"):
        return
    from boso.jsonstat import read_jsonstat_categories

    try:
        before = read_jsonstat_categories(old)
    except DataError:
        return  # the stored file is unreadable itself; the new one may replace it
    try:
        after = read_jsonstat_categories(new)
    except DataError:
        return  # not for this rule to judge: the reader reports it with its own message
    shrunk = []
    for dim, codes in before.items():
        kept = after.get(dim, [])
        if len(kept) < len(codes):
            missing = [c for c in codes if c not in set(kept)]
            example = ", ".join(missing[:3]) + (" …" if len(missing) > 3 else "")
            shrunk.append(f"{dim} {len(codes)} → {len(kept)} (mangler {example})")
    if shrunk:
        raise DataError(
            f"{source}/{name}: den nye versjonen dekker mindre enn den lagrede: "
            f"{'; '.join(shrunk)}; den lagrede beholdes (bruk --force hvis det stemmer)"
        )


# --------------------------------------------------------------------------------------------
# Offline snapshots


def _read_manifest(read: Callable[[str], bytes], where: str) -> dict[str, Any]:
    try:
        manifest = json.loads(read("MANIFEST.json"))
    except FileNotFoundError as exc:
        raise DataError(f"{where}: ingen MANIFEST.json (ikke et boso-snapshot)") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{where}/MANIFEST.json: {json_problem(exc)}") from None
    if not isinstance(manifest.get("files"), list):
        raise DataError(f"{where}/MANIFEST.json: mangler listen 'files'")
    return manifest


def _source_updated(content: bytes, path: str) -> str | None:
    if not path.endswith(".json"):
        return None
    try:
        # Only SSB JSON-stat carries a top-level `updated`; cheap to find without parsing 3 MB.
        head = content[:4096].decode("utf-8", errors="replace")
        key = '"updated":"'
        at = head.find(key)
        if at < 0:
            key = '"updated": "'
            at = head.find(key)
        if at >= 0:
            start = at + len(key)
            return head[start : head.index('"', start)]
    except ValueError:
        return None
    return None


def import_snapshot(
    snapshot: str | Path,
    store: RawStore | None = None,
    *,
    on_file: Callable[[RawFile, dict[str, Any]], None] | None = None,
) -> list[RawFile]:
    """Load an offline snapshot into the raw store, checking every file's SHA-256.

    Args:
        snapshot: A snapshot directory (``MANIFEST.json`` + source folders) or a ``.tar.gz``
            written by :func:`export_snapshot`.
        store: Target store (default: the project's ``data/raw``).
        on_file: Called for each imported file with its manifest entry.

    Returns:
        The imported files.

    Raises:
        DataError: The snapshot is missing, has no manifest, a file does not match its
            recorded checksum, or an SSB table covers less than the stored one (unless the
            store allows it). Nothing is written then.
        OSError: Writing failed (full disk, read-only file system); ``data/raw`` is as before.
    """
    store = store or RawStore()
    snapshot = Path(snapshot)
    if snapshot.is_dir():

        def read(rel: str) -> bytes:
            return (snapshot / rel).read_bytes()

        return _import(read, str(snapshot), store, on_file)
    if snapshot.is_file() and snapshot.name.endswith((".tar.gz", ".tgz", ".tar")):
        members = _read_archive(snapshot)

        def read_member(rel: str) -> bytes:
            try:
                return members[rel]
            except KeyError as exc:
                raise FileNotFoundError(rel) from exc

        return _import(read_member, str(snapshot), store, on_file)
    raise DataError(f"snapshot ikke funnet: {snapshot} (ventet en mappe eller en .tar.gz)")


def _read_archive(archive_path: Path) -> dict[str, bytes]:
    """Every regular file of a snapshot archive, read in full before anything is imported.

    Raises:
        DataError: The archive is cut off or corrupt (one line; nothing has been written).
    """
    members: dict[str, bytes] = {}
    try:
        content = archive_path.read_bytes()
        if content[:2] == b"\x1f\x8b":
            # Decompress in full first: gzip's length and CRC check at the end of the stream
            # catches a cut or flipped byte that tarfile alone may read as "no more members".
            content = gzip.decompress(content)
        with tarfile.open(fileobj=io.BytesIO(content)) as archive:
            for member in archive:
                if not member.isfile():
                    continue
                handle = archive.extractfile(member)
                if handle is not None:
                    members[member.name.removeprefix("./")] = handle.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(
            f"{archive_path}: arkivet er avkortet eller ødelagt ({_archive_problem(exc)}); "
            "ingenting er importert"
        ) from None
    if "MANIFEST.json" not in members:
        raise DataError(
            f"{archive_path}: arkivet har ingen MANIFEST.json (avkortet, ødelagt eller ikke et "
            "boso-snapshot); ingenting er importert"
        )
    return members


def _archive_problem(exc: BaseException) -> str:
    """What went wrong reading the archive, in bokmål (the library's own text is English)."""
    if isinstance(exc, EOFError):
        return "slutter før arkivet er ferdig"
    if isinstance(exc, zlib.error | gzip.BadGzipFile):
        return "gzip-dataene er ødelagte"
    if isinstance(exc, tarfile.TarError):
        return "ikke et lesbart tar-arkiv"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"kunne ikke leses, feilkode {errno.errorcode.get(exc.errno, exc.errno)}"
    return f"kunne ikke leses ({exc.__class__.__name__})"


def _import(
    read: Callable[[str], bytes],
    where: str,
    store: RawStore,
    on_file: Callable[[RawFile, dict[str, Any]], None] | None,
) -> list[RawFile]:
    manifest = _read_manifest(read, where)
    # Read and check every file before the first is written: a snapshot that is broken
    # anywhere leaves data/raw exactly as it was.
    checked: list[tuple[dict[str, Any], str, str, bytes]] = []
    for entry in manifest["files"]:
        if not isinstance(entry, dict):
            raise DataError(f"{where}/MANIFEST.json: en oppføring i 'files' er ikke et objekt")
        rel = str(entry.get("path", ""))
        folder, _, name = rel.partition("/")
        if folder not in SNAPSHOT_SOURCES or not name:
            raise DataError(f"{where}/MANIFEST.json: uventet sti {rel!r}")
        try:
            content = read(rel)
        except FileNotFoundError as exc:
            raise DataError(f"{where}: fil oppført i MANIFEST.json mangler: {rel}") from exc
        digest = sha256_bytes(content)
        if entry.get("sha256") and entry["sha256"] != digest:
            raise DataError(
                f"{where}/{rel}: sjekksummen stemmer ikke (manifest {str(entry['sha256'])[:12]}…, "
                f"fil {digest[:12]}…): avkortet eller endret fil"
            )
        checked.append((entry, folder, name, content))
    # Then everything is written into a copy of data/raw beside it (the current files
    # hard-linked in) and swapped in at once: a crash, a kill or a full disk half-way leaves
    # data/raw as it was. The swap is the processed store's (imported here, not at the top:
    # processed imports this module).
    from boso.processed import fault_point, replace_directory

    staged: list[tuple[RawFile, dict[str, Any]]] = []
    with replace_directory(store.root, seed=True, label="snapshot") as stage:
        stage_store = RawStore(stage, allow_shrink=store.allow_shrink)
        for entry, folder, name, content in checked:
            try:
                raw_file = _write_entry(stage_store, entry, folder, name, content, where)
            except OSError as exc:
                # Name the file in data/raw, not its copy in the staging directory.
                target = store.path(SNAPSHOT_SOURCES[folder], name)
                raise OSError(exc.errno, exc.strerror, str(target)) from None
            staged.append((raw_file, entry))
            fault_point(f"snapshot:written-{len(staged)}")
    imported: list[RawFile] = []
    for staged_file, entry in staged:
        raw_file = RawFile(
            staged_file.source,
            staged_file.name,
            store.path(staged_file.source, staged_file.name),
            staged_file.provenance,
        )
        imported.append(raw_file)
        if on_file is not None:
            on_file(raw_file, entry)
    return imported


def _write_entry(
    store: RawStore, entry: dict[str, Any], folder: str, name: str, content: bytes, where: str
) -> RawFile:
    """Write one checked snapshot file (``entry`` of MANIFEST.json) into ``store``."""
    rel = entry["path"]
    provenance_in = entry.get("provenance")
    return store.write(
        SNAPSHOT_SOURCES[folder],
        name,
        content,
        url=entry.get("url") or f"snapshot:{rel}",
        query=entry.get("query"),
        source_updated=entry.get("source_updated") or _source_updated(content, rel),
        synthetic=not entry.get("real", False),
        fetched_at=entry.get("fetched_at"),
        extra={
            "snapshot": where,
            "dataset": entry.get("dataset"),
            "origin": entry.get("source"),
            "origin_provenance": provenance_in,
            "licence": entry.get("licence"),
            "format": entry.get("format"),
            "encoding": entry.get("encoding"),
            "table_id": entry.get("table_id"),
            "notes": entry.get("notes"),
        },
    )


def export_snapshot(target: str | Path, store: RawStore | None = None) -> Path:
    """Pack ``data/raw`` into a ``.tar.gz`` in the snapshot layout (with ``MANIFEST.json``).

    Args:
        target: The archive to write (written atomically; an existing file is replaced only
            once the new archive is complete).
        store: Source store (default: the project's ``data/raw``).

    Returns:
        The archive path.
    """
    store = store or RawStore()
    folder_of = {raw: snap for snap, raw in SNAPSHOT_SOURCES.items()}
    files = [f for f in store.files() if f.source in folder_of]
    if not files:
        raise DataError(f"ingenting å eksportere: {store.root} har ingen rå filer")
    entries = []
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for raw_file in files:
            rel = f"{folder_of[raw_file.source]}/{raw_file.name}"
            content = raw_file.read_bytes()
            info = tarfile.TarInfo(rel)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
            prov = raw_file.provenance
            entries.append(
                {
                    "path": rel,
                    "source": prov.get("origin") or prov.get("url"),
                    "dataset": prov.get("dataset"),
                    "url": prov.get("url"),
                    "query": prov.get("query"),
                    "fetched_at": prov.get("fetched_at"),
                    "source_updated": prov.get("source_updated"),
                    "real": not prov.get("synthetic", False),
                    "encoding": prov.get("encoding"),
                    "format": prov.get("format"),
                    "table_id": prov.get("table_id"),
                    "licence": prov.get("licence"),
                    "notes": prov.get("notes"),
                    "bytes": len(content),
                    "sha256": sha256_bytes(content),
                }
            )
        manifest = json.dumps(
            {"generator": "boso snapshot export", "exported_at": utc_now(), "files": entries},
            ensure_ascii=False,
            indent=2,
        ).encode("utf-8")
        info = tarfile.TarInfo("MANIFEST.json")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
    target = Path(target)
    atomic_write_bytes(target, buffer.getvalue())
    return target
