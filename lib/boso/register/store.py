"""Disk side of the register: raw copy with provenance, processed tables, validation report."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from boso.config import paths
from boso.errors import BosoError, DataError, os_problem
from boso.kommune import normalise_kommunenummer_series
from boso.processed import load_registry, record_read
from boso.raw import RawFile, RawStore, atomic_write_bytes, atomic_write_text
from boso.register.reader import (
    RegisterImport,
    ValidationReport,
    check_kommunenummer,
    read_file_bytes,
    read_register_bytes,
)

RAW_SOURCE = "register"
GEO_TABLE = "core_geo__kommuner.parquet"
REGISTRY_TABLE = "core_klass__kommuner.parquet"
HISTORY_DIR = "_history"
# A re-import that keeps fewer than this share of the dwellings needs --force.
SHRINK_LIMIT = 0.5


def table_stem(kommunenummer: str) -> str:
    """``core_register__<kommunenummer>``: the processed table's file stem."""
    return f"core_register__{kommunenummer}"


def output_paths(kommunenummer: str, processed_dir: str | Path | None = None) -> dict[str, Path]:
    """Where the cleaned register of a kommune is written (dwellings, tenancies, report)."""
    base = Path(processed_dir) if processed_dir else paths().processed
    stem = table_stem(kommunenummer)
    return {
        "dwellings": base / f"{stem}.parquet",
        "tenancies": base / f"{stem}__leieforhold.parquet",
        "report": base / f"{stem}__validering.json",
    }


def load_boundary(kommunenummer: str, processed_dir: str | Path | None = None) -> Any:
    """The current kommune polygons, or None when boso has none yet.

    Prefers ``data/processed/core_geo__kommuner.parquet``; falls back to the newest Geonorge
    ``Kommuner*.geojson`` in ``data/raw/geo`` (present after ``boso snapshot import``).

    Args:
        kommunenummer: Used only to check that the kommune is in the file.
        processed_dir: Directory holding the processed tables (default: the project's).

    Returns:
        A GeoDataFrame with ``kommunenummer`` and ``geometry``, or None.
    """
    import geopandas as gpd

    base = Path(processed_dir) if processed_dir else paths().processed
    table = base / GEO_TABLE
    frame = None
    try:
        if table.is_file():
            try:
                frame = gpd.read_parquet(table)
            except ValueError:
                # Plain parquet with WKB geometry (no GeoParquet metadata): EPSG:25833 by contract.
                import shapely

                plain = pd.read_parquet(table)
                frame = gpd.GeoDataFrame(
                    plain.drop(columns="geometry"),
                    geometry=shapely.from_wkb(plain["geometry"].to_numpy()),
                    crs=25833,
                )
        else:
            raw_geo = sorted(
                p
                for p in (base.parent / "raw" / "geo").glob("*/Kommuner*")
                if p.suffix in (".json", ".geojson") and not p.name.endswith(".provenance.json")
            )
            if raw_geo:
                frame = gpd.read_file(raw_geo[-1])
    except Exception as exc:  # a broken boundary file must not stop the register import
        print(f"advarsel: kunne ikke lese kommunegrensene ({type(exc).__name__})", file=sys.stderr)
        return None
    if frame is None or "kommunenummer" not in frame.columns:
        return None
    frame = frame.assign(kommunenummer=normalise_kommunenummer_series(frame["kommunenummer"]))
    if not (frame["kommunenummer"] == kommunenummer).any():
        return None
    return frame


def known_kommuner(processed_dir: str | Path | None = None) -> set[str] | None:
    """The current kommunenummer, or None when boso has no kommune registry yet.

    Reads ``data/processed/core_klass__kommuner.parquet`` when it exists, else the newest KLASS
    131 ``codesAt`` file in ``data/raw/klass`` (present after ``boso snapshot import``).
    """
    base = Path(processed_dir) if processed_dir else paths().processed
    table = base / REGISTRY_TABLE
    try:
        if table.is_file():
            return set(load_registry(base, required=("kommunenummer",))["kommunenummer"])
        codes = sorted((base.parent / "raw" / "klass").glob("131_codesAt_*.json"))
        codes = [p for p in codes if not p.name.endswith(".provenance.json")]
        if codes:
            from boso.kommune import parse_codes

            frame = parse_codes(json.loads(codes[-1].read_text("utf-8")))
            return set(frame["kommunenummer"])
    except (OSError, ValueError, BosoError, KeyError):
        # A damaged registry is the build's to report; the format check still applies.
        return None
    return None


