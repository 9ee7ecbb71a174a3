"""Content-based personal-data detection: which cells and columns identify a person.

Headers are judged by the schema (:meth:`~boso.register._schema.Schema.is_personal_header`);
this module judges *values*: national ID numbers, e-mail addresses and phone numbers in any
cell, columns that are mostly names or free text, and a person's name typed where a place
belongs (an ``adresse`` such as "Kari Hansen 12" or a ``poststed`` such as "Kari Hansen").
A cell that fails is not kept and is reported by row and column, never by its value.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from boso.register._schema import Schema
from boso.register.grid import cell_text
from boso.register.result import ValidationReport

# An 11-digit number (optionally 6+5 with a space or dash) is treated as a national ID whether
# or not its check digits are valid: fake or mistyped IDs still point at a person.
FNR_RE = re.compile(r"(?<![\d.,])\d{6}[\s-]?\d{5}(?!\d)")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Norwegian phone numbers: 8 digits from 2-9, grouped 3+2+3, 2+2+2+2 or 4+4 by spaces (dotted
# or dashed groups are dates) or not at all, with an optional +47/0047 prefix. Matched against a
# whole cell.
PHONE_RE = re.compile(
    r"^(\+47|0047)?\s?("
    r"[2-9]\d{7}|[2-9]\d{2} ?\d{2} ?\d{3}|[2-9]\d( ?\d{2}){3}|[2-9]\d{3} ?\d{4}"
    r")$"
)
# "Kari Hansen", "Hansen, Kari": a column mostly of these is a name column.
NAME_RE = re.compile(
    r"^[A-ZÆØÅ][\w'’-]+,\s*[A-ZÆØÅ][\w'’ -]+$|^[A-ZÆØÅ][a-zæøåé'-]+( [A-ZÆØÅ][a-zæøåé'-]+){1,3}$"
)
_TWO_WORDS_RE = re.compile(r"[^\W\d_]{2,}[\s,]+[^\W\d_]{2,}")
# A word that could be part of a person's name: letters, inner hyphens and apostrophes.
_NAME_WORD_RE = re.compile(r"[^\W\d_]{2,}([-'’][^\W\d_]+)*")
_ARTICLE = {"fødselsnummer": "et", "e-postadresse": "en", "telefonnummer": "et"}


def looks_personal(text: str) -> str | None:
    """Which kind of personal identifier a cell value looks like, or None."""
    if FNR_RE.search(text):
        return "fødselsnummer"
    if EMAIL_RE.search(text):
        return "e-postadresse"
    if PHONE_RE.match(text.strip()):
        return "telefonnummer"
    return None


def safe_value(text: str) -> str:
    """A cell value fit to quote in a report: personal-looking, wordy or long values are hidden.

    Two words of letters may be a person's name, so only short single-word or numeric-looking
    values are quoted.
    """
    if looks_personal(text) or len(text) > 25 or NAME_RE.match(text) or _TWO_WORDS_RE.search(text):
        return "(verdi skjult)"
    return f"«{text}»"


def personal_content(
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
    names = sum(1 for v in values if NAME_RE.match(v))
    long_text = sum(1 for v in values if len(v) > 30 and len(v.split()) >= 5)
    n = len(values)
    return phones > n / 2 or names > n / 2 or long_text > n / 4


def drop_personal_cells(
    number: int,
    cells: list[Any],
    fields: dict[str, int],
    headers: list[str],
    report: ValidationReport,
) -> dict[str, Any]:
    """The row's cells of kept columns (field → cell); a value shaped like an identifier is dropped.

    Every kept column is checked, numeric ones too (an ID number typed into ``BRA`` would
    otherwise survive as a float), before any value is parsed.
    """
    row: dict[str, Any] = {}
    for fld, col in fields.items():
        if col >= len(cells):
            continue
        value = cells[col]
        text = cell_text(value)
        if text == "":
            continue
        kind = looks_personal(text)
        if kind:
            report.drop_value(number, headers[col], f"ligner {_ARTICLE[kind]} {kind}")
            continue
        row[fld] = value
    return row


def _words(text: str) -> list[str]:
    """Lower-cased words without surrounding dots and commas (``"St."`` → ``"st"``)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return [w.strip(".,") for w in text.split() if w.strip(".,")]


