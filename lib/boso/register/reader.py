"""Read a kommune's dwelling-register export (CSV or .xlsx) into clean, person-free tables.

Reads only the file it is given. The steps, in order:

1. bytes → grid of cells (encoding, delimiter and sheet detected; old ``.xls``, binary and
   truncated files give one :class:`~boso.errors.DataError`);
2. header row found by scoring rows against the declared header synonyms (title rows, blank
   rows, repeated headers and totals rows are skipped and reported);
3. personal columns dropped — by header *and* by content — before any value is parsed;
4. values parsed per row (decimal comma, Excel serial dates, ...); every problem is reported
   with its row number and column, no row is dropped silently;
5. coordinates: CRS detected from header and values, converted to EPSG:25833, checked against
   the kommune boundary when one is given;
6. rows grouped into dwellings (one row each) and dated tenancy periods.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import math
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from boso.errors import DataError
from boso.kommune import parse_kommunenummer
from boso.register._schema import EMAIL_RE, FNR_RE, PHONE_RE, Schema, fold, load_schema

HEADER_SEARCH_ROWS = 50
MIN_HEADER_FIELDS = 3
# Excel's 1900 date system; day 60 (1900-02-29) does not exist, so serials from 61 on are exact
# with this origin, which covers every plausible move-in date.
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
DATE_MIN = pd.Timestamp("1950-01-01")
DATE_MAX = pd.Timestamp("2100-12-31")
# Simplified (small-scale) kommune polygons cut corners along the coast; a dwelling this close
# to the drawn boundary is not reported as outside.
BOUNDARY_TOLERANCE_M = 150.0


def _fields_of_type(kind: str) -> tuple[str, ...]:
    # The field types are declared in register_schema.toml; the reader parses by them.
    return tuple(f for f, t in load_schema().types.items() if t == kind)


TEXT_FIELDS = _fields_of_type("text")
INT_FIELDS = _fields_of_type("integer")
FLOAT_FIELDS = _fields_of_type("number")
CATEGORY_FIELDS = _fields_of_type("category")
DATE_FIELDS = _fields_of_type("date")
COORD_FIELDS = _fields_of_type("coordinate")
# Attributes of the dwelling itself: different values on two rows of one dwelling are reported.
STABLE_FIELDS = ("adresse", "boligtype", "antall_rom", "bra_m2", "eierform", "x", "y")

DWELLING_COLUMNS = [
    "kommunenummer",
    "bolig_id",
    "adresse",
    "postnr",
    "poststed",
    "gnr",
    "bnr",
    "festenr",
    "seksjonsnr",
    "bolignr",
    "boligtype",
    "maalgruppe",
    "antall_rom",
    "storrelse",
    "bra_m2",
    "arealgruppe",
    "maanedsleie",
    "eierform",
    "status",
    "x",
    "y",
    "utenfor_grense",
    "antall_leieforhold",
    "syntetisk",
]
TENANCY_COLUMNS = ["kommunenummer", "bolig_id", "innflyttet", "utflyttet", "syntetisk"]

TOTAL_WORDS = {"total", "totalt", "sum", "ialt", "sumtotalt", "totalsum", "summer", "sumalle"}


class Problem(NamedTuple):
    """One finding: ``row`` is the 1-based row/line in the file (None: whole file)."""

    row: int | None
    column: str | None
    message: str


@dataclass
class ValidationReport:
    """What the import found. Holds column names and counts, never personal values."""

    file: str
    kommunenummer: str
    format: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    rows_read: int = 0
    rows_kept: int = 0
    dwellings: int = 0
    tenancies: int = 0
    problems: list[Problem] = field(default_factory=list)
    column_mapping: dict[str, str] = field(default_factory=dict)
    unknown_columns: list[str] = field(default_factory=list)
    unmapped_values: dict[str, dict[str, int]] = field(default_factory=dict)
    dropped_personal_columns: list[str] = field(default_factory=list)
    points_outside: list[dict[str, Any]] = field(default_factory=list)
    boundary_status: str = "grense ikke tilgjengelig"
    source_crs: str | None = None
    crs_basis: str = ""
    export_date: str | None = None
    duplicates_removed: int = 0
    values_not_kept: int = 0
    synthetic: bool = False

    def add(self, row: int | None, column: str | None, message: str) -> None:
        """Record a problem."""
        self.problems.append(Problem(row, column, message))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (Norwegian keys are not used: this is the API contract)."""
        out = {k: v for k, v in self.__dict__.items() if k != "problems"}
        out["problems"] = [
            {"row": p.row, "column": p.column, "message": p.message} for p in self.problems
        ]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        problems = [Problem(p["row"], p["column"], p["message"]) for p in data.pop("problems", [])]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        report = cls(**known)
        report.problems = problems
        return report

    def summary(self, max_problems: int = 30) -> str:
        """A readable bokmål summary for the terminal."""
        lines = [
            f"Boligregister {self.kommunenummer}: {self.file}"
            + (" (syntetiske demotall)" if self.synthetic else ""),
            f"  format: {self.format}"
            + (f", tegnsett {self.encoding}" if self.encoding else "")
            + (f", skilletegn «{self.delimiter}»" if self.delimiter else "")
            + (f", ark «{self.sheet}»" if self.sheet else "")
            + (f", overskrift på rad {self.header_row}" if self.header_row else ""),
            f"  rader lest: {self.rows_read}, rader beholdt: {self.rows_kept}, "
            f"boliger: {self.dwellings}, leieforhold: {self.tenancies}",
            f"  koordinater: {self.source_crs or 'ingen'}"
            + (f" ({self.crs_basis})" if self.crs_basis else "")
            + f"; kommunegrense: {self.boundary_status}",
        ]
        if self.export_date:
            lines.append(f"  uttrekksdato: {self.export_date}")
        if self.dropped_personal_columns:
            lines.append(
                "  personopplysninger fjernet (kolonner): "
                + ", ".join(self.dropped_personal_columns)
            )
        if self.unknown_columns:
            lines.append("  ukjente kolonner (ikke brukt): " + ", ".join(self.unknown_columns))
        for fld, values in self.unmapped_values.items():
            shown = ", ".join(f"{v} ({n})" for v, n in values.items())
            lines.append(f"  ukjente verdier i {fld}: {shown}")
        if self.duplicates_removed:
            lines.append(f"  eksakte dubletter fjernet: {self.duplicates_removed} rader")
        if self.values_not_kept:
            lines.append(
                f"  verdier som ikke er lagret (personopplysninger, feil form eller urimelige): "
                f"{self.values_not_kept}"
            )
        if self.points_outside:
            lines.append(f"  boliger utenfor kommunegrensen: {len(self.points_outside)}")
        if self.problems:
            lines.append(f"  merknader: {len(self.problems)}")
            for p in self.problems[:max_problems]:
                where = []
                if p.row is not None:
                    where.append(f"rad {p.row}")
                if p.column:
                    where.append(f"kolonne «{p.column}»")
                lines.append(f"    {', '.join(where) or 'fil'}: {p.message}")
            if len(self.problems) > max_problems:
                lines.append(f"    … og {len(self.problems) - max_problems} til (se rapportfilen)")
        else:
            lines.append("  ingen merknader")
        return "\n".join(lines)


