"""The processed store (``data/processed/*.parquet``): schema-checked writes, reads, export.

This module and :mod:`boso.raw` are the only ones that read or write the data directories.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from boso.config import paths
from boso.errors import DataError, QueryError, os_problem
from boso.lifetime import exchange, owner, pid_alive, remove_stale
from boso.raw import atomic_write_bytes

STATUS_SYMBOLS = {"", "..", ".", ":", "-"}
NIVAAER = ("kommune", "fylke", "kostragruppe", "landet")

INDICATOR_COLUMNS: dict[str, str] = {
    "indikator": "str",
    "nivaa": "str",
    "region": "str",
    "regionnavn": "str",
    "kommunenummer": "str",
    "kommunenavn": "str",
    "aar": "int",
    "verdi": "float",
    "status": "str",
    "enhet": "str",
    "kilde": "str",
    "kilde_oppdatert": "str",
    "hentet": "str",
    "syntetisk": "bool",
    "harmonisering": "str",
    "merknad": "str",
}
EXPORT_COLUMNS = ["kommunenummer", "kommunenavn", "aar", "verdi", "status", "enhet", "kilde"]
# What a reader looks for first when a frame is printed (pandas elides the middle columns).
READER_COLUMNS = ["kommunenummer", "aar", "verdi", "status", "kommunenavn", "enhet"]
# In a comparison the region's display name leads; kommunenummer is empty for the peers.
COMPARISON_READER_COLUMNS = ["sammenligning", "aar", "verdi", "status", "enhet"]


def reader_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The same frame with :data:`READER_COLUMNS` first, the provenance columns after."""
    wanted = COMPARISON_READER_COLUMNS if "sammenligning" in frame.columns else READER_COLUMNS
    first = [c for c in wanted if c in frame.columns]
    return frame[[*first, *[c for c in frame.columns if c not in first]]]


def processed_dir(root: str | Path | None = None) -> Path:
    """The processed directory (``$BOSO_HOME/data/processed`` unless ``root`` is given)."""
    return Path(root) if root else paths().processed


def indicator_table(indicator_id: str) -> str:
    """File stem of an indicator's processed table."""
    return f"out_boso__{indicator_id}"


