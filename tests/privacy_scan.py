"""Scan output files for personal identifiers taken from an input file (reusable in other tests).

Parquet files are decoded (their pages are compressed, so a byte search could miss a value);
every other file is searched as text (UTF-8, falling back to Latin-1), which covers JSON,
notebooks, HTML, CSV and JavaScript. Names and other text match as whole words with their case;
e-mail addresses match case-insensitively; 11-digit numbers also match with a space after the
sixth digit, but not inside longer digit runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq


def _texts(path: Path) -> Iterable[str]:
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        yield " ".join(table.column_names)
        metadata = table.schema.metadata or {}
        yield " ".join(v.decode("utf-8", "replace") for v in metadata.values())
        for column in table.columns:
            yield "\n".join("" if v is None else str(v) for v in column.to_pylist())
        return
    content = path.read_bytes()
    try:
        yield content.decode("utf-8")
    except UnicodeDecodeError:
        yield content.decode("latin-1")


def _files(paths: Iterable[str | Path]) -> Iterable[Path]:
    for path in map(Path, paths):
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*")) if p.is_file())
        elif path.is_file():
            yield path


def _pattern(identifier: str) -> re.Pattern[str]:
    if re.fullmatch(r"\d{11}", identifier):
        return re.compile(rf"(?<!\d){identifier[:6]}\s?{identifier[6:]}(?!\d)")
    if "@" in identifier:
        return re.compile(re.escape(identifier), re.IGNORECASE)
    # Whole words, case as written: a first name "Per" must not match "kr per m²".
    return re.compile(rf"(?<![\w]){re.escape(identifier)}(?![\w])")


def find_identifiers(
    paths: Iterable[str | Path], identifiers: Iterable[str]
) -> list[tuple[Path, str]]:
    """Every (file, identifier) pair where an identifier occurs in a file under ``paths``.

    Args:
        paths: Files or directories (searched recursively).
        identifiers: Names, ID numbers, phone numbers, e-mail addresses, note texts.

    Returns:
        The hits, empty when the outputs are clean.
    """
    patterns = {ident: _pattern(ident) for ident in {i.strip() for i in identifiers} if ident}
    # A word-set prefilter keeps the scan linear in the output size: the precise pattern only
    # runs on texts that contain every word of an identifier.
    needs = {ident: _needed_words(ident) for ident in patterns}
    hits = []
    for path in _files(paths):
        found = set()
        for text in _texts(path):
            words = set(_WORD.findall(text))
            lowered = {w.lower() for w in words} if any("@" in i for i in patterns) else set()
            for ident, pattern in patterns.items():
                if ident in found:
                    continue
                pool = lowered if "@" in ident else words
                if all(any(w in pool for w in options) for options in needs[ident]) and (
                    pattern.search(text)
                ):
                    found.add(ident)
        hits.extend((path, ident) for ident in sorted(found))
    return hits


_WORD = re.compile(r"\w+")


def _needed_words(identifier: str) -> list[tuple[str, ...]]:
    """Words that must all occur in a text for ``identifier`` to occur (alternatives per slot)."""
    if re.fullmatch(r"\d{11}", identifier):
        return [(identifier, identifier[:6])]
    words = _WORD.findall(identifier.lower() if "@" in identifier else identifier)
    return [(w,) for w in words]


def snapshot_identifiers(snapshot_dir: str | Path, *, name_parts: bool = False) -> list[str]:
    """Personal identifiers in the snapshot's Holmestrand export (names and 11-digit numbers).

    Full names are returned as written (``"Larsen, Oleksandr"``) and in natural order
    (``"Oleksandr Larsen"``). With ``name_parts``, single first and last names are added too,
    except those that occur as words in the exports' public columns (street names): that is
    only useful for scanning files that hold register data alone, since single names such as
    "Lund" or "Eide" are also kommune names in the other tables.

    Args:
        snapshot_dir: The offline snapshot (``MANIFEST.json`` + ``municipal/``).
        name_parts: Also return single name parts.

    Returns:
        Sorted identifiers.
    """
    import openpyxl

    municipal = Path(snapshot_dir) / "municipal"
    sheet = openpyxl.load_workbook(
        municipal / "holmestrand_3903_boligoversikt_SYNTETISK.xlsx", read_only=True
    )["Boliger"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[3])
    name_col, id_col = header.index("Leietaker"), header.index("Fødselsnummer")
    public = " ".join(str(r[1]) for r in rows[4:] if r[1])
    for asker in municipal.glob("asker_*.csv"):
        public += " " + asker.read_bytes().decode("cp1252")
    identifiers: set[str] = set()
    for row in rows[4:]:
        if row[name_col]:
            full = str(row[name_col])
            last, _, first = full.partition(", ")
            identifiers.update({full, f"{first} {last}"})
            if name_parts:
                identifiers.update(
                    part
                    for part in (first, last)
                    if part and not re.search(rf"(?<!\w){re.escape(part)}(?!\w)", public)
                )
        if row[id_col]:
            identifiers.add(str(row[id_col]))
    return sorted(identifiers)