@dataclass
class RegisterImport:
    """A cleaned register: dwellings, tenancy periods and the validation report."""

    dwellings: pd.DataFrame
    tenancies: pd.DataFrame
    report: ValidationReport
    source_crs: str | None = None

    @property
    def kommunenummer(self) -> str:
        return self.report.kommunenummer

    @property
    def synthetic(self) -> bool:
        return self.report.synthetic


# --------------------------------------------------------------------------------------------
# Cell helpers


def looks_personal(text: str) -> str | None:
    """Which kind of personal identifier a cell value looks like, or None."""
    if FNR_RE.search(text):
        return "fødselsnummer"
    if EMAIL_RE.search(text):
        return "e-postadresse"
    if PHONE_RE.match(text.strip()):
        return "telefonnummer"
    return None


_TWO_WORDS_RE = re.compile(r"[^\W\d_]{2,}[\s,]+[^\W\d_]{2,}")


def safe_value(text: str) -> str:
    """A cell value fit to quote in a report: personal-looking, wordy or long values are hidden.

    Two words of letters may be a person's name, so only short single-word or numeric-looking
    values are quoted.
    """
    if looks_personal(text) or len(text) > 25 or _NAME_RE.match(text) or _TWO_WORDS_RE.search(text):
        return "(verdi skjult)"
    return f"«{text}»"


