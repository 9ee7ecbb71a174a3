"""Family "secondary_suppression": no count hidden as ``:`` in a published register table can be
recomputed (or shown to be below 3) from the totals and the other cells of the table.

The attacker below knows what a reader of the report knows: every shown cell, the ``I alt`` row,
the shares (a shown count and its share give the total), that the vacancy distribution and the
vacancy-by-type table count the same completed periods, and that a hidden count is at least 1
(zero is never hidden). For each additive column it takes every other hidden cell at its least
possible value; if a hidden cell then cannot reach 3, it is recovered (exactly, when alone).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boso.register.analysis import (
    SUPPRESSED,
    TOTAL_LABEL,
    publication_tables,
    stock_summary,
    suppress_small,
)
from boso.register.reader import read_register_bytes

FAMILY = "secondary_suppression"
THRESHOLD = 3
REGISTERS = {
    "3203": "municipal/asker_3203_kommunale_boliger_SYNTETISK.csv",
    "3903": "municipal/holmestrand_3903_boligoversikt_SYNTETISK.xlsx",
}
# The reliability recorder is one object for the session: sharing it between examples is meant.
HEALTH = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
SHARED_TOTAL = ("Død tid mellom leieforhold, fordeling", "Død tid etter boligtype (dager)")


def _count_column(table: pd.DataFrame) -> str | None:
    for col in ("antall", "perioder"):
        if col in table.columns:
            return col
    return None


def _total_rows(table: pd.DataFrame) -> pd.Series:
    first = table.columns[0]
    return table[first].astype("string").eq(TOTAL_LABEL).fillna(False)


def known_total(table: pd.DataFrame, count: str) -> float | None:
    """The total of ``count`` as a reader can know it from this table alone (or None)."""
    totals = _total_rows(table)
    shown_total = table.loc[totals, count].dropna()
    if len(shown_total):
        return float(shown_total.iloc[0])
    if "andel" in table.columns:
        both = table.loc[~totals & table[count].notna() & (table["andel"] > 0)]
        if len(both):
            return round(float(both[count].iloc[0] / both["andel"].iloc[0] * 100))
    return None


def recover(table: pd.DataFrame, count: str, total: float | None) -> list[str]:
    """Hidden cells of ``count`` a reader can pin down or show to be small, given ``total``."""
    if total is None:
        return []
    parts = table.loc[~_total_rows(table)]
    hidden = parts[count].isna() & parts["status"].astype("string").eq(SUPPRESSED)
    if not hidden.any():
        return []
    rest = total - float(parts.loc[~hidden, count].sum())
    largest = rest - (int(hidden.sum()) - 1)
    if largest >= THRESHOLD:
        return []
    label = table.columns[0]
    return [f"{parts.loc[i, label]} ≤ {largest:g}" for i in parts.index[hidden]]


def attack(tables: list[tuple[str, pd.DataFrame]]) -> dict[str, list[str]]:
    """Everything the attacker recovers, per table title."""
    by_title = dict(tables)
    shared = None
    for title in SHARED_TOTAL:
        if title in by_title:
            count = _count_column(by_title[title])
            shared = shared if shared is not None else known_total(by_title[title], count)
    found: dict[str, list[str]] = {}
    for title, table in tables:
        count = _count_column(table)
        if count is None or title == "Ledige boliger 31. desember":  # rows are years, no sum
            continue
        total = known_total(table, count)
        if total is None and title in SHARED_TOTAL:
            total = shared
        hits = recover(table, count, total)
        if hits:
            found[title] = hits
    return found


@pytest.fixture(scope="module")
def registers(snapshot_dir: Path):
    regs = {}
    for kommunenummer, rel in REGISTERS.items():
        path = snapshot_dir / rel
        regs[kommunenummer] = read_register_bytes(path.read_bytes(), path.name, kommunenummer)
    return regs


def test_the_attacker_recovers_holmestrands_rekkehus_under_primary_suppression_only(registers):
    """Without secondary suppression the attack works (54 − 52 = 2): the test can fail."""
    raw = stock_summary(registers["3903"], "boligtype", suppress=False)
    primary_only = suppress_small(raw, "antall", dependent_cols=["andel"])
    hits = recover(primary_only, "antall", known_total(primary_only, "antall"))
    assert any(hit.startswith("Rekkehus ≤ 2") for hit in hits), hits


@pytest.mark.parametrize("kommunenummer", sorted(REGISTERS))
@pytest.mark.parametrize("all_dwellings", [None, 9000.0])
def test_no_suppressed_register_count_can_be_recovered(
    registers, kommunenummer, all_dwellings, reliability
):
    tables = publication_tables(registers[kommunenummer], all_dwellings=all_dwellings)
    assert any((t["status"].astype("string") == SUPPRESSED).any() for _, t in tables)
    found = attack(tables)
    for title, _table in tables:
        case = f"{kommunenummer} {title} (all_dwellings={all_dwellings})"
        reliability.record(FAMILY, case, "leak" if title in found else "correct", str(found))
    assert not found, found


def _check_published(values: list[int], published: pd.DataFrame) -> None:
    shown = published["antall"]
    for original, value, status in zip(values, shown, published["status"], strict=False):
        if 0 < original < THRESHOLD:
            assert status == SUPPRESSED and np.isnan(value)  # primary
        if original == 0:
            assert value == 0  # a zero reveals no one and is never hidden
        if not np.isnan(value):
            assert value == original  # nothing shown is altered
    hidden = published["status"] == SUPPRESSED
    assert published.loc[hidden, "andel"].isna().all()  # shares go with their counts


@settings(max_examples=100, deadline=None, suppress_health_check=HEALTH)
@given(values=st.lists(st.integers(min_value=0, max_value=15), min_size=1, max_size=8))
def test_generated_tables_with_a_total_row(values, reliability):
    total = sum(values)
    frame = pd.DataFrame(
        {
            "gruppe": [f"g{i}" for i in range(len(values))] + [TOTAL_LABEL],
            "antall": [*values, total],
            "andel": [v / total * 100 if total else np.nan for v in [*values, total]],
            "status": "",
        }
    )
    published = suppress_small(
        frame, "antall", dependent_cols=["andel"], additive=True, total_col="gruppe"
    )
    hits = recover(published, "antall", known_total(published, "antall"))
    reliability.record(FAMILY, f"generated column {values}", "leak" if hits else "correct")
    assert not hits, (values, hits)
    _check_published([*values, total], published)


@settings(max_examples=40, deadline=None, suppress_health_check=HEALTH)
@given(
    dwellings=st.lists(
        st.tuples(
            st.sampled_from(["Leilighet", "Hybel", "Rekkehus", "Enebolig", None]),
            st.sampled_from(["Utleid", "Ledig", "Avhendet"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_generated_registers_stock_tables(dwellings, reliability):
    frame = pd.DataFrame(dwellings, columns=["boligtype", "status"])
    frame["bolig_id"] = [f"B{i}" for i in range(len(frame))]
    frame["syntetisk"] = True
    published = stock_summary(frame, "boligtype", all_dwellings=1000.0)
    hits = recover(published, "antall", known_total(published, "antall"))
    reliability.record(FAMILY, f"generated register of {len(frame)}", "leak" if hits else "correct")
    assert not hits, hits
    assert published["andel_av_alle_boliger"][published["status"] == SUPPRESSED].isna().all()
