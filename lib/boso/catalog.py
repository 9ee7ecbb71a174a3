"""The indicator catalog: declarations read from ``catalog.toml`` (metadata as data)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from boso.errors import DataError, QueryError

KINDS = {"count", "rate"}
# Tables the offline snapshot marks as synthetic; the build reads the real flag from the raw
# provenance, this is only for listing the catalog before any data exist.
_SYNTHETIC_TABLES = {"05940", "06035", "08764", "11084", "12008", "12210", "STARTLAN"}


@dataclass(frozen=True)
class Indicator:
    """One declared indicator (see the comments at the top of ``catalog.toml``)."""

    id: str
    label: str
    definition: str
    unit: str
    kind: str
    source: str
    table: str
    file: str | None = None
    region_variable: str | None = None
    selection: dict[str, list[str]] = field(default_factory=dict)
    dimensions: list[str] = field(default_factory=list)
    codelist: dict[str, str] = field(default_factory=dict)
    output_values: dict[str, str] = field(default_factory=dict)
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0
    denominator_year_offset: int = 0
    weight: str | None = None
    imdi_series: str | None = None
    hidden: bool = False
    table_fallbacks: list[str] = field(default_factory=list)
    optional_selection: dict[str, list[str]] = field(default_factory=dict)
    optional_dimensions: list[str] = field(default_factory=list)
    dimension_names: dict[str, str] = field(default_factory=dict)
    dimension_groups: dict[str, list[str]] = field(default_factory=dict)
    decimals: int | None = None

    @property
    def shown_decimals(self) -> int:
        """Digits after the decimal comma when a value is shown: counts are whole numbers."""
        if self.decimals is not None:
            return int(self.decimals)
        return 0 if self.kind == "count" else 1

    @property
    def raw_file(self) -> str:
        """The raw file name inside ``data/raw/<source>/``."""
        return self.file or f"{self.table}.json"

    def column_name(self, dimension: str) -> str:
        """The processed column of a kept dimension (``ContentsCode`` → ``alternativ``)."""
        return self.dimension_names.get(dimension, dimension.lower())

    @property
    def published(self) -> bool:
        """True when the source publishes this indicator itself (it has a selection)."""
        return bool(self.selection) or self.imdi_series is not None

    @property
    def synthetic(self) -> bool:
        """Whether the snapshot's data for this table are synthetic (for listings)."""
        return self.table in _SYNTHETIC_TABLES

    @property
    def source_label(self) -> str:
        """``SSB 12008`` / ``IMDi``."""
        return "IMDi" if self.source == "imdi" else f"SSB {self.table}"


def _validate(raw: dict[str, Any]) -> dict[str, Indicator]:
    indicators: dict[str, Indicator] = {}
    for key, spec in raw.get("indicator", {}).items():
        try:
            indicator = Indicator(id=key, **spec)
        except TypeError as exc:
            raise DataError(f"catalog.toml [indicator.{key}]: {exc}") from exc
        if indicator.kind not in KINDS:
            raise DataError(f"catalog.toml [indicator.{key}]: kind må være count eller rate")
        indicators[key] = indicator
    for indicator in indicators.values():
        for ref in (indicator.numerator, indicator.denominator, indicator.weight):
            if ref is not None and ref not in indicators:
                raise DataError(
                    f"catalog.toml [indicator.{indicator.id}]: ukjent indikator {ref!r}"
                )
        if indicator.kind == "rate" and not indicator.published and not indicator.numerator:
            raise DataError(f"catalog.toml [indicator.{indicator.id}]: rate uten kilde")
    return indicators


@cache
def load_catalog() -> dict[str, Indicator]:
    """All declared indicators by id, in declaration order."""
    text = resources.files("boso").joinpath("catalog.toml").read_text("utf-8")
    return _validate(tomllib.loads(text))


def get_indicator(indicator_id: str) -> Indicator:
    """One indicator, or :class:`QueryError` listing the known ids."""
    catalog = load_catalog()
    if indicator_id not in catalog:
        known = ", ".join(k for k, v in catalog.items() if not v.hidden)
        raise QueryError(f"ukjent indikator {indicator_id!r}; kjente: {known}")
    return catalog[indicator_id]


def ssb_queries() -> dict[str, dict[str, Any]]:
    """The SSB queries the catalog needs, one per table, for ``boso fetch``.

    Returns:
        ``{table_id: {"file", "region_variable", "selection", "codelist", "output_values",
        "fallbacks", "optional"}}`` where ``selection`` maps each variable to the union of
        codes the indicators use (the region variable and ``Tid`` are ``"*"``, i.e.
        everything), ``optional`` holds variables/codes fetched only where the table has them
        and ``fallbacks`` lists successor table ids to try, in order.
    """
    queries: dict[str, dict[str, Any]] = {}
    for indicator in load_catalog().values():
        if indicator.source != "ssb" or not indicator.selection:
            continue
        query = queries.setdefault(
            indicator.table,
            {
                "file": indicator.raw_file,
                "region_variable": indicator.region_variable,
                "selection": {indicator.region_variable: "*", "Tid": "*"},
                "codelist": dict(indicator.codelist),
                "output_values": dict(indicator.output_values),
                "fallbacks": [],
            },
        )
        for successor in indicator.table_fallbacks:
            if successor not in query["fallbacks"]:
                query["fallbacks"].append(successor)
        for variable, codes in indicator.selection.items():
            current = query["selection"].get(variable)
            merged = sorted(set(current or []) | set(codes))
            query["selection"][variable] = merged
        for dimension in indicator.dimensions:
            query["selection"].setdefault(dimension, "*")
        optional = query.setdefault("optional", {})
        for variable, codes in indicator.optional_selection.items():
            optional[variable] = sorted(set(optional.get(variable) or []) | set(codes))
        for dimension in indicator.optional_dimensions:
            optional.setdefault(dimension, "*")
    return queries
