"""Read a kommune's dwelling-register export (CSV or .xlsx) into clean, person-free tables.

Reads only the file it is given, and runs the stages in order:

1. :mod:`~boso.register.grid`: bytes → grid of cells and the header row (encoding, delimiter
   and sheet detected; old ``.xls``, binary and truncated files give one
   :class:`~boso.errors.DataError`; title rows, repeated headers, totals rows and exact
   duplicates are skipped and reported);
2. :mod:`~boso.register.columns`: header → fields; personal columns dropped, by header *and*
   by content, before any value is parsed;
3. :mod:`~boso.register.values` (with :mod:`~boso.register.privacy`): cells typed per the
   field types declared in ``register_schema.toml``; personal-looking cells and names typed
   where a place belongs dropped; every problem reported with its row and column, no row
   dropped silently;
4. :mod:`~boso.register.coordinates`: CRS detected, points converted to EPSG:25833 and
   checked against the kommune boundary when one is given;
5. :mod:`~boso.register.tables`: rows grouped into dwellings (one row each) and dated tenancy
   periods.

The findings of every stage go into one :class:`~boso.register.result.ValidationReport`.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pandas as pd

from boso.errors import DataError, os_problem
from boso.kommune import parse_kommunenummer
from boso.register._schema import load_schema
from boso.register.columns import classify_columns
from boso.register.coordinates import locate_points
from boso.register.grid import cell_text, data_rows, read_grid
from boso.register.result import Problem, RegisterImport, ValidationReport
from boso.register.tables import build_tables
from boso.register.values import parse_date, parse_rows

__all__ = [
    "Problem",
    "RegisterImport",
    "ValidationReport",
    "check_kommunenummer",
    "read_file_bytes",
    "read_register",
    "read_register_bytes",
]


def read_register(
    path: str | Path,
    kommunenummer: str,
    *,
    boundary: Any = None,
    synthetic: bool | None = None,
) -> RegisterImport:
    """Read a dwelling-register export into cleaned dwellings and tenancy periods.

    Personal columns (names, national ID numbers, phone, e-mail, notes) are recognised by header
    and by content and never leave this function; only their header names are reported.

    Args:
        path: The export (CSV in UTF-8/Windows-1252/ISO-8859-1 with ``;``/``,``, or ``.xlsx``).
        kommunenummer: The kommune the register belongs to, 4 digits (``"3203"``).
        boundary: The kommune polygon for the outside-boundary check: a shapely geometry in
            EPSG:25833, a GeoDataFrame/GeoSeries (any CRS), or a plain DataFrame of shapely
            geometries in EPSG:25833 (as ``boso.maps.read_geo`` returns); frames are filtered on
            ``kommunenummer`` when they have it. None: the check is skipped and reported.
        synthetic: Mark the data synthetic; None: detect from the file name or title rows
            (``SYNTETISK``).

    Returns:
        The cleaned register with its validation report.

    Raises:
        DataError: The file is missing, unreadable, truncated, not a register, or holds no
            dwelling rows. One line naming the file (and row/column when known).
    """
    path = Path(path)
    kommunenummer = check_kommunenummer(kommunenummer)
    return read_register_bytes(
        read_file_bytes(path), path.name, kommunenummer, boundary=boundary, synthetic=synthetic
    )


def read_file_bytes(path: Path) -> bytes:
    """The file's bytes, or a :class:`DataError` naming the file."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: filen finnes ikke") from exc
    except IsADirectoryError as exc:
        raise DataError(f"{path}: er en mappe, ikke en fil") from exc
    except OSError as exc:
        raise DataError(f"{path}: kan ikke lese filen ({os_problem(exc)})") from exc


def check_kommunenummer(kommunenummer: Any) -> str:
    """:func:`boso.kommune.parse_kommunenummer`, all four digits written, or :class:`DataError`."""
    return parse_kommunenummer(kommunenummer, four_digits=True)


def read_register_bytes(
    content: bytes,
    name: str,
    kommunenummer: str,
    *,
    boundary: Any = None,
    synthetic: bool | None = None,
) -> RegisterImport:
    """:func:`read_register` on bytes already in memory (``name`` is used in messages)."""
    kommunenummer = check_kommunenummer(kommunenummer)
    schema = load_schema()
    grid, header_index, matches = read_grid(content, name, schema)
    header_number, header_cells = grid.rows[header_index]
    headers = [cell_text(c) for c in header_cells]
    report = ValidationReport(
        file=name,
        kommunenummer=kommunenummer,
        format=grid.format,
        encoding=grid.encoding,
        delimiter=grid.delimiter,
        sheet=grid.sheet,
        header_row=header_number,
    )
    title_text = " ".join(
        cell_text(c) for _, cells in grid.rows[:header_index] for c in cells if c is not None
    )
    report.synthetic = (
        synthetic
        if synthetic is not None
        else ("syntetisk" in name.casefold() or "syntetisk" in title_text.casefold())
    )
    found = re.search(r"\b(\d{1,2}\.\d{1,2}\.\d{4})\b", title_text)
    if found:
        with contextlib.suppress(ValueError):
            report.export_date = parse_date(found.group(1)).date().isoformat()

    rows = data_rows(grid, header_index, headers, report)
    columns = classify_columns(headers, matches, rows, schema, report)
    records = parse_rows(rows, columns, headers, schema, report)
    if not records:
        raise DataError(
            f"{name}: ingen boligrader å lese under overskriften på rad {header_number} "
            f"({report.rows_read} rader lest, alle avvist; se merknadene)"
            if report.rows_read
            else f"{name}: ingen boligrader under overskriften på rad {header_number}"
        )
    frame = pd.DataFrame(records)
    locate_points(frame, columns, headers, boundary, kommunenummer, report)
    dwellings, tenancies = build_tables(frame, kommunenummer, report)
    report.rows_kept = len(frame)
    report.dwellings = len(dwellings)
    report.tenancies = len(tenancies)
    return RegisterImport(dwellings, tenancies, report, report.source_crs)
