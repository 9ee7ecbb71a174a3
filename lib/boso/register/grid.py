"""Bytes → grid of cells: decoding, CSV/XLSX reading, damage checks, the header and data rows.

A CSV's encoding and delimiter and an .xlsx's sheet are chosen by which reading gives the best
header row (scored against the declared header synonyms). Old ``.xls``, binary, truncated files
and CSVs broken by a quote that never closes give one :class:`~boso.errors.DataError`. Under
the header, repeated header rows, totals rows and exact duplicates are skipped and reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

from boso.errors import DataError
from boso.register._schema import Schema, fold
from boso.register.result import ValidationReport

HEADER_SEARCH_ROWS = 50
MIN_HEADER_FIELDS = 3
TOTAL_WORDS = {"total", "totalt", "sum", "ialt", "sumtotalt", "totalsum", "summer", "sumalle"}


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


@dataclass
class Grid:
    """The cells of one CSV reading or one sheet, with how they were read."""

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


def _csv_grid(text: str, delimiter: str, name: str, encoding: str) -> Grid:
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
    return Grid(rows, "csv", encoding, delimiter, lines=lines, ends=ends, unterminated=unterminated)


def _check_record_lines(grid: Grid, name: str) -> None:
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


def read_grid(content: bytes, name: str, schema: Schema) -> tuple[Grid, int, dict[int, Any]]:
    """Read the cells and find the header row. Returns (grid, header index, header matches)."""
    if not content.strip():
        raise DataError(f"{name}: filen er tom")
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError(
            f"{name}: gammelt Excel-format (.xls) støttes ikke; lagre filen som .xlsx eller CSV"
        )
    candidates: list[Grid] = []
    if content.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
        if not zipfile.is_zipfile(io.BytesIO(content)):
            raise DataError(f"{name}: Excel-filen er skadet eller avkortet (ikke en gyldig .xlsx)")
        for title, rows in _xlsx_sheets(content, name):
            candidates.append(Grid(rows, "xlsx", sheet=title))
    else:
        text, encoding = _decode(content, name)
        _check_text(text, name)
        for delimiter in (";", ",", "\t", "|"):
            if delimiter in text:
                candidates.append(_csv_grid(text, delimiter, name, encoding))
        if not candidates:
            candidates.append(_csv_grid(text, ";", name, encoding))
    best: tuple[int, Grid, int, dict[int, Any]] | None = None
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


def _check_cut(grid: Grid, header_index: int, name: str) -> None:
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
        if len(fields) < MIN_HEADER_FIELDS or not fields & set(schema.identifying):
            continue
        if best is None or len(fields) > best[0]:
            best = (len(fields), index, matches)
    return best


def data_rows(
    grid: Grid, header_index: int, headers: list[str], report: ValidationReport
) -> list[tuple[int, list[Any]]]:
    """The non-blank rows under the header, less repeated headers, totals and exact duplicates.

    Each skipped row is reported by its number; ``report.rows_read`` counts the non-blank rows.
    """
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