def check_known_kommune(kommunenummer: str, processed_dir: str | Path | None = None) -> str:
    """The kommunenummer when it is a current kommune (or no registry exists yet).

    Raises:
        QueryError: Unknown kommunenummer (one line, with the fylke's kommuner as a hint).
    """
    kommunenummer = check_kommunenummer(kommunenummer)
    known = known_kommuner(processed_dir)
    if known is None:
        return kommunenummer
    from boso.kommune import check_kommunenummer as check_in_registry

    return check_in_registry(kommunenummer, known)


def _previous_dwellings(out: dict[str, Path]) -> int | None:
    if not out["dwellings"].is_file():
        return None
    try:
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(out["dwellings"]).metadata.num_rows)
    except (OSError, ValueError):
        return None


def _journal(base: Path, kommunenummer: str) -> Path:
    return base / f".{table_stem(kommunenummer)}.swap.json"


def _finish_interrupted_swaps(base: Path) -> None:
    """Complete a swap that a killed import had started (its journal names the staged files).

    Everything was staged and the old register archived before the journal was written, so
    rolling forward gives exactly the new register.
    """
    for journal in base.glob(".core_register__*.swap.json"):
        try:
            entry = json.loads(journal.read_text("utf-8"))
            staging = Path(entry["staging"])
            pid = int(entry.get("pid", 0))
        except (OSError, ValueError, KeyError, TypeError):
            journal.unlink(missing_ok=True)
            continue
        if pid and pid != os.getpid() and _alive(pid):
            continue
        for name in entry.get("order", []):
            staged = staging / name
            if staged.is_file():
                os.replace(staged, base / name)
        journal.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)


