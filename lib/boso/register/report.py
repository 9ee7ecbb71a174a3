"""The register section of a kommune report: map, sentences and tables from the kommune's own
dwelling register, formatted for a reader.

:func:`show_register` is what the ``kommunale_boliger`` notebook calls. It takes the cleaned
:class:`~boso.register.reader.RegisterImport` from the processed store and the
:class:`~boso.register.analysis.VacancyResult` of :func:`~boso.register.analysis.vacancy`; the
computing (counts, død tid, rent, suppression of small counts) stays in
:mod:`boso.register.analysis`, the map in :mod:`boso.register.maps`. Here the results get
bokmål headers, the symbol notes, the synthetic notice and the CSV link without tenant columns.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from boso import outputs, processed, text
from boso.errors import DataError
from boso.maps import read_geo
from boso.register.analysis import publication_tables, vacancy
from boso.register.maps import map_sentence, mapped_count, register_map
from boso.register.reader import RegisterImport
from boso.register.store import load_register

#: Descriptive dwelling columns that may go into the map's CSV link: never anything about
#: tenants (no tenancy dates, rent or status history), and no ``maalgruppe``: next to an
#: address, "Psykisk helse og rus" or "Flyktninger" says something about the people who live
#: there. Målgruppe is published only in the suppressed counts of the tables.
PUBLIC_DWELLING_COLUMNS = (
    "bolig_id",
    "adresse",
    "boligtype",
    "antall_rom",
    "bra_m2",
    "eierform",
)
#: Bokmål headers of the register's publication tables (unknown columns get a readable form).
REGISTER_HEADERS = {
    "boligtype": "Boligtype",
    "maalgruppe": "Målgruppe",
    "storrelse": "Størrelse",
    "eierform": "Eierform",
    "boligstatus": "Boligstatus",
    "antall": "Antall",
    "andel": "Andel (%)",
    "andel_av_alle_boliger": "Andel av alle boliger (%)",
    "periode": "Død tid",
    "perioder": "Antall perioder",
    "median_dager": "Median (dager)",
    "gjennomsnitt_dager": "Gjennomsnitt (dager)",
    "aar": "År",
    "boliger": "Boliger",
    "ledige": "Ledige",
    "ledighetsgrad": "Ledighetsgrad (%)",
    "adresse": "Adresse",
    "ledig_siden": "Ledig siden",
    "dager": "Dager",
    "ledig_i": "Ledig i",
    "median_maanedsleie": "Median månedsleie (kr)",
    "median_kr_m2_mnd": "Median leie (kr per m² per måned)",
    "median_kr_m2_aar": "Median leie (kr per m² per år)",
    "salgspris_kr_m2": "Salgspris (kr per m²)",
    "leie_kr_m2_aar": "Leie (kr per m² per år)",
    "brutto_avkastning": "Brutto leieavkastning (%)",
}
#: Columns that never reach a reader: flags the notice above the table already tells.
INTERNAL_COLUMNS = {"syntetisk", "dato", "kommunenummer", "bolig_id"}
SYMBOL_NOTES = {
    ":": ": = Vises ikke av personvernhensyn (færre enn 3, eller så få at tallet kunne regnes ut "
    "fra de andre).",
    "..": ".. = Tall mangler.",
}


def _display_value(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ".."
    if isinstance(value, pd.Timestamp | np.datetime64):
        return pd.Timestamp(value).strftime("%d.%m.%Y")
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "ja" if value else "nei"
    number = float(value)
    if column == "aar":
        return str(int(number))
    if column == "andel_av_alle_boliger":
        return text.fmt_number(number, 2)  # well below 1 % in most kommuner
    if column.startswith("andel") or column in {"ledighetsgrad", "brutto_avkastning"}:
        return text.fmt_number(number, 1)
    # Counts, days and kroner: whole numbers, Norwegian digit grouping.
    return text.fmt_number(number, 0)


def register_display_table(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A register publication table as a reader sees it, like an SSB table.

    Bokmål headers, counts without decimals, shares in per cent with one decimal, dates as
    dd.mm.åååå, no internal columns; a suppressed row (``status == ":"``) shows ``:`` in the
    cells the analysis withheld. Computation stays in :mod:`boso.register.analysis`; this
    only formats.

    Args:
        table: One table from ``register.publication_tables``.

    Returns:
        The display frame (all cells text) and a note explaining the symbols used ("" if none).
    """
    frame = table.reset_index(drop=True)
    # "status" is the suppression flag, except in the table *by* dwelling status, where it is
    # the first (grouping) column.
    grouping_status = len(frame.columns) > 0 and frame.columns[0] == "status"
    flags = (
        frame["status"].fillna("").astype(str)
        if "status" in frame.columns and not grouping_status
        else pd.Series("", index=frame.index)
    )
    drop = [c for c in frame.columns if c in INTERNAL_COLUMNS]
    if not grouping_status and "status" in frame.columns:
        drop.append("status")
    frame = frame.drop(columns=drop)
    shown = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(
            frame[column]
        )
        cells = [_display_value(column, v) for v in frame[column]]
        if numeric:
            # Only the cells the analysis withheld; a suppressed row's year or total is public.
            cells = [
                ":" if f == ":" and c == ".." else c for c, f in zip(cells, flags, strict=True)
            ]
        header = REGISTER_HEADERS.get(column, column.replace("_", " ").capitalize())
        shown[header] = cells
    used = {cell for column in shown.columns for cell in shown[column] if cell in SYMBOL_NOTES}
    note = " ".join(SYMBOL_NOTES[s] for s in (":", "..") if s in used)
    return shown.reset_index(drop=True), note