def _could_be_name(words: list[str], schema: Schema) -> bool:
    """Two or more words of letters, none of them a positional word first or last.

    "Øvre Lia" and the rural "Berg Søndre" are places; a person's name has no such word.
    """
    if len(words) < 2 or not all(_NAME_WORD_RE.fullmatch(w) for w in words):
        return False
    return words[0] not in schema.place_prefixes and words[-1] not in schema.place_prefixes


def name_as_street(text: str, schema: Schema) -> bool:
    """Whether an address's street part may be a person's name ("Kari Hansen 12").

    The street part is the text before the house number. It is suspect when it has two or more
    words, all of letters, none of them a street word (``gate``, ``veien``, ``allé`` …, also as
    the end of a compound such as ``Kirkeveien``), the first not a place prefix (``Øvre``,
    ``St.``, ``Kong`` …) and the last not a positional word (``Søndre``). One-word streets
    ("Storgata 1", "Hegglia 4") are never suspect; nor are "Øvre gate 1", "St. Olavs gate 12",
    "Øvre Lia 3" or "Berg Søndre 2".
    """
    street = re.split(r"\s+\d", text.strip(), maxsplit=1)[0]
    words = _words(street)
    if not _could_be_name(words, schema):
        return False
    return not any(schema.is_street_word(w) for w in words)


def name_as_place(text: str, schema: Schema) -> bool:
    """Whether a poststed may be a person's name ("Kari Hansen", "KARI HANSEN").

    A poststed is one word ("HOLMESTRAND", "Sandnessjøen") or a known multi-word pattern: with
    a connecting word ("Mo i Rana", "Bø i Telemark"), a compass letter or word at the end
    ("Kristiansand S"), or a positional word first or last ("Vestre Gausdal", "Øvre Årdal").
    Any other value of two or more words of letters is suspect.
    """
    words = _words(text)
    if not _could_be_name(words, schema):
        return False
    if any(w in schema.place_connectors for w in words[1:-1]):
        return False
    return words[-1] not in schema.compass_words


def check_not_a_name(fld: str, text: str, schema: Schema) -> bool:
    """Whether a text value passes its field's declared name check (True: none declared)."""
    rule = schema.not_a_name.get(fld)
    if rule == "street":
        return not name_as_street(text, schema)
    if rule == "place":
        return not name_as_place(text, schema)
    return True


#: A postnummer's usual poststed is trusted when at least this many rows give it ...
PLACE_CONSENSUS_ROWS = 3
#: ... and they are at least this share of the postnummer's rows with a poststed.
PLACE_CONSENSUS_SHARE = 3 / 4


def drop_odd_places(records: list[dict[str, Any]], header: str, report: ValidationReport) -> None:
    """Drop a poststed that disagrees with the register's usual poststed for its postnummer.

    A postnummer belongs to exactly one poststed, so in an export where most rows with postnr
    1384 say "ASKER", a row saying "Hansen" holds something else: often a person's name in the
    wrong column, which the one-word shape of a poststed cannot tell from a place. The cell goes
    (the row stays), and the report names the row and column, never the value. A postnummer
    whose usual poststed has fewer than :data:`PLACE_CONSENSUS_ROWS` rows, or less than
    :data:`PLACE_CONSENSUS_SHARE` of them, is left alone (too little to tell a name from a
    second poststed or a mistyped postnummer).

    Args:
        records: Typed rows (``postnr``, ``poststed``, ``_row``), changed in place.
        header: The poststed column's header as the file has it, for the report.
        report: Where the dropped cells are counted and named.
    """
    by_postnr: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        if rec.get("postnr") and rec.get("poststed"):
            by_postnr.setdefault(rec["postnr"], []).append(rec)
    for rows in by_postnr.values():
        folded = [" ".join(_words(rec["poststed"])) for rec in rows]
        usual, count = max(((p, folded.count(p)) for p in set(folded)), key=lambda pc: pc[1])
        if count < PLACE_CONSENSUS_ROWS or count < PLACE_CONSENSUS_SHARE * len(rows):
            continue
        for rec, place in zip(rows, folded, strict=True):
            if place != usual:
                rec["poststed"] = None
                report.drop_value(
                    rec["_row"],
                    header,
                    "stemmer ikke med postnummeret: andre rader med samme postnummer har et "
                    "annet poststed",
                )
