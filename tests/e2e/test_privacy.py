"""No identifier from a dwelling-register export reaches data/processed, reports/ or _site/.

The session's ``pipeline_project`` ran the offline main job (snapshot import with both example
registers, build, reports for Asker and Holmestrand, site). The Holmestrand export carries fake
tenant names and 11-digit national ID numbers: none of them may appear in any output file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from privacy_scan import find_identifiers, snapshot_identifiers  # tests/privacy_scan.py

pytestmark = pytest.mark.e2e


def test_outputs_hold_no_tenant_identifiers(pipeline_project: Path, snapshot_dir: Path) -> None:
    identifiers = snapshot_identifiers(snapshot_dir)
    assert len(identifiers) > 50, "the scan needs the export's names and numbers to look for"
    outputs = [pipeline_project / d for d in ("data/processed", "reports", "_site")]
    # The register analysis really is published (otherwise the scan proves nothing).
    report = pipeline_project / "reports" / "3903-holmestrand" / "kommunale_boliger.ipynb"
    assert "Kommunale boliger i registeret" in report.read_text("utf-8")
    page = pipeline_project / "_site" / "kommuner" / "3903-holmestrand" / "kommunale_boliger.html"
    assert 'download="kommunale-boliger-i-registeret.csv"' in page.read_text("utf-8")
    assert find_identifiers(outputs, identifiers) == []


def test_scan_would_catch_a_leak(pipeline_project: Path, snapshot_dir: Path, tmp_path) -> None:
    identifiers = snapshot_identifiers(snapshot_dir)
    leaked = tmp_path / "leak.html"
    leaked.write_text(f"<td>{identifiers[0]}</td><td>{identifiers[-1]}</td>", "utf-8")
    assert len(find_identifiers([leaked], identifiers)) == 2


def test_published_register_counts_below_three_are_suppressed(pipeline_project: Path) -> None:
    import pandas as pd

    from boso import register

    reg = register.load_register("3903", pipeline_project / "data" / "processed")
    for title, table in register.publication_tables(reg):
        if "antall" not in table.columns:
            continue
        counts = pd.to_numeric(table["antall"], errors="coerce")
        assert not counts.between(1, 2).any(), f"{title}: a count below 3 is published"