def cell_text(value: Any) -> str:
    """A cell as trimmed text (integral floats without ``.0``, dates as ISO)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).replace("\u00a0", " ").strip()


_NUM_JUNK = re.compile(r"(?i)kr\.?|nok|m²|m2|kvm|,-|\s|\u00a0|\u202f|'")


def parse_number(value: Any) -> float:
    """A number from a cell: accepts decimal comma, thousands spaces/dots, ``kr`` and units.

    Raises:
        ValueError: Not a number.
    """
    if isinstance(value, bool):
        raise ValueError("sannhetsverdi")
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    else:
        text = _NUM_JUNK.sub("", str(value))
        text = text.replace("\u2212", "-")
        if not text:
            raise ValueError("tom")
        if "," in text and "." in text:
            # The later separator is the decimal one ("1.234,50" or "1,234.50").
            if text.rfind(",") > text.rfind("."):
                text = text.replace(".", "").replace(",", ".")
            else:
                text = text.replace(",", "")
        elif "," in text:
            if text.count(",") > 1:
                raise ValueError("flere kommaer")
            text = text.replace(",", ".")
        elif text.count(".") > 1:
            if not re.fullmatch(r"-?\d{1,3}(\.\d{3})+", text):
                raise ValueError("flere punktum")
            text = text.replace(".", "")
        if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
            raise ValueError("ikke et tall")
        number = float(text)
    if not math.isfinite(number):
        raise ValueError("ikke endelig")
    return number


_DATE_FORMATS = ("%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y.%m.%d")


def parse_date(value: Any) -> pd.Timestamp:
    """A date from a cell: datetime, Excel serial number, ``dd.mm.yyyy``, ISO and a few more.

    Raises:
        ValueError: Not a plausible date (outside 1950–2100 counts as not plausible).
    """
    if isinstance(value, dt.datetime | dt.date):
        ts = pd.Timestamp(value)
    elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        ts = _from_serial(float(value))
    else:
        text = cell_text(value)
        if re.fullmatch(r"\d{4,5}([.,]\d+)?", text):
            ts = _from_serial(float(text.replace(",", ".")))
        else:
            text = re.sub(r"[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "", text)
            for fmt in _DATE_FORMATS:
                try:
                    ts = pd.Timestamp(dt.datetime.strptime(text, fmt))
                    break
                except ValueError:
                    continue
            else:
                raise ValueError("ikke en dato")
    ts = ts.normalize()
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    if not DATE_MIN <= ts <= DATE_MAX:
        raise ValueError("usannsynlig dato")
    return ts


def _from_serial(serial: float) -> pd.Timestamp:
    if not math.isfinite(serial) or not 61 <= serial < 2958466:
        raise ValueError("ikke et Excel-datotall")
    return EXCEL_EPOCH + pd.Timedelta(days=int(serial))


# --------------------------------------------------------------------------------------------
# File → grid


@dataclass
class _Grid:
    rows: list[tuple[int, list[Any]]]  # (1-based row/line number, cells)
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    lines: int = 0  # physical non-blank lines (CSV)
    ends: list[int] = field(default_factory=list)  # last line of each CSV record
    unterminated: bool = False  # CSV text does not end with a line break


def _decode(content: bytes, name: str) -> tuple[str, str]:
    if content.startswith(b"\xef\xbb\xbf"):
        try:
            return content[3:].decode("utf-8"), "UTF-8 (BOM)"
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{name}: filen starter som UTF-8, men byte {exc.start + 3} er ikke gyldig UTF-8"
            ) from exc
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}: ugyldig UTF-16-tekst (avkortet fil?)") from exc
    if b"\x00" in content:
        raise DataError(f"{name}: filen inneholder binære data og er verken CSV eller .xlsx")
    try:
        return content.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text, encoding = content.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        text, encoding = content.decode("latin-1"), "ISO-8859-1"
    return text, encoding


def _check_text(text: str, name: str) -> None:
    # Control characters (other than tab/newlines) mean a binary file decoded as Latin-1.
    controls = sum(
        1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n") or 0x7F <= ord(ch) < 0xA0
    )
    if controls > max(16, len(text) // 50):
        raise DataError(f"{name}: filen ser ikke ut som tekst (binære data eller ukjent tegnsett)")


# A quoted field may legitimately hold a line break or two (a note column); a record that
# swallows more lines than this comes from an unclosed quote.
MAX_RECORD_LINES = 5


def _csv_grid(text: str, delimiter: str, name: str, encoding: str) -> _Grid:
    rows: list[tuple[int, list[Any]]] = []
    ends: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            rows.append((start, record))
            ends.append(reader.line_num)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{name}: linje {reader.line_num}: kan ikke lese CSV ({exc})") from exc
    lines = sum(1 for line in text.splitlines() if line.strip())
    unterminated = not text.endswith(("\n", "\r"))
    return _Grid(
        rows, "csv", encoding, delimiter, lines=lines, ends=ends, unterminated=unterminated
    )


def _check_record_lines(grid: _Grid, name: str) -> None:
    """Refuse a CSV whose parse swallowed many lines into few records (an unclosed quote)."""
    if grid.format != "csv" or not grid.rows:
        return
    for (start, _), end in zip(grid.rows, grid.ends, strict=True):
        if end - start + 1 > MAX_RECORD_LINES:
            raise DataError(
                f'{name}: linje {start}: et anførselstegn (") som ikke lukkes gjør linjene '
                f"{start}–{end} til én rad; filen er skadet og er ikke importert"
            )
    records = sum(1 for _, cells in grid.rows if any(cell_text(c) for c in cells))
    if grid.lines >= 10 and records < grid.lines / 2:
        raise DataError(
            f"{name}: bare {records} rader av {grid.lines} linjer kunne leses (anførselstegn "
            "som ikke lukkes?); filen er ikke importert"
        )


def _xlsx_sheets(content: bytes, name: str) -> list[tuple[str, list[tuple[int, list[Any]]]]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types (zip, XML, KeyError) for bad files
        raise DataError(
            f"{name}: kan ikke åpne Excel-filen (skadet eller avkortet?): {type(exc).__name__}"
        ) from exc
    sheets = []
    try:
        for sheet in workbook.worksheets:
            rows = [
                (number, list(values))
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            ]
            sheets.append((sheet.title, rows))
    except Exception as exc:  # lazy read-only parsing can fail on any damaged part
        raise DataError(
            f"{name}: kan ikke lese Excel-filen (skadet eller avkortet?): {type(exc).__name__}"
        ) from exc
    finally:
        workbook.close()
    return sheets


def _read_grid(content: bytes, name: str, schema: Schema) -> tuple[_Grid, int, dict[int, Any]]:
    """Read the cells and find the header row. Returns (grid, header index, header matches)."""
    if not content.strip():
        raise DataError(f"{name}: filen er tom")
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError(
            f"{name}: gammelt Excel-format (.xls) støttes ikke; lagre filen som .xlsx eller CSV"
        )
    candidates: list[_Grid] = []
    if content.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
        if not zipfile.is_zipfile(io.BytesIO(content)):
            raise DataError(f"{name}: Excel-filen er skadet eller avkortet (ikke en gyldig .xlsx)")
        for title, rows in _xlsx_sheets(content, name):
            candidates.append(_Grid(rows, "xlsx", sheet=title))
    else:
        text, encoding = _decode(content, name)
        _check_text(text, name)
        for delimiter in (";", ",", "\t", "|"):
            if delimiter in text:
                candidates.append(_csv_grid(text, delimiter, name, encoding))
        if not candidates:
            candidates.append(_csv_grid(text, ";", name, encoding))
    best: tuple[int, _Grid, int, dict[int, Any]] | None = None
    for grid in candidates:
        found = _find_header(grid.rows, schema)
        if found and (best is None or found[0] > best[0]):
            best = (found[0], grid, found[1], found[2])
    if best is None:
        raise DataError(
            f"{name}: fant ingen overskriftsrad med kjente kolonner (f.eks. Adresse, Boligtype, "
            f"Innflyttet) blant de første {HEADER_SEARCH_ROWS} radene"
        )
    _check_record_lines(best[1], name)
    _check_cut(best[1], best[2], name)
    return best[1], best[2], best[3]


def _check_cut(grid: _Grid, header_index: int, name: str) -> None:
    """Refuse a CSV with a row that ends early: cut off at the end, or swallowed by a quote.

    A quoted field may hold line breaks (a note), but then the row still has all its columns;
    a row that spans several lines with fewer columns than the header began with a quote that
    never closed, and the lines after it were lost inside one cell.
    """
    if grid.format != "csv" or len(grid.rows) <= header_index + 1:
        return
    header_cells = grid.rows[header_index][1]
    named = [i for i, c in enumerate(header_cells) if cell_text(c)]
    width = named[-1] + 1 if named else len(header_cells)
    for index in range(header_index + 1, len(grid.rows)):
        line, cells = grid.rows[index]
        end = grid.ends[index]
        broken = bool(cells) and ("\n" in str(cells[-1]) or "\r" in str(cells[-1]))
        if (end > line or broken) and len(cells) < width:
            raise DataError(
                f'{name}: linje {line}: et anførselstegn (") som ikke lukkes gjør linjene '
                f"{line}–{end} til én rad; filen er skadet og er ikke importert"
            )
    line, cells = grid.rows[-1]
    if grid.unterminated and len(cells) < width:
        raise DataError(
            f"{name}: linje {line}: filen slutter midt i en rad ({len(cells)} av {width} "
            "kolonner); avkortet fil? ikke importert"
        )


def _find_header(
    rows: list[tuple[int, list[Any]]], schema: Schema
) -> tuple[int, int, dict[int, Any]] | None:
    best: tuple[int, int, dict[int, Any]] | None = None
    for index, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        matches: dict[int, Any] = {}
        for col, value in enumerate(cells):
            text = cell_text(value)
            if not text or len(text) > 60:
                continue
            fld = schema.match_field(text)
            if fld is not None:
                matches[col] = fld
        fields = set(matches.values())
        if len(fields) < MIN_HEADER_FIELDS or not fields & {"adresse", "bolig_id", "gnr"}:
            continue
        if best is None or len(fields) > best[0]:
            best = (len(fields), index, matches)
    return best


# --------------------------------------------------------------------------------------------
# The reader


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
        raise DataError(f"{path}: kan ikke lese filen ({exc.strerror})") from exc


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
    grid, header_index, matches = _read_grid(content, name, schema)
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

    data_rows = _data_rows(grid, header_index, headers, report)
    columns = _classify_columns(headers, matches, data_rows, schema, report)
    records = _parse_rows(data_rows, columns, headers, schema, report)
    if not records:
        raise DataError(
            f"{name}: ingen boligrader å lese under overskriften på rad {header_number} "
            f"({report.rows_read} rader lest, alle avvist; se merknadene)"
            if report.rows_read
            else f"{name}: ingen boligrader under overskriften på rad {header_number}"
        )
    frame = pd.DataFrame(records)
    _coordinates(frame, columns, headers, boundary, kommunenummer, report)
    dwellings, tenancies = _build_tables(frame, kommunenummer, report)
    report.rows_kept = len(frame)
    report.dwellings = len(dwellings)
    report.tenancies = len(tenancies)
    return RegisterImport(dwellings, tenancies, report, report.source_crs)


def _data_rows(
    grid: _Grid, header_index: int, headers: list[str], report: ValidationReport
) -> list[tuple[int, list[Any]]]:
    header_keys = [fold(h) for h in headers]
    nonblank_header = sum(1 for k in header_keys if k)
    kept = []
    seen: dict[tuple[str, ...], int] = {}
    for number, cells in grid.rows[header_index + 1 :]:
        texts = [cell_text(c) for c in cells]
        filled = [t for t in texts if t]
        if not filled:
            continue
        report.rows_read += 1
        same = sum(
            1
            for i, t in enumerate(texts)
            if t and i < len(header_keys) and fold(t) == header_keys[i]
        )
        if same >= max(2, nonblank_header // 2):
            report.add(number, None, "gjentatt overskriftsrad; hoppet over")
            continue
        if any(fold(t) in TOTAL_WORDS or re.match(r"(?i)^(sum|totalt?)\b", t) for t in filled[:2]):
            report.add(number, None, "summeringsrad; hoppet over")
            continue
        if len(texts) > len(headers) and any(texts[len(headers) :]):
            report.add(
                number, None, "flere verdier enn kolonner i overskriften; de ekstra er ignorert"
            )
        key = tuple(texts)
        while key and not key[-1]:
            key = key[:-1]
        if key in seen:
            # Counted once: an exported row repeated by the system is not a second tenancy.
            report.duplicates_removed += 1
            report.add(number, None, f"eksakt dublett av rad {seen[key]}; fjernet")
            continue
        seen[key] = number
        kept.append((number, cells))
    return kept


@dataclass
class _Columns:
    fields: dict[str, int]  # field -> column index
    personal: list[int]


def _shown_header(header: str, col: int) -> str:
    """A header fit for the report: one shaped like an ID, phone or e-mail is not quoted."""
    return f"(kolonne {col + 1}, navn skjult)" if looks_personal(header) else header


def _classify_columns(
    headers: list[str],
    matches: dict[int, Any],
    data_rows: list[tuple[int, list[Any]]],
    schema: Schema,
    report: ValidationReport,
) -> _Columns:
    fields: dict[str, int] = {}
    personal: list[int] = []
    for col, header in enumerate(headers):
        if not header:
            has_values = any(col < len(c) and cell_text(c[col]) for _, c in data_rows)
            if has_values:
                header = f"(kolonne {col + 1} uten navn)"
                # Unnamed columns are judged by content like unknown ones.
                if _personal_content(col, data_rows):
                    personal.append(col)
                    report.dropped_personal_columns.append(header)
                else:
                    report.unknown_columns.append(header)
            continue
        fld = matches.get(col)
        if fld is not None:
            if fld in fields:
                report.add(
                    report.header_row,
                    header,
                    f"flere kolonner for feltet {schema.labels[fld]}; bruker "
                    f"«{headers[fields[fld]]}»",
                )
                continue
            if _personal_content(col, data_rows, strict=True):
                # A schema header over a column full of IDs/e-mails: the header lies.
                personal.append(col)
                report.dropped_personal_columns.append(header)
                report.add(
                    report.header_row,
                    header,
                    "kolonnen inneholder personopplysninger og er fjernet",
                )
                continue
            fields[fld] = col
            report.column_mapping[header] = fld
        elif schema.is_personal_header(header) or _personal_content(col, data_rows):
            personal.append(col)
            report.dropped_personal_columns.append(_shown_header(header, col))
        else:
            report.unknown_columns.append(_shown_header(header, col))
    if "adresse" not in fields and "bolig_id" not in fields and "gnr" not in fields:
        raise DataError(f"{report.file}: fant ingen kolonne for adresse eller objekt-ID")
    return _Columns(fields, personal)


_NAME_RE = re.compile(
    r"^[A-ZÆØÅ][\w'’-]+,\s*[A-ZÆØÅ][\w'’ -]+$|^[A-ZÆØÅ][a-zæøåé'-]+( [A-ZÆØÅ][a-zæøåé'-]+){1,3}$"
)


def _personal_content(
    col: int, data_rows: list[tuple[int, list[Any]]], strict: bool = False
) -> bool:
    """Whether a column's values identify people (IDs, e-mail, phone, names, free text)."""
    values = [cell_text(c[col]) for _, c in data_rows if col < len(c)]
    values = [v for v in values if v]
    if not values:
        return False
    ids = sum(1 for v in values if FNR_RE.search(v) or EMAIL_RE.search(v))
    if strict:
        # A schema column is only taken away when most of it is identifiers.
        return ids > len(values) / 2
    if ids:
        return True
    phones = sum(1 for v in values if PHONE_RE.match(v))
    names = sum(1 for v in values if _NAME_RE.match(v))
    long_text = sum(1 for v in values if len(v) > 30 and len(v.split()) >= 5)
    n = len(values)
    return phones > n / 2 or names > n / 2 or long_text > n / 4