def check_indicator_frame(frame: pd.DataFrame, name: str) -> None:
    """Raise :class:`DataError` unless ``frame`` follows the indicator table schema."""
    missing = [c for c in INDICATOR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{name}: mangler kolonnene {missing}")
    if not pd.api.types.is_integer_dtype(frame["aar"]):
        raise DataError(f"{name}: aar må være heltall, er {frame['aar'].dtype}")
    if not pd.api.types.is_float_dtype(frame["verdi"]):
        raise DataError(f"{name}: verdi må være flyttall, er {frame['verdi'].dtype}")
    bad_status = set(frame["status"].unique()) - STATUS_SYMBOLS
    if bad_status:
        raise DataError(f"{name}: ukjente statussymboler {sorted(bad_status)}")
    bad_level = set(frame["nivaa"].unique()) - set(NIVAAER)
    if bad_level:
        raise DataError(f"{name}: ukjent nivaa {sorted(bad_level)}")
    kommune = frame["nivaa"] == "kommune"
    codes = frame.loc[kommune, "kommunenummer"]
    if not codes.str.fullmatch(r"\d{4}").all():
        raise DataError(f"{name}: kommunenummer må være tekst på fire tegn")
    if frame.loc[~kommune, "kommunenummer"].notna().any():
        raise DataError(f"{name}: aggregerte rader skal ikke ha kommunenummer")
    unexplained = frame["verdi"].isna() & (frame["status"] == "")
    if unexplained.any():
        row = frame.loc[unexplained].iloc[0]
        raise DataError(
            f"{name}: manglende verdi uten statussymbol for {row['region']} {row['aar']}"
        )
    suppressed_with_value = frame["verdi"].notna() & frame["status"].isin([":", "..", "."])
    if suppressed_with_value.any():
        raise DataError(
            f"{name}: en rad med statussymbol for skjult/manglende verdi har likevel en verdi"
        )
    keys = [c for c in frame.columns if c not in INDICATOR_COLUMNS or c in ("region", "aar")]
    keys = [c for c in keys if not c.endswith("_navn")]
    if frame.duplicated(["nivaa", *keys]).any():
        raise DataError(f"{name}: dupliserte rader for samme region, år og dimensjoner")


def write_table(frame: pd.DataFrame, name: str, root: str | Path | None = None) -> Path:
    """Write ``data/processed/<name>.parquet`` atomically (schema-checked for indicators)."""
    if name.startswith("out_boso__"):
        check_indicator_frame(frame, name)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    target = processed_dir(root) / f"{name}.parquet"
    content = buffer.getvalue()
    if target.is_file() and target.read_bytes() == content:
        return target  # idempotent: same content, same file (and the same mtime)
    atomic_write_bytes(target, content)
    return target


def write_geo_table(frame: Any, name: str, root: str | Path | None = None) -> Path:
    """Write a GeoDataFrame as GeoParquet ``data/processed/<name>.parquet`` (atomic)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    target = processed_dir(root) / f"{name}.parquet"
    content = buffer.getvalue()
    if not (target.is_file() and target.read_bytes() == content):
        atomic_write_bytes(target, content)
    return target


# --------------------------------------------------------------------------------------------
# All-or-nothing replacement of the whole directory (``boso build``)
#
# A build writes its tables into ``data/.processed.new-<pid>/``, hard-links everything else of the
# current ``data/processed`` into it (the dwelling registers, tables the build did not rewrite),
# and then exchanges the two directories in one ``renameat2(RENAME_EXCHANGE)``. A ``kill -9`` at
# any moment therefore leaves either the old or the new directory under ``data/processed``; what
# an interrupted run leaves beside it is removed by the next build.

_STAGE = ".{name}.new-"
_OLD = ".{name}.old-"


def fault_point(point: str) -> None:
    """Die like ``kill -9`` here when ``$BOSO_TEST_KILL_AT`` names this point (tests only)."""
    if os.environ.get("BOSO_TEST_KILL_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


def clean_leftovers(root: str | Path | None = None) -> list[Path]:
    """Undo what an interrupted build left beside ``data/processed``.

    Staging and old directories whose owning process is dead are removed. Should
    ``data/processed`` itself be missing (killed between the two renames of the fallback swap),
    the old directory is put back first, so the state is the one before the interrupted build.

    Args:
        root: The processed directory (default: the project's).

    Returns:
        The directories removed.
    """
    target = processed_dir(root)
    if not target.parent.is_dir():
        return []
    old_prefix = _OLD.format(name=target.name)
    if not target.exists():
        stale = sorted(
            p
            for p in target.parent.glob(f"{old_prefix}*")
            if (pid := owner(p.name, old_prefix)) is not None and not pid_alive(pid)
        )
        if stale:
            os.rename(stale[-1], target)
    removed = remove_stale(target.parent, old_prefix)
    return removed + remove_stale(target.parent, _STAGE.format(name=target.name))


def _is_temporary(path: Path) -> bool:
    # atomic_write_bytes' temporary files (".<name>.<random>.tmp") of a killed writer
    return path.name.startswith(".") and path.name.endswith(".tmp")


def _carry_over(current: Path, stage: Path, written: set[str]) -> None:
    """Hard-link into ``stage`` every file of ``current`` the build did not write, and keep the
    current file (same inode and mtime) where the build wrote identical bytes."""
    for old in current.rglob("*"):
        if not old.is_file() or _is_temporary(old):
            continue
        rel = old.relative_to(current)
        new = stage / rel
        if str(rel) not in written and new.exists():
            continue  # already linked in when the stage was seeded
        if str(rel) in written:
            if new.stat().st_size != old.stat().st_size or new.read_bytes() != old.read_bytes():
                continue
            new.unlink()
        new.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(old, new)
        except OSError:  # no hard links on this filesystem
            shutil.copy2(old, new)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _settle(old: Path, current: Path, written: set[str]) -> None:
    """After the swap: a file another command (``register import``) wrote into the old
    directory while the build was finishing is moved over instead of being lost."""
    for path in old.rglob("*"):
        if not path.is_file() or _is_temporary(path):
            continue
        rel = str(path.relative_to(old))
        if rel in written:
            continue
        target = current / rel
        if not target.exists() or not os.path.samefile(path, target):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)


@contextlib.contextmanager
def replace_processed(root: str | Path | None = None) -> Iterator[Path]:
    """Stage a new ``data/processed`` and swap it in once, when the block completes.

    Tables written into the yielded directory replace their namesakes; every other file of the
    current directory is kept. An exception in the block leaves ``data/processed`` untouched.

    Args:
        root: The processed directory (default: the project's).

    Yields:
        The staging directory to write the tables into.
    """
    with replace_directory(processed_dir(root)) as stage:
        yield stage


@contextlib.contextmanager
def replace_directory(target: Path, *, seed: bool = False, label: str = "build") -> Iterator[Path]:
    """Stage a new version of the directory ``target`` and swap it in once (see above).

    Args:
        target: The directory to replace (``data/processed``, ``data/raw``).
        seed: Hard-link the current files into the stage before the block runs, so that the
            block sees (and may replace, never modify in place) what is there already.
        label: Prefix of the test kill points (``<label>:before-swap`` …).

    Yields:
        The staging directory.
    """
    if target.is_symlink():  # swap the real directory, keep the user's link
        target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target)
    pid = os.getpid()
    stage = target.parent / f"{_STAGE.format(name=target.name)}{pid}"
    old = target.parent / f"{_OLD.format(name=target.name)}{pid}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        if seed and target.exists():
            _carry_over(target, stage, set())
        yield stage
        written = {
            str(p.relative_to(stage))
            for p in stage.rglob("*")
            if p.is_file() and not _same_file(p, target / p.relative_to(stage))
        }
        fault_point(f"{label}:before-swap")
        if target.exists():
            _carry_over(target, stage, written)
            if exchange(stage, target):
                fault_point(f"{label}:after-swap")
                _settle(stage, target, written)
                shutil.rmtree(stage, ignore_errors=True)
                return
            os.rename(target, old)
            fault_point(f"{label}:between-renames")
            os.rename(stage, target)
            _settle(old, target, written)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(stage, target)
    except BaseException:
        if not target.exists() and old.exists():
            os.rename(old, target)  # failed between the two renames: the old state stays
        shutil.rmtree(stage, ignore_errors=True)
        raise


@lru_cache(maxsize=64)
def _read_cached(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    return pd.read_parquet(path)


#: Where :func:`record_read` notes the tables read, while the report runner records (the
#: runner keys each report's cache on what its notebook actually read); None otherwise.
_read_log: list[str] | None = None


def record_reads(log: list[str] | None) -> None:
    """Append the path of every processed table read from now on to ``log`` (None: stop).

    Used by the report runner's kernel (:mod:`boso.reports.kernel_side`).
    """
    global _read_log
    _read_log = log


def record_read(path: str | Path) -> None:
    """Note that a processed file is read, or looked for (a missing file is an input too)."""
    if _read_log is not None:
        _read_log.append(str(Path(path).resolve()))


def read_table(name: str, root: str | Path | None = None) -> pd.DataFrame:
    """Read ``data/processed/<name>.parquet`` (cached per process while the file is unchanged)."""
    path = processed_dir(root) / f"{name}.parquet"
    record_read(path)
    if not path.parent.exists():
        clean_leftovers(root)  # a build killed between the renames of the fallback swap
    if not path.is_file():
        raise DataError(f"bearbeidet tabell mangler: {path} (kjør `boso build`)")
    stat = path.stat()
    return _read_cached(str(path), stat.st_mtime_ns, stat.st_size).copy()


#: The kommune registry's table and the columns every user of it needs.
REGISTRY_TABLE = "core_klass__kommuner"
REGISTRY_COLUMNS = ("kommunenummer", "kommunenavn", "fylkesnummer", "fylkesnavn")


def check_registry(
    registry: pd.DataFrame,
    name: str = "kommuneregisteret",
    required: tuple[str, ...] = REGISTRY_COLUMNS,
) -> pd.DataFrame:
    """Validate a kommune registry and return it ready for use.

    The one place the registry's rules live, for the table read by :func:`load_registry` and
    for registries handed in by callers (site inputs, tests): the required columns, codes as
    strings (kommunenummer exactly four digits and each once, fylkesnummer 2 characters),
    ``kostragruppenavn`` as the display label (:func:`boso.kommune.kostra_label`; ``""``
    without a group, never ``"nan"``), without KLASS's 9999 Uoppgitt, sorted by fylke and
    kommunenummer.

    Args:
        registry: ``kommunenummer, kommunenavn, fylkesnummer, fylkesnavn`` and optionally
            ``kostragruppe, kostragruppenavn``.
        name: What to call it in messages (the file, when read from one).
        required: The columns the caller needs (default :data:`REGISTRY_COLUMNS`; the register
            import needs only ``kommunenummer``).

    Raises:
        DataError: A required column is missing or a code is not a kommunenummer (the row
            is named).
    """
    from boso.kommune import kostra_label

    missing = [c for c in ("kommunenummer", *required) if c not in registry.columns]
    if missing:
        raise DataError(f"{name} mangler kolonne(r): {', '.join(missing)}")
    frame = registry.copy()
    # The registry is boso's own table: codes are stored as four characters, so a shorter code
    # means a damaged or foreign file, not a code to pad (padding "301" could duplicate 0301).
    frame["kommunenummer"] = frame["kommunenummer"].astype(str).str.strip()
    bad = frame.loc[~frame["kommunenummer"].str.fullmatch(r"[0-9]{4}")]
    if not bad.empty:
        raise DataError(
            f"{name}, rad {bad.index[0]}: kommunenummer {bad.iloc[0]['kommunenummer']!r} "
            "er ikke fire siffer"
        )
    repeated = frame.loc[frame["kommunenummer"].duplicated()]
    if not repeated.empty:
        raise DataError(
            f"{name}, rad {repeated.index[0]}: kommunenummer "
            f"{repeated.iloc[0]['kommunenummer']} står to ganger"
        )
    if "fylkesnummer" in frame:
        frame["fylkesnummer"] = frame["fylkesnummer"].astype(str)
    for column in ("kostragruppe", "kostragruppenavn"):
        if column not in frame:
            frame[column] = ""
    frame["kostragruppe"] = frame["kostragruppe"].fillna("").astype(str)
    frame["kostragruppenavn"] = [
        kostra_label(code, label)
        for code, label in zip(frame["kostragruppe"], frame["kostragruppenavn"], strict=True)
    ]
    frame = frame.loc[frame["kommunenummer"] != "9999"]
    order = [c for c in ("fylkesnummer", "kommunenummer") if c in frame]
    return frame.sort_values(order).reset_index(drop=True)


def load_registry(
    root: str | Path | None = None, required: tuple[str, ...] = REGISTRY_COLUMNS
) -> pd.DataFrame:
    """The kommune registry (``core_klass__kommuner``), checked by :func:`check_registry`.

    The one loader of the registry: reports, chapters, the site, the register import and the
    notebooks all read it here (and the report cache records the read).

    Args:
        root: Processed directory to read instead of the project's.
        required: The columns the caller needs (see :func:`check_registry`).

    Returns:
        ``kommunenummer, kommunenavn, fylkesnummer, fylkesnavn, kostragruppe,
        kostragruppenavn``, one row per current kommune.

    Raises:
        DataError: The registry has not been built yet, or is damaged.
    """
    path = processed_dir(root) / f"{REGISTRY_TABLE}.parquet"
    try:
        read_table(REGISTRY_TABLE, root)  # recorded for the report cache; cached per file
    except DataError as exc:
        if path.is_file():
            raise
        raise DataError(f"{path} mangler: kjør `boso build` først") from exc
    stat = path.stat()
    return _checked_registry(str(path), stat.st_mtime_ns, stat.st_size, required).copy()


@lru_cache(maxsize=8)
def _checked_registry(
    path: str, mtime_ns: int, size: int, required: tuple[str, ...]
) -> pd.DataFrame:
    # Every comparison asks for kommune_info: check the registry once per file version.
    return check_registry(_read_cached(path, mtime_ns, size), path, required)


def kommune_info(kommunenummer: str, root: str | Path | None = None) -> dict[str, Any]:
    """Name, fylke and KOSTRA group (display label in ``kostragruppenavn``) of a current kommune.

    Raises:
        QueryError: Malformed or unknown kommunenummer.
    """
    from boso.kommune import check_kommunenummer

    registry = load_registry(root)
    code = check_kommunenummer(kommunenummer, registry["kommunenummer"])
    row = registry.loc[registry["kommunenummer"] == code].iloc[0]
    return {key: (None if pd.isna(value) else value) for key, value in row.items()}


def load_indicator(
    indicator_id: str,
    kommunenummer: str | None = None,
    *,
    nivaa: str | None = "kommune",
    root: str | Path | None = None,
) -> pd.DataFrame:
    """The harmonised series of one indicator.

    Args:
        indicator_id: A catalog id, e.g. ``"befolkning"``.
        kommunenummer: Only this kommune (4 characters).
        nivaa: ``kommune`` (default), ``fylke``, ``kostragruppe``, ``landet`` or None for all.
        root: Processed directory to read instead of the project's.

    Returns:
        Tidy rows sorted by region and year.
    """
    from boso.catalog import get_indicator

    get_indicator(indicator_id)
    frame = read_table(indicator_table(indicator_id), root)
    if nivaa is not None:
        frame = frame.loc[frame["nivaa"] == nivaa]
    if kommunenummer is not None:
        info = kommune_info(kommunenummer, root)
        frame = frame.loc[frame["kommunenummer"] == info["kommunenummer"]]
    frame = frame.sort_values([c for c in ("region", "aar") if c in frame]).reset_index(drop=True)
    return reader_order(frame)


def comparison(
    indicator_id: str, kommunenummer: str, root: str | Path | None = None
) -> pd.DataFrame:
    """The kommune with its KOSTRA group, fylke and landet.

    Returns:
        The indicator's rows for those four regions with a column ``sammenligning`` (display
        label, :func:`boso.kommune.region_labels`: ``"Oslo"`` and ``"Oslo (fylke)"``) as an
        ordered categorical: kommune, KOSTRA group, fylke, landet.
    """
    from boso.kommune import region_labels

    info = kommune_info(kommunenummer, root)
    frame = load_indicator(indicator_id, nivaa=None, root=root)
    wanted = [
        ("kommune", info["kommunenummer"]),
        ("kostragruppe", info["kostragruppe"]),
        ("fylke", info["fylkesnummer"]),
        ("landet", "0"),
    ]
    parts = [
        part
        for level, region in wanted
        if region
        and not (part := frame.loc[(frame["nivaa"] == level) & (frame["region"] == region)]).empty
    ]
    if not parts:
        return frame.iloc[0:0].assign(sammenligning=pd.Series(dtype="category"))
    # One label per region, from its first row's name (a renamed kommune keeps one label).
    names = pd.Series([str(p["regionnavn"].iloc[0]) for p in parts])
    levels = pd.Series([str(p["nivaa"].iloc[0]) for p in parts])
    labels = region_labels(names, levels).tolist()
    result = pd.concat(
        [p.assign(sammenligning=label) for p, label in zip(parts, labels, strict=True)],
        ignore_index=True,
    )
    result["sammenligning"] = pd.Categorical(result["sammenligning"], categories=labels)
    return reader_order(result)


def export_indicator(
    indicator_id: str,
    *,
    kommunenummer: str | None = None,
    fmt: str = "csv",
    output: str | Path | None = None,
    include_comparisons: bool = False,
    root: str | Path | None = None,
) -> pd.DataFrame:
    """Write an indicator's harmonised series as CSV (stdout or file) or parquet (file).

    Returns:
        The exported frame.

    Raises:
        QueryError: ``output`` is a directory or its folder does not exist (nothing is created).
        DataError: The file cannot be written (the previous file, if any, is unchanged).
    """
    target = _check_output(Path(output)) if output is not None else None
    if include_comparisons and kommunenummer:
        frame = comparison(indicator_id, kommunenummer, root)
    else:
        frame = load_indicator(indicator_id, kommunenummer, root=root)
    first = EXPORT_COLUMNS if not include_comparisons else ["sammenligning", "nivaa", "region"]
    extra = [c for c in frame.columns if c not in first and c not in EXPORT_COLUMNS]
    ordered = frame[[*first, *[c for c in EXPORT_COLUMNS if c not in first], *extra]]
    if fmt == "parquet":
        if output is None:
            raise QueryError("--format parquet trenger --output FIL")
        buffer = io.BytesIO()
        ordered.to_parquet(buffer, index=False)
        _write_output(target, buffer.getvalue())
    elif target is None:
        ordered.to_csv(sys.stdout, index=False)
    else:
        _write_output(target, ordered.to_csv(index=False).encode("utf-8"))
    return ordered


def _check_output(path: Path) -> Path:
    """Refuse an export target that cannot be a file the user meant (before any work)."""
    if path.is_dir():
        raise QueryError(f"{path}: er en mappe; oppgi et filnavn med --output")
    folder = path.parent
    if not folder.is_dir():
        what = "er ikke en mappe" if folder.exists() else "mappen finnes ikke (lag den først)"
        raise QueryError(f"{folder}: {what}")
    return path


def _write_output(path: Path, content: bytes) -> None:
    try:
        atomic_write_bytes(path, content)
    except OSError as exc:
        # The error names atomic_write_bytes' temporary file; the user named ``path``.
        raise DataError(f"{path}: kan ikke skrive filen ({os_problem(exc)})") from exc
