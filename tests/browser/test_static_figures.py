"""figures.save: a figure taken into a report as PNG/SVG keeps its source caption.

Runs kaleido with Debian's chromium (boso.static_export); skipped where there is none.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from boso import figures, static_export
from boso.errors import QueryError

pytestmark = pytest.mark.browser


def _rows() -> pd.DataFrame:
    values = {"Asker": [10.0, math.nan, 12.0, 13.0], "Landet": [20.0, 21.0, 22.0, 23.0]}
    out = []
    for (nivaa, region), (name, series) in zip(
        [("kommune", "3203"), ("landet", "0")], values.items(), strict=True
    ):
        for year, value in zip(range(2020, 2024), series, strict=True):
            out.append(
                {
                    "indikator": "kommunale_boliger_per_1000",
                    "nivaa": nivaa,
                    "region": region,
                    "regionnavn": name,
                    "aar": year,
                    "verdi": value,
                    "status": ":" if math.isnan(value) else "",
                    "enhet": "per 1000 innbyggere",
                    "kilde": "SSB 12008",
                    "kilde_oppdatert": "2025-06-16",
                    "hentet": "2026-11-22",
                    "syntetisk": True,
                    "harmonisering": "",
                    "merknad": "",
                }
            )
    return pd.DataFrame(out)


def test_save_writes_png_and_svg_with_the_caption(tmp_path: Path) -> None:
    reason = static_export.unavailable_reason()
    if reason:
        pytest.skip(reason)
    chart = figures.lines(_rows())
    png = figures.save(chart, str(tmp_path / "figur.png"))
    svg = chart.save(str(tmp_path / "figur.svg"))
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = Path(svg).read_text("utf-8")
    assert "Kilde: SSB, tabell 12008" in drawn and "Hentet 2026-11-22" in drawn
    assert "Syntetiske demotall" in drawn and "Asker: prikket (:) i 2021" in drawn
    with pytest.raises(QueryError, match="bildeformat"):
        figures.save(chart, str(tmp_path / "figur.gif"))
    assert not (tmp_path / "figur.gif").exists()
