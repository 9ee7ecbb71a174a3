"""Typed rows → the two output tables: one row per dwelling, and its dated tenancy periods.

Rows are grouped into dwellings by object ID (else address or gnr/bnr, plus dwelling number);
a dwelling takes the latest known value of each field, and differing values of its declared
``stable`` fields are reported. Tenancy periods are checked for order and overlap; the
dwelling's status follows from its latest row and open tenancy. Rooms and area get their bands.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from boso.register._schema import load_schema
from boso.register.result import ValidationReport
from boso.register.values import DATE_MAX

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
# Attributes of the dwelling itself (declared `stable` in the schema): different values on two
# rows of one dwelling are reported.
STABLE_FIELDS = tuple(f for f in load_schema().types if f in load_schema().stable)
# Output dtypes follow the declared field types.
INT_COLUMNS = [c for c in DWELLING_COLUMNS if load_schema().types.get(c) == "integer"]
FLOAT_COLUMNS = [
    c for c in DWELLING_COLUMNS if load_schema().types.get(c) in ("number", "coordinate")
]


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


def build_tables(
    frame: pd.DataFrame, kommunenummer: str, report: ValidationReport
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The dwellings table (``DWELLING_COLUMNS``) and the tenancies table from typed rows."""
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
    for col in INT_COLUMNS:
        dwell[col] = pd.array(
            [None if v is None or pd.isna(v) else int(v) for v in dwell[col]], dtype="Int64"
        )
    for col in FLOAT_COLUMNS:
        dwell[col] = pd.to_numeric(dwell[col], errors="coerce").astype(float)
    dwell["utenfor_grense"] = dwell["utenfor_grense"].astype("boolean")
    dwell["antall_leieforhold"] = dwell["antall_leieforhold"].astype("int64")
    dwell["syntetisk"] = report.synthetic
    typed = {*INT_COLUMNS, *FLOAT_COLUMNS, "utenfor_grense", "antall_leieforhold", "syntetisk"}
    for col in DWELLING_COLUMNS:
        if col not in typed:
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
