"""Header → fields: each column mapped to a schema field, dropped as personal, or unknown.

A column is dropped as personal by its header (the schema's ``[personal]`` words) or by its
content (:func:`boso.register.privacy.personal_content`); a schema header over a column that is
mostly ID numbers or e-mail addresses is dropped too. Only header names are reported; a header
that itself looks like an identifier is not quoted. A header that matches nothing is reported
as unknown, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boso.errors import DataError
from boso.register._schema import Schema
from boso.register.grid import cell_text
from boso.register.privacy import looks_personal, personal_content
from boso.register.result import ValidationReport


@dataclass
class Columns:
    """Where the kept fields are and which columns were dropped as personal."""

    fields: dict[str, int]  # field -> column index
    personal: list[int]


def _shown_header(header: str, col: int) -> str:
    """A header fit for the report: one shaped like an ID, phone or e-mail is not quoted."""
    return f"(kolonne {col + 1}, navn skjult)" if looks_personal(header) else header


def classify_columns(
    headers: list[str],
    matches: dict[int, Any],
    data_rows: list[tuple[int, list[Any]]],
    schema: Schema,
    report: ValidationReport,
) -> Columns:
    """Map the header's columns to fields; personal columns are dropped and reported.

    Raises:
        DataError: No column for address, object ID or gnr.
    """
    fields: dict[str, int] = {}
    personal: list[int] = []
    for col, header in enumerate(headers):
        if not header:
            has_values = any(col < len(c) and cell_text(c[col]) for _, c in data_rows)
            if has_values:
                header = f"(kolonne {col + 1} uten navn)"
                # Unnamed columns are judged by content like unknown ones.
                if personal_content(col, data_rows):
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
            if personal_content(col, data_rows, strict=True):
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
        elif schema.is_personal_header(header) or personal_content(col, data_rows):
            personal.append(col)
            report.dropped_personal_columns.append(_shown_header(header, col))
        else:
            report.unknown_columns.append(_shown_header(header, col))
    if not set(schema.identifying) & set(fields):
        raise DataError(f"{report.file}: fant ingen kolonne for adresse eller objekt-ID")
    return Columns(fields, personal)
