"""Cells → typed values, per the field types declared in ``register_schema.toml``.

Each kept field is typed by its declared ``type``: ``text`` (checked against its declared
``shape`` and, for places, that it is not a person's name), ``integer`` and ``number``
(decimal comma, units; declared plausible ``range``), ``coordinate``, ``date`` (Excel serials,
``dd.mm.yyyy``, ISO; not after the export date when declared ``not_after_export``) and
``category`` (the declared spellings, else ``Annet``). Every value not kept is reported by row
and column; a row is only left out when it has neither address, object ID nor gnr.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from boso.register._schema import Schema, load_schema
from boso.register.columns import Columns
from boso.register.grid import cell_text
from boso.register.privacy import (
    check_not_a_name,
    drop_odd_places,
    drop_personal_cells,
    safe_value,
)
from boso.register.result import ValidationReport

# Excel's 1900 date system; day 60 (1900-02-29) does not exist, so serials from 61 on are exact
# with this origin, which covers every plausible move-in date.
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
DATE_MIN = pd.Timestamp("1950-01-01")
DATE_MAX = pd.Timestamp("2100-12-31")


def fields_of_type(kind: str) -> tuple[str, ...]:
    """The schema's fields of one declared type, in declaration order."""
    return tuple(f for f, t in load_schema().types.items() if t == kind)


TEXT_FIELDS = fields_of_type("text")
INT_FIELDS = fields_of_type("integer")
FLOAT_FIELDS = fields_of_type("number")
CATEGORY_FIELDS = fields_of_type("category")
DATE_FIELDS = fields_of_type("date")
COORD_FIELDS = fields_of_type("coordinate")


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


def parse_rows(
    data_rows: list[tuple[int, list[Any]]],
    columns: Columns,
    headers: list[str],
    schema: Schema,
    report: ValidationReport,
) -> list[dict[str, Any]]:
    """One typed record per kept row (``_row``: its number in the file), fields by type.

    Personal-looking cells are dropped first (:func:`.privacy.drop_personal_cells`); values that
    cannot be typed, do not fit their shape or range, or may be a name are reported and left
    missing. Unmapped category values are counted in ``report.unmapped_values``.
    """
    unmapped: dict[str, Counter[str]] = {}
    records = []
    latest = _latest_allowed_date(report)
    for number, cells in data_rows:
        row = drop_personal_cells(number, cells, columns.fields, headers, report)

        def get(fld: str, row: dict[str, Any] = row) -> Any:
            return row.get(fld)

        rec: dict[str, Any] = {"_row": number}
        for fld in TEXT_FIELDS:
            value = get(fld)
            text = cell_text(value) if value is not None else None
            if text:
                text = schema.pad(fld, text)
            if text and not schema.fits_shape(fld, text):
                what = schema.shape_what[fld]
                report.drop_value(number, headers[columns.fields[fld]], f"ligner ikke {what}")
                text = None
            elif text and not check_not_a_name(fld, text, schema):
                # A place-shaped value that may be a person's name: the cell goes, the row stays.
                why = f"kan være et personnavn, ikke {schema.shape_what[fld]}"
                report.drop_value(number, headers[columns.fields[fld]], why)
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
        if all(rec[fld] is None for fld in schema.identifying):
            report.add(number, None, "mangler både adresse og objekt-ID; raden er ikke tatt med")
            continue
        records.append(rec)
    if "postnr" in columns.fields and "poststed" in columns.fields:
        drop_odd_places(records, headers[columns.fields["poststed"]], report)
    report.unmapped_values = {
        fld: dict(counter.most_common()) for fld, counter in sorted(unmapped.items())
    }
    return records


def _latest_allowed_date(report: ValidationReport) -> pd.Timestamp:
    """Dates after the export date (from the title rows; else today) are not plausible."""
    if report.export_date:
        return pd.Timestamp(report.export_date)
    return pd.Timestamp.today().normalize()


def _typed(
    value: Any,
    fld: str,
    number: int,
    columns: Columns,
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