def _parse_rows(
    data_rows: list[tuple[int, list[Any]]],
    columns: _Columns,
    headers: list[str],
    schema: Schema,
    report: ValidationReport,
) -> list[dict[str, Any]]:
    unmapped: dict[str, Counter[str]] = {}
    records = []
    latest = _latest_allowed_date(report)
    for number, cells in data_rows:
        row = _kept_cells(number, cells, columns, headers, report)

        def get(fld: str, row: dict[str, Any] = row) -> Any:
            return row.get(fld)

        rec: dict[str, Any] = {"_row": number}
        for fld in TEXT_FIELDS:
            value = get(fld)
            text = cell_text(value) if value is not None else None
            if text and fld == "postnr" and re.fullmatch(r"\d{1,3}", text):
                text = text.zfill(4)
            if text and not schema.fits_shape(fld, text):
                header = headers[columns.fields[fld]]
                report.values_not_kept += 1
                report.add(
                    number,
                    header,
                    f"verdi i kolonne {header} rad {number} ligner ikke "
                    f"{schema.shape_what[fld]} (ikke lagret)",
                )
                text = None
            rec[fld] = text or None
        for fld in INT_FIELDS:
            rec[fld] = _typed(get(fld), fld, number, columns, headers, report, integer=True)
        for fld in FLOAT_FIELDS:
            rec[fld] = _typed(get(fld), fld, number, columns, headers, report, integer=False)
        for fld in COORD_FIELDS:
            value = get(fld)
            rec[fld] = np.nan
            if value is not None:
                try:
                    rec[fld] = parse_number(value)
                except ValueError:
                    report.add(
                        number,
                        headers[columns.fields[fld]],
                        f"ugyldig koordinat {safe_value(cell_text(value))}",
                    )
        for fld in DATE_FIELDS:
            value = get(fld)
            rec[fld] = pd.NaT
            if value is not None:
                try:
                    date = parse_date(value)
                except ValueError:
                    report.add(
                        number,
                        headers[columns.fields[fld]],
                        f"ugyldig dato {safe_value(cell_text(value))}",
                    )
                    continue
                if fld in schema.not_after_export and date > latest:
                    report.values_not_kept += 1
                    report.add(
                        number,
                        headers[columns.fields[fld]],
                        f"datoen {date.date().isoformat()} er etter uttrekksdatoen "
                        f"{latest.date().isoformat()}; ikke brukt",
                    )
                    continue
                rec[fld] = date
        for fld in CATEGORY_FIELDS:
            value = get(fld)
            rec[fld] = None
            if value is None:
                continue
            text = cell_text(value)
            label = schema.normalise_category(fld, text)
            if label is None:
                # A value that may be a person's name is counted but not quoted.
                shown = safe_value(text).strip("«»")
                unmapped.setdefault(fld, Counter())[shown] += 1
                label = "Annet"
            rec[fld] = label
        if not rec["bolig_id"] and not rec["adresse"] and rec["gnr"] is None:
            report.add(number, None, "mangler både adresse og objekt-ID; raden er ikke tatt med")
            continue
        records.append(rec)
    report.unmapped_values = {
        fld: dict(counter.most_common()) for fld, counter in sorted(unmapped.items())
    }
    return records