def show_register(kommunenummer: str, geo_path: str | Path | None = None) -> bool:
    """Show the kommune's own dwelling register (map + stock and vacancy tables) if present.

    A kommune without an imported register gets a short notice instead, so the notebook runs
    for every kommune.

    Args:
        kommunenummer: 4-digit kommunenummer.
        geo_path: Kommune polygons (default: the processed ``core_geo__kommuner``).

    Returns:
        True when the register was shown.
    """
    reg = load_register(kommunenummer)
    if reg is None:
        outputs.show_text(
            "Kommunen har ikke lastet inn sitt eget boligregister, så kartet over de kommunale "
            "boligene og tabellene over bestand og ledighet vises ikke."
        )
        return False
    synthetic = reg.synthetic or _frame_synthetic(reg.dwellings)
    sources = ["Kommunens boligregister"]
    caption = "Kilde: kommunens boligregister (eksport), renset av boso uten personopplysninger."
    if synthetic:
        caption += f" {outputs.SYNTHETIC_ANNOTATION}."
    dwellings = public_dwellings(reg)
    boundary = _boundary(kommunenummer, geo_path)
    # The sentence describes the map actually drawn: points with usable coordinates only.
    # Its counts are not suppressed: they count the kommune's dwellings, which the map and its
    # CSV link show one by one with their address anyway, and say nothing about tenants.
    outputs.show_text(map_sentence(len(dwellings), mapped_count(reg), boundary is not None))
    outputs.show_figure(
        register_map(reg, boundary),
        data=dwellings,
        caption=caption + " Kartgrunnlag: Kartverket.",
        sources=sources,
        synthetic=synthetic,
        title="Kommunale boliger i registeret",
    )
    market, households = _register_context(kommunenummer)
    if households is not None:
        outputs.show_text(
            "Andel av alle boliger er regnet mot antall privathusholdninger i kommunen "
            f"({text.fmt_number(households)}, SSB 11084), som tilnærming til antall bebodde "
            "boliger."
        )
    result = vacancy(reg)
    if not math.isnan(result.median_days):
        outputs.show_text(
            f"Median død tid mellom to leieforhold var {text.fmt_number(result.median_days)} "
            f"dager; {vacant_now_text(result.vacant_now)} sto ledige på eksportdatoen."
        )
    for title, table in publication_tables(reg, market=market, all_dwellings=households):
        shown, note = register_display_table(table)
        outputs.show_table(
            shown,
            caption=f"{caption} {note}".strip(),
            sources=sources,
            synthetic=synthetic,
            title=title,
        )
    return True


def vacant_now_text(vacant: int) -> str:
    """The dwellings vacant on the export date, for a sentence.

    Published register counts below 3 are suppressed, in sentences as in tables: 1 or 2
    vacant dwellings read as "færre enn 3 boliger (prikket)".
    """
    if 0 < vacant < 3:
        return "færre enn 3 boliger (prikket)"
    return f"{text.fmt_number(vacant)} boliger"


def public_dwellings(reg: RegisterImport) -> pd.DataFrame:
    """The dwellings frame cut to :data:`PUBLIC_DWELLING_COLUMNS` (the map's CSV link)."""
    frame = reg.dwellings
    return frame[[c for c in PUBLIC_DWELLING_COLUMNS if c in frame.columns]]


def _register_context(kommunenummer: str) -> tuple[pd.DataFrame | None, float | None]:
    """Market price per m² (blokkleiligheter, else småhus) and the number of households."""
    market = None
    try:
        prices = processed.load_indicator("kvadratmeterpris", kommunenummer)
    except DataError:
        prices = None
    if prices is not None:
        for boligtype in ("03", "02", "01"):
            rows = prices.loc[(prices["boligtype"] == boligtype) & prices["verdi"].notna()]
            if len(rows):
                market = rows[["aar", "verdi"]].reset_index(drop=True)
                break
    households = None
    try:
        rows = processed.load_indicator("husholdninger", kommunenummer)
        rows = rows.loc[rows["verdi"].notna()]
        if len(rows):
            households = float(rows.sort_values("aar")["verdi"].iloc[-1])
    except DataError:
        households = None
    return market, households


def _boundary(kommunenummer: str, geo_path: str | Path | None) -> Any:
    # register_map accepts a shapely geometry in EPSG:25833: no geopandas needed.
    try:
        geo = read_geo(geo_path)
    except DataError:
        return None
    part = geo.loc[geo["kommunenummer"] == kommunenummer, "geometry"]
    return part.iloc[0] if not part.empty else None


def _frame_synthetic(dwellings: pd.DataFrame) -> bool:
    # load_register already sets reg.synthetic from this column; a register read some other
    # way (or an old validation report) still gets the notice when any row is synthetic.
    return bool(
        "syntetisk" in dwellings.columns and dwellings["syntetisk"].fillna(False).astype(bool).any()
    )