def _clean_leftovers(base: Path) -> None:
    """Finish interrupted swaps; remove staging folders of imports killed before their swap."""
    _finish_interrupted_swaps(base)
    for folder in base.glob(".core_register__*.staging-*"):
        pid = folder.name.rsplit("-", 2)[-2] if folder.name.count("-") >= 2 else ""
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stage(result: RegisterImport, out: dict[str, Path], staging: Path) -> dict[str, Path]:
    staged = {key: staging / path.name for key, path in out.items()}
    for key, frame in (("dwellings", result.dwellings), ("tenancies", result.tenancies)):
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        atomic_write_bytes(staged[key], buffer.getvalue())
    atomic_write_text(
        staged["report"],
        json.dumps(result.report.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n",
    )
    return staged


def _write_outputs(
    result: RegisterImport,
    processed_dir: str | Path | None,
    before_swap: Callable[[], Any] | None = None,
) -> dict[str, Path]:
    """Write the three register files all together or not at all.

    Every file is first written complete into a staging folder beside the tables; the previous
    register (if any) is copied to ``data/processed/_history/``; then the staged files replace
    the old ones (dwellings last, since its presence is what marks a register). If a swap
    fails, the old files are put back. ``before_swap`` (the raw copy) runs once everything is
    staged: when it fails, nothing has been replaced.
    """
    out = output_paths(result.kommunenummer, processed_dir)
    base = out["dwellings"].parent
    try:
        base.mkdir(parents=True, exist_ok=True)
        _clean_leftovers(base)
        staging = Path(
            tempfile.mkdtemp(
                dir=base, prefix=f".{table_stem(result.kommunenummer)}.staging-{os.getpid()}-"
            )
        )
    except OSError as exc:
        raise DataError(f"{base}: kan ikke skrive registeret ({os_problem(exc)})") from exc
    try:
        try:
            staged = _stage(result, out, staging)
            if before_swap is not None:
                before_swap()
            archived = _archive_previous(out, base)
        except OSError as exc:
            raise DataError(
                f"{out['dwellings']}: kunne ikke skrive registeret ({os_problem(exc)}); "
                "det forrige er beholdt"
            ) from exc
        order = ("tenancies", "report", "dwellings")
        journal = _journal(base, result.kommunenummer)
        replaced: list[str] = []
        try:
            # A process killed during the swap leaves this journal: the next import or load
            # finishes the swap from the staged files instead of leaving a mixed register.
            atomic_write_text(
                journal,
                json.dumps(
                    {
                        "staging": str(staging),
                        "pid": os.getpid(),
                        "order": [out[k].name for k in order],
                    }
                ),
            )
            for key in order:
                os.replace(staged[key], out[key])
                replaced.append(key)
        except BaseException as exc:
            # Still running (disk full, Ctrl-C): put the old register back.
            for key in replaced:
                old = archived.get(key)
                if old is not None:
                    shutil.copy2(old, out[key])
                else:
                    out[key].unlink(missing_ok=True)
            journal.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise DataError(
                    f"{out['dwellings']}: kunne ikke skrive registeret ({os_problem(exc)}); "
                    "det forrige er beholdt"
                ) from exc
            raise
        journal.unlink(missing_ok=True)
    finally:
        if not _journal(base, result.kommunenummer).exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _archive_previous(out: dict[str, Path], base: Path) -> dict[str, Path]:
    """Copy the current register files to ``_history/<stem>.<stamp>/`` (kept, never deleted)."""
    present = {key: path for key, path in out.items() if path.is_file()}
    if not present:
        return {}
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = base / HISTORY_DIR / f"{out['dwellings'].stem}.{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    archived = {}
    for key, path in present.items():
        archived[key] = folder / path.name
        shutil.copy2(path, archived[key])
    return archived


def import_register(
    path: str | Path,
    kommunenummer: str,
    store: RawStore | None = None,
    processed_dir: str | Path | None = None,
    *,
    synthetic: bool | None = None,
    boundary: Any = None,
    quiet: bool = False,
    force: bool = False,
) -> RegisterImport:
    """Import an export: raw copy with provenance, cleaned tables and validation report.

    The file is read and validated first; only a readable register is copied (unchanged) into
    ``data/raw/register/``. The cleaned tables and the report go to ``data/processed``.

    Args:
        path: The export file.
        kommunenummer: 4-digit kommunenummer.
        store: Raw store (default: the project's ``data/raw``).
        processed_dir: Output directory (default: the project's ``data/processed``).
        synthetic: Mark as synthetic demo data; None: detect (``SYNTETISK`` in the file name
            or title rows).
        boundary: Kommune polygons for the outside-boundary check; None: :func:`load_boundary`.
        quiet: Do not print the summary.
        force: Replace the kommune's register even when the new one has fewer than half of
            its dwellings (the old one is kept in ``_history`` either way).

    Returns:
        The cleaned register.

    Raises:
        DataError: The file cannot be read as a register, or it would shrink the register by
            more than half without ``force`` (nothing is written then).
        QueryError: The kommunenummer is not a current kommune.
    """
    path = Path(path)
    kommunenummer = check_known_kommune(kommunenummer, processed_dir)
    if boundary is None:
        boundary = load_boundary(kommunenummer, processed_dir)
    content = read_file_bytes(path)
    result = read_register_bytes(
        content, path.name, kommunenummer, boundary=boundary, synthetic=synthetic
    )
    previous = _previous_dwellings(output_paths(kommunenummer, processed_dir))
    if not force and previous and result.report.dwellings < previous * SHRINK_LIMIT:
        raise DataError(
            f"{path.name}: boligregisteret for {kommunenummer} ville krympe fra {previous} til "
            f"{result.report.dwellings} boliger (mer enn halvparten); kontroller filen, eller "
            "bruk --force hvis det stemmer (det gamle registeret beholdes i historikken)"
        )
    store = store or RawStore()
    _write_outputs(
        result,
        processed_dir,
        before_swap=lambda: store.write(
            RAW_SOURCE,
            path.name,
            content,
            url=f"file:{path.resolve()}",
            synthetic=result.synthetic,
            extra={"kommunenummer": kommunenummer, "format": result.report.format},
        ),
    )
    if not quiet:
        print(result.report.summary())
    return result


def load_register(
    kommunenummer: str, processed_dir: str | Path | None = None
) -> RegisterImport | None:
    """The cleaned register of a kommune from ``data/processed``, or None when there is none.

    Args:
        kommunenummer: 4-digit kommunenummer.
        processed_dir: Directory holding the processed tables (default: the project's).

    Returns:
        The register (dwellings, tenancies, report), or None.
    """
    kommunenummer = check_kommunenummer(kommunenummer)
    out = output_paths(kommunenummer, processed_dir)
    for path in out.values():  # the report cache keys on these, present or not
        record_read(path)
    if _journal(out["dwellings"].parent, kommunenummer).exists():
        try:
            _finish_interrupted_swaps(out["dwellings"].parent)
        except OSError as exc:
            raise DataError(
                f"{out['dwellings']}: en avbrutt import kunne ikke fullføres ({os_problem(exc)})"
            ) from exc
    if not out["dwellings"].is_file():
        return None
    try:
        dwellings = pd.read_parquet(out["dwellings"])
        tenancies = (
            pd.read_parquet(out["tenancies"])
            if out["tenancies"].is_file()
            else pd.DataFrame(columns=["kommunenummer", "bolig_id", "innflyttet", "utflyttet"])
        )
        report = (
            ValidationReport.from_dict(json.loads(out["report"].read_text("utf-8")))
            if out["report"].is_file()
            else ValidationReport(file="", kommunenummer=kommunenummer)
        )
    except (OSError, ValueError) as exc:
        raise DataError(f"{out['dwellings']}: kan ikke lese registeret ({exc})") from exc
    if "syntetisk" in dwellings.columns and len(dwellings):
        report.synthetic = bool(dwellings["syntetisk"].any())
    return RegisterImport(dwellings, tenancies, report, report.source_crs)


_KOMMUNE_IN_NAME = re.compile(r"(?:^|[_\-\s])(\d{4})(?=[_\-\s.])")


def kommunenummer_from_name(name: str) -> str | None:
    """``"asker_3203_kommunale_boliger.csv"`` → ``"3203"`` (None when no 4-digit code)."""
    found = _KOMMUNE_IN_NAME.search(Path(name).name)
    return found.group(1) if found else None


def import_snapshot_registers(
    imported: list[RawFile], processed_dir: str | Path | None = None
) -> None:
    """Clean the register exports that ``boso snapshot import`` just stored in ``data/raw``.

    The raw copies already exist, so only the processed tables and reports are written. A file
    that cannot be read is reported on stderr and skipped; the other registers still import.

    Args:
        imported: The raw files the snapshot import wrote.
        processed_dir: Output directory (default: the project's ``data/processed``).
    """
    for raw_file in imported:
        if raw_file.source != RAW_SOURCE:
            continue
        kommunenummer = kommunenummer_from_name(raw_file.name)
        if kommunenummer is None:
            print(
                f"advarsel: {raw_file.name}: fant ikke kommunenummer i filnavnet; hoppet over",
                file=sys.stderr,
            )
            continue
        try:
            kommunenummer = check_known_kommune(kommunenummer, processed_dir)
            result = read_register_bytes(
                raw_file.read_bytes(),
                raw_file.name,
                kommunenummer,
                boundary=load_boundary(kommunenummer, processed_dir),
                synthetic=raw_file.synthetic or None,
            )
            _write_outputs(result, processed_dir)
        except BosoError as exc:
            print(f"advarsel: boligregister {raw_file.name}: {exc}", file=sys.stderr)
            continue
        report = result.report
        print(
            f"boligregister {kommunenummer}: {report.dwellings} boliger, "
            f"{report.tenancies} leieforhold, {len(report.problems)} merknader "
            f"({raw_file.name})"
        )


def run_cli(args: Any) -> int:
    """``boso register import FILE --kommune NR``.

    Args:
        args: Parsed arguments with ``file``, ``kommune`` and ``force``.

    Returns:
        0 on success (errors are raised as :class:`DataError`; the CLI prints one line).
    """
    path = Path(args.file)
    if not path.is_file():
        raise DataError(f"{path}: filen finnes ikke")
    result = import_register(path, args.kommune, force=args.force)
    out = output_paths(result.kommunenummer)
    print(f"skrev {out['dwellings']} og {out['report'].name}")
    return 0
