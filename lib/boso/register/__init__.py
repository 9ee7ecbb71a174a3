"""A kommune's own dwelling register: import, privacy, validation and analysis (issue 5).

Kommuner export their registers of rental dwellings from whatever system they use. This package
reads those exports as they come (CSV in several encodings, .xlsx with title rows and totals),
drops everything that identifies people, keeps one row per dwelling plus dated tenancy periods,
and offers the analyses the ``kommunale_boliger`` notebook shows.

Public names::

    read_register(path, kommunenummer) -> RegisterImport        # reads the given file only
    import_register(path, kommunenummer, store=None, processed_dir=None) -> RegisterImport
    load_register(kommunenummer, processed_dir=None) -> RegisterImport | None
    import_snapshot_registers(imported)                          # after `boso snapshot import`
    run_cli(args)                                                # `boso register import`
    stock_summary, vacancy, rent_per_m2, rent_vs_market, suppress_small, register_map,
    publication_tables                                           # all report tables, titled
    show_register(kommunenummer) -> bool                         # the report's register section
    register_display_table(table) -> (frame, note)               # one table as a reader sees it
"""

from __future__ import annotations

from boso.register.analysis import (
    VacancyResult,
    publication_tables,
    rent_per_m2,
    rent_vs_market,
    stock_summary,
    suppress_small,
    vacancy,
)
from boso.register.maps import map_sentence, mapped_count, register_map
from boso.register.reader import (
    Problem,
    RegisterImport,
    ValidationReport,
    read_register,
    read_register_bytes,
)
from boso.register.report import register_display_table, show_register
from boso.register.store import (
    import_register,
    import_snapshot_registers,
    kommunenummer_from_name,
    load_boundary,
    load_register,
    output_paths,
    run_cli,
)

__all__ = [
    "Problem",
    "RegisterImport",
    "ValidationReport",
    "import_register",
    "import_snapshot_registers",
    "kommunenummer_from_name",
    "load_boundary",
    "load_register",
    "map_sentence",
    "mapped_count",
    "output_paths",
    "read_register",
    "read_register_bytes",
    "register_display_table",
    "run_cli",
    "show_register",
    "VacancyResult",
    "publication_tables",
    "register_map",
    "rent_per_m2",
    "rent_vs_market",
    "stock_summary",
    "suppress_small",
    "vacancy",
]