def _kept_cells(
    number: int,
    cells: list[Any],
    columns: _Columns,
    headers: list[str],
    report: ValidationReport,
) -> dict[str, Any]:
    """The row's cells of kept columns; a value shaped like a personal identifier is dropped.

    Every kept column is checked, numeric ones too (an ID number typed into ``BRA`` would
    otherwise survive as a float), before any value is parsed.
    """
    row: dict[str, Any] = {}
    for fld, col in columns.fields.items():
        if col >= len(cells):
            continue
        value = cells[col]
        text = cell_text(value)
        if text == "":
            continue
        kind = looks_personal(text)
        if kind:
            header = headers[col]
            report.values_not_kept += 1
            report.add(
                number,
                header,
                f"verdi i kolonne {header} rad {number} ligner {_ARTICLE[kind]} {kind} "
                "(ikke lagret)",
            )
            continue
        row[fld] = value
    return row


_ARTICLE = {"fødselsnummer": "et", "e-postadresse": "en", "telefonnummer": "et"}


def _latest_allowed_date(report: ValidationReport) -> pd.Timestamp:
    """Dates after the export date (from the title rows; else today) are not plausible."""
    if report.export_date:
        return pd.Timestamp(report.export_date)
    return pd.Timestamp.today().normalize()


def _typed(
    value: Any,
    fld: str,
    number: int,
    columns: _Columns,
    headers: list[str],
    report: ValidationReport,
    *,
    integer: bool,
) -> Any:
    if value is None:
        return None if integer else np.nan
    header = headers[columns.fields[fld]]
    try:
        number_value = parse_number(value)
    except ValueError:
        report.add(number, header, f"ikke et tall: {safe_value(cell_text(value))}")
        return None if integer else np.nan
    if number_value < 0:
        report.add(number, header, "negativ verdi; satt som mangler")
        return None if integer else np.nan
    schema = load_schema()
    if not schema.in_range(fld, number_value):
        low, high = schema.ranges[fld]
        report.values_not_kept += 1
        report.add(
            number,
            header,
            f"verdi i kolonne {header} rad {number} er utenfor rimelig område "
            f"({low:g}–{high:g}); ikke brukt",
        )
        return None if integer else np.nan
    if integer:
        if not float(number_value).is_integer():
            report.add(number, header, f"ikke et heltall: {safe_value(cell_text(value))}")
            return None
        if number_value > 1e9:
            report.add(number, header, "urimelig stort tall; satt som mangler")
            return None
        return int(number_value)
    return number_value


