"""The reader's result types: findings, the validation report and the cleaned register.

Every stage of :mod:`boso.register.reader` writes its findings into one
:class:`ValidationReport`; it holds column names, row numbers and counts, never a personal
value. :class:`RegisterImport` is what the reader returns and the store writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pandas as pd


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

    def drop_value(self, row: int, column: str, why: str) -> None:
        """Count a cell that is not stored and say why, naming its row and column, never it.

        Args:
            row: The row number in the file.
            column: The column's header as the file has it.
            why: The reason, e.g. ``"kan være et personnavn, ikke en adresse"``.
        """
        self.values_not_kept += 1
        self.add(row, column, f"verdi i kolonne {column} rad {row} {why} (ikke lagret)")

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