# --------------------------------------------------------------------------------------------
# Coordinates


# Plausible coordinates in Norway (incl. Svalbard margin): degrees, and UTM 32/33 metres.
LON_RANGE, LAT_RANGE = (-10.0, 40.0), (55.0, 82.0)
EAST_RANGE, NORTH_RANGE = (-200_000.0, 1_300_000.0), (6_300_000.0, 9_000_000.0)


def _between(values: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    return (values > bounds[0]) & (values < bounds[1])


def _compact_rows(rows: list[int]) -> str:
    """``[2, 3, 4, 9]`` → ``"2–4, 9"`` (long lists are cut)."""
    parts: list[str] = []
    start = prev = rows[0]
    for row in [*rows[1:], None]:
        if row is not None and row == prev + 1:
            prev = row
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if row is not None:
            start = prev = row
    return ", ".join(parts[:20]) + (" …" if len(parts) > 20 else "")


def _coordinates(
    frame: pd.DataFrame,
    columns: _Columns,
    headers: list[str],
    boundary: Any,
    kommunenummer: str,
    report: ValidationReport,
) -> None:
    """Detect the CRS, convert to EPSG:25833 in place (x, y) and check the boundary.

    The coordinate system is chosen by the rows that fit one: a row whose coordinates fit none
    (or not the one most rows use) loses only its own point, and is reported by row.
    """
    schema = load_schema()
    use_latlon = "x" not in columns.fields and "lon" in columns.fields
    xf, yf = ("lon", "lat") if use_latlon else ("x", "y")
    x = frame[xf].to_numpy(dtype=float) if xf in frame else np.full(len(frame), np.nan)
    y = frame[yf].to_numpy(dtype=float) if yf in frame else np.full(len(frame), np.nan)
    frame["utenfor_grense"] = pd.NA
    geom = boundary_geometry(boundary, kommunenummer)
    if geom is None:
        report.boundary_status = "grense ikke tilgjengelig"
    xheader = headers[columns.fields[xf]] if xf in columns.fields else None
    rows = frame["_row"].to_numpy()
    half = np.isfinite(x) ^ np.isfinite(y)
    for row in rows[half]:
        report.add(
            int(row), xheader, "bare én av de to koordinatene er oppgitt; punktet er ikke brukt"
        )
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        frame["x"], frame["y"] = np.nan, np.nan
        report.crs_basis = "ingen koordinater"
        return
    degrees = ok & _between(x, LON_RANGE) & _between(y, LAT_RANGE)
    swapped = ok & _between(y, LON_RANGE) & _between(x, LAT_RANGE)
    metres = ok & _between(x, EAST_RANGE) & _between(y, NORTH_RANGE)
    counts = {"degrees": degrees.sum(), "swapped": swapped.sum(), "metres": metres.sum()}
    kind = max(counts, key=lambda k: counts[k])
    if counts[kind] == 0:
        report.add(
            None,
            xheader,
            "koordinatene passer ikke med EPSG:25832, 25833 eller 4326 i Norge; ikke brukt "
            f"(rader {_compact_rows([int(r) for r in rows[ok]])})",
        )
        frame["x"], frame["y"] = np.nan, np.nan
        report.crs_basis = "ukjent koordinatsystem"
        return
    fits = {"degrees": degrees, "swapped": swapped, "metres": metres}[kind]
    bad = ok & ~fits
    for row in rows[bad]:
        report.add(
            int(row),
            xheader,
            "koordinatene passer ikke med koordinatsystemet de andre radene bruker; "
            "punktet er ikke brukt",
        )
    x = np.where(fits, x, np.nan)
    y = np.where(fits, y, np.nan)
    hints = {
        schema.crs_hint(headers[columns.fields[f]]) for f in (xf, yf) if f in columns.fields
    } - {None}
    hint = 4326 if use_latlon else (hints.pop() if len(hints) == 1 else None)
    if kind in ("degrees", "swapped"):
        # Norway: longitude 3–33, latitude 57–72; swapped columns are a common export error.
        if kind == "swapped":
            x, y = y.copy(), x.copy()
            report.add(None, None, "lengde- og breddegrad var byttet om; rettet")
        epsg, basis = 4326, "grader (fra verdiene)"
        if hint and hint != 4326:
            report.add(None, None, f"overskriften antyder EPSG:{hint}, men verdiene er grader")
    else:
        epsg, basis = _choose_utm(x[fits], y[fits], hint, geom, report)
    tx, ty = _to_25833(x, y, epsg)
    # Rows without a usable point stay missing (a projection of NaN may give inf).
    tx = np.where(np.isfinite(tx) & np.isfinite(ty), tx, np.nan)
    ty = np.where(np.isfinite(tx), ty, np.nan)
    frame["x"], frame["y"] = tx, ty
    report.source_crs = f"EPSG:{epsg}"
    report.crs_basis = basis
    if geom is not None:
        import shapely

        report.boundary_status = "kontrollert"
        have = np.isfinite(tx) & np.isfinite(ty)
        inside = np.zeros(len(frame), dtype=bool)
        inside[have] = shapely.contains_xy(geom.buffer(BOUNDARY_TOLERANCE_M), tx[have], ty[have])
        frame["utenfor_grense"] = pd.array(
            [None if not h else bool(not i) for h, i in zip(have, inside, strict=True)],
            dtype="boolean",
        )
        for _, rec in frame[have & ~inside].iterrows():
            report.points_outside.append(
                {
                    "row": int(rec["_row"]),
                    "bolig_id": rec["bolig_id"],
                    "adresse": rec["adresse"],
                }
            )
            report.add(int(rec["_row"]), None, "punktet ligger utenfor kommunegrensen")


def _choose_utm(
    xs: np.ndarray, ys: np.ndarray, hint: int | None, geom: Any, report: ValidationReport
) -> tuple[int, str]:
    if geom is not None:
        import shapely

        share = {}
        for epsg in (25832, 25833):
            tx, ty = _to_25833(xs, ys, epsg)
            share[epsg] = float(
                np.mean(shapely.contains_xy(geom.buffer(BOUNDARY_TOLERANCE_M), tx, ty))
            )
        best = max(share, key=lambda e: share[e])
        other = 25833 if best == 25832 else 25832
        if share[best] >= 0.5 and share[best] > share[other]:
            if hint and hint != best:
                report.add(
                    None,
                    None,
                    f"overskriften antyder EPSG:{hint}, men punktene ligger i kommunen bare som "
                    f"EPSG:{best}; brukte EPSG:{best}",
                )
            return best, "fra verdiene (kontrollert mot kommunegrensen)"
    if hint in (25832, 25833):
        return hint, "fra kolonneoverskriften"
    report.add(None, None, "koordinatsystemet er ikke oppgitt; antok EPSG:25833 (UTM 33)")
    return 25833, "antatt"


def _to_25833(x: np.ndarray, y: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    if epsg == 25833:
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    from pyproj import Transformer

    transformer = Transformer.from_crs(epsg, 25833, always_xy=True)
    tx, ty = transformer.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(tx, dtype=float), np.asarray(ty, dtype=float)


def boundary_geometry(boundary: Any, kommunenummer: str) -> Any:
    """The kommune polygon in EPSG:25833 as one shapely geometry, or None if unavailable."""
    if boundary is None:
        return None
    try:
        import geopandas as gpd
        import shapely
    except ImportError:  # pragma: no cover - both are hard dependencies
        return None
    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        frame = boundary
        if isinstance(frame, gpd.GeoDataFrame) and "kommunenummer" in frame.columns:
            frame = frame[frame["kommunenummer"].astype(str).str.zfill(4) == kommunenummer]
        if len(frame) == 0:
            return None
        if frame.crs is not None and frame.crs.to_epsg() != 25833:
            frame = frame.to_crs(25833)
        geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
        geom = shapely.union_all(geoms.to_numpy())
    elif isinstance(boundary, pd.DataFrame):
        # boso.maps.read_geo: a plain frame of shapely geometries in EPSG:25833.
        frame = boundary
        if "kommunenummer" in frame.columns:
            frame = frame[frame["kommunenummer"].astype(str).str.zfill(4) == kommunenummer]
        if len(frame) == 0 or "geometry" not in frame.columns:
            return None
        geom = shapely.union_all(frame["geometry"].to_numpy())
    else:
        geom = boundary
    if geom is None or geom.is_empty:
        return None
    return geom


# --------------------------------------------------------------------------------------------
# Rows → dwellings + tenancies


def _present(value: Any) -> bool:
    return (
        value is not None
        and not (isinstance(value, float) and math.isnan(value))
        and (value is not pd.NA and str(value) != "")
    )


def _present_date(value: Any) -> bool:
    return value is not None and not pd.isna(value)


def _dwelling_key(rec: dict[str, Any]) -> str:
    if _present(rec["bolig_id"]):
        return str(rec["bolig_id"])
    if _present(rec["adresse"]):
        place = str(rec["adresse"])
    else:
        place = f"gnr {rec['gnr']} bnr {rec['bnr']}"
    return f"{place} {rec['bolignr']}" if _present(rec["bolignr"]) else place


def size_band(rooms: Any) -> str | None:
    """Rooms → ``"1 rom"`` … ``"4 rom +"``."""
    if rooms is None or pd.isna(rooms):
        return None
    rooms = int(rooms)
    return f"{rooms} rom" if rooms < 4 else "4 rom +"


def area_band(area: Any) -> str | None:
    """BRA m² → size band (``"under 30 m²"`` … ``"90 m² og mer"``)."""
    if area is None or pd.isna(area):
        return None
    for limit, label in ((30, "under 30 m²"), (50, "30–49 m²"), (70, "50–69 m²"), (90, "70–89 m²")):
        if area < limit:
            return label
    return "90 m² og mer"


def _build_tables(
    frame: pd.DataFrame, kommunenummer: str, report: ValidationReport
) -> tuple[pd.DataFrame, pd.DataFrame]:
    headers = {fld: header for header, fld in report.column_mapping.items()}
    far = DATE_MAX + pd.Timedelta(days=1)

    def order(rec: dict[str, Any]) -> tuple[pd.Timestamp, int]:
        # Rows without dates describe the dwelling's current state (e.g. "Ledig"): last.
        dates = [d for d in (rec["innflyttet"], rec["utflyttet"]) if _present_date(d)]
        return (max(dates) if dates else far, rec["_row"])

    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in frame.to_dict("records"):
        for key in ("innflyttet", "utflyttet"):
            if not _present_date(rec[key]):
                rec[key] = pd.NaT
        groups.setdefault(_dwelling_key(rec), []).append(rec)

    dwellings = []
    tenancies = []
    for key in sorted(groups):
        rows = sorted(groups[key], key=order)
        row_numbers = [r["_row"] for r in rows]
        for fld in STABLE_FIELDS:
            values = {r[fld] for r in rows if _present(r[fld])}
            if len(values) > 1:
                report.add(
                    int(row_numbers[-1]),
                    headers.get(fld, fld),
                    f"ulike verdier for boligen på radene {', '.join(map(str, row_numbers))}; "
                    "brukte den siste",
                )
        # The latest known value of each field (a later row may leave a cell empty).
        last = dict(rows[-1])
        for fld in last:
            if not _present(last[fld]):
                for r in reversed(rows):
                    if _present(r[fld]):
                        last[fld] = r[fld]
                        break
        periods = []
        for rec in rows:
            inn, ut = rec["innflyttet"], rec["utflyttet"]
            if pd.isna(inn) and pd.isna(ut):
                if rec["status"] == "Utleid":
                    report.add(
                        int(rec["_row"]),
                        headers.get("innflyttet"),
                        "utleid, men uten innflyttingsdato",
                    )
                continue
            if pd.notna(inn) and pd.notna(ut) and ut < inn:
                report.add(
                    int(rec["_row"]),
                    headers.get("utflyttet"),
                    "utflyttingsdato før innflyttingsdato; leieforholdet er ikke tatt med",
                )
                continue
            if pd.isna(inn):
                report.add(int(rec["_row"]), headers.get("innflyttet"), "mangler innflyttingsdato")
            periods.append((inn, ut, int(rec["_row"])))
        periods.sort(key=lambda p: (p[0] if pd.notna(p[0]) else pd.Timestamp.min, p[2]))
        for (_, ut_a, _), (inn_b, _, row_b) in zip(periods, periods[1:], strict=False):
            if pd.notna(inn_b) and (pd.isna(ut_a) or ut_a > inn_b):
                report.add(
                    row_b,
                    headers.get("innflyttet"),
                    "overlapper med forrige leieforhold i samme bolig",
                )
        for inn, ut, _ in periods:
            tenancies.append(
                {
                    "kommunenummer": kommunenummer,
                    "bolig_id": key,
                    "innflyttet": inn,
                    "utflyttet": ut,
                }
            )
        status = _dwelling_status(last["status"], periods)
        dwellings.append(
            {
                "kommunenummer": kommunenummer,
                "bolig_id": key,
                "adresse": last["adresse"],
                "postnr": last["postnr"],
                "poststed": last["poststed"],
                "gnr": last["gnr"],
                "bnr": last["bnr"],
                "festenr": last["festenr"],
                "seksjonsnr": last["seksjonsnr"],
                "bolignr": last["bolignr"],
                "boligtype": last["boligtype"],
                "maalgruppe": last["maalgruppe"],
                "antall_rom": last["antall_rom"],
                "storrelse": size_band(last["antall_rom"]),
                "bra_m2": last["bra_m2"],
                "arealgruppe": area_band(last["bra_m2"]),
                "maanedsleie": last["maanedsleie"],
                "eierform": last["eierform"],
                "status": status,
                "x": last["x"],
                "y": last["y"],
                "utenfor_grense": last["utenfor_grense"],
                "antall_leieforhold": len(periods),
            }
        )
    dwell = pd.DataFrame(dwellings)
    for col in ("gnr", "bnr", "festenr", "seksjonsnr", "antall_rom"):
        dwell[col] = pd.array(
            [None if v is None or pd.isna(v) else int(v) for v in dwell[col]], dtype="Int64"
        )
    for col in ("bra_m2", "maanedsleie", "x", "y"):
        dwell[col] = pd.to_numeric(dwell[col], errors="coerce").astype(float)
    dwell["utenfor_grense"] = dwell["utenfor_grense"].astype("boolean")
    dwell["antall_leieforhold"] = dwell["antall_leieforhold"].astype("int64")
    dwell["syntetisk"] = report.synthetic
    for col in DWELLING_COLUMNS:
        if col not in (
            "gnr",
            "bnr",
            "festenr",
            "seksjonsnr",
            "antall_rom",
            "bra_m2",
            "maanedsleie",
            "x",
            "y",
            "utenfor_grense",
            "antall_leieforhold",
            "syntetisk",
        ):
            dwell[col] = dwell[col].astype("string")
    ten = pd.DataFrame(tenancies, columns=["kommunenummer", "bolig_id", "innflyttet", "utflyttet"])
    for col in ("innflyttet", "utflyttet"):
        ten[col] = pd.to_datetime(ten[col]).astype("datetime64[ns]")
    for col in ("kommunenummer", "bolig_id"):
        ten[col] = ten[col].astype("string")
    ten["syntetisk"] = report.synthetic
    return dwell[DWELLING_COLUMNS].reset_index(drop=True), ten[TENANCY_COLUMNS].reset_index(
        drop=True
    )


def _dwelling_status(row_status: Any, periods: list[tuple[Any, Any, int]]) -> str:
    open_now = any(pd.isna(ut) and pd.notna(inn) for inn, ut, _ in periods)
    if row_status in ("Under rehabilitering", "Avhendet", "Annet"):
        return row_status
    if row_status == "Utleid" or (row_status is None and open_now):
        return "Utleid"
    # "Fraflyttet" on the latest row: the last tenant has left, so the dwelling stands empty.
    return "Ledig"
