"""Family ``register_privacy``: no planted personal identifier survives a register import.

Names, national ID numbers (valid and invalid check digits, D-numbers, written with a space or a
dash), phone numbers and e-mail addresses are planted in random cells of every column of
generated exports (``tests/fixtures/register/make_fixtures.py``). The reader-only part runs many
examples and scans what ``boso register import`` writes to ``data/processed``; the end-to-end
part runs a few through reports (``boso reports --kommune NR``) and the site
(``boso site --renderer nbconvert``) and scans those too (``tests/privacy_scan.py``).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy_scan import find_identifiers
from robustness.harness import run_boso

FAMILY = "register_privacy"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "register"
ROWS = 30
FIRST_DATA_LINE = 5  # three title lines and the header come first


def _generator():
    spec = importlib.util.spec_from_file_location(
        "register_fixtures", FIXTURES / "make_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
COLUMNS = len(GEN.GENERATED_HEADER)


def _export(seed: int, cells: list[tuple[int, int, str]], fmt: str, rows: int = ROWS):
    header, clean = GEN.generated_export(rows, seed=seed)
    planted, scan = GEN.plant(clean, cells, seed=seed)
    content = GEN.to_csv(header, planted) if fmt == "csv" else GEN.to_xlsx(header, planted)
    return header, content, scan


def _import_and_scan(content: bytes, fmt: str, scan: list[str]):
    """Import into a throw-away project; returns (result, leaks in data/processed)."""
    from boso.raw import RawStore
    from boso.register import import_register

    with tempfile.TemporaryDirectory(prefix="boso-privacy-") as tmp:
        root = Path(tmp)
        source = root / f"eksport_0301.{fmt}"
        source.write_bytes(content)
        processed = root / "data" / "processed"
        result = import_register(
            source, "0301", RawStore(root / "data" / "raw"), processed, quiet=True
        )
        leaks = find_identifiers([processed], scan)
    return result, leaks


def _personal_reported(result, header: list[str], cells: list[tuple[int, int, str]]) -> list:
    """Planted IDs, phones and e-mails that the validation report does not name by row/column."""
    reported = {(p.row, p.column) for p in result.report.problems}
    missing = []
    for row, col, kind in cells:
        if kind.startswith("name"):
            continue  # names are judged by shape, reported as "ligner ikke …" where kept
        where = (FIRST_DATA_LINE + row % ROWS, header[col % COLUMNS])
        if where not in reported:
            missing.append((where, kind))
    return missing


PLANT = st.tuples(
    st.integers(0, ROWS - 1), st.integers(0, COLUMNS - 1), st.sampled_from(GEN.IDENTIFIER_KINDS)
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 100_000),
    cells=st.lists(PLANT, min_size=1, max_size=8, unique_by=lambda c: (c[0], c[1])),
    fmt=st.sampled_from(["csv", "xlsx"]),
)
def test_planted_identifiers_never_reach_processed(reliability, seed, cells, fmt):
    header, content, scan = _export(seed, cells, fmt)
    result, leaks = _import_and_scan(content, fmt, scan)
    unreported = _personal_reported(result, header, cells)
    outcome = "leak" if leaks else ("correct" if not unreported else "leak")
    reliability.record(
        FAMILY,
        f"{fmt}: {len(cells)} identifiers planted (reader)",
        outcome,
        f"leaks={[(p.name, i) for p, i in leaks]} unreported={unreported}",
    )
    assert leaks == [], leaks
    assert unreported == [], f"planted identifiers not reported by row and column: {unreported}"
    assert result.report.dwellings >= 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_kind_in_every_column(reliability, fmt):
    """Each kind of identifier once in each column (one per row): the full grid, no sampling."""
    kinds = GEN.IDENTIFIER_KINDS
    cells = [
        (i, col, kind)
        for i, (col, kind) in enumerate((c, k) for c in range(COLUMNS) for k in kinds)
    ]
    rows = len(cells) + 10
    header, clean = GEN.generated_export(rows, seed=7)
    planted, scan = GEN.plant(clean, cells, seed=7)
    content = GEN.to_csv(header, planted) if fmt == "csv" else GEN.to_xlsx(header, planted)
    result, leaks = _import_and_scan(content, fmt, scan)
    reliability.record(
        FAMILY,
        f"{fmt}: every identifier kind in every column",
        "leak" if leaks else "correct",
        str(leaks[:5]),
    )
    assert leaks == []
    # Not kept, and said so, without the value: "verdi i kolonne X rad N ligner …".
    messages = [p.message for p in result.report.problems]
    assert any("ligner ikke en adresse (ikke lagret)" in m for m in messages)
    assert any("ligner ikke en ID (ikke lagret)" in m for m in messages)
    assert any("ligner et fødselsnummer (ikke lagret)" in m for m in messages)
    assert any("ligner et telefonnummer (ikke lagret)" in m for m in messages)
    assert any("ligner en e-postadresse (ikke lagret)" in m for m in messages)
    # The scan is not blind: the planted values are in the export it was given.
    export = Path(tempfile.mkdtemp(prefix="boso-privacy-")) / f"eksport.{fmt}"
    try:
        export.write_bytes(content)
        if fmt == "csv":
            assert len({i for _, i in find_identifiers([export], scan)}) > len(cells) // 2
    finally:
        shutil.rmtree(export.parent)


def test_numeric_columns_read_as_floats_lose_id_numbers(reliability):
    """An 11-digit number in Postnr, BRA or Månedsleie of an .xlsx is a float cell: dropped."""
    header, clean = GEN.generated_export(12, seed=3)
    number = GEN.fnr(__import__("random").Random(3), valid=False)
    for i, column in enumerate(("Postnr", "BRA m²", "Månedsleie", "Antall rom", "Øst (UTM33)")):
        clean[i][header.index(column)] = number
    result, leaks = _import_and_scan(GEN.to_xlsx(header, clean), "xlsx", [number])
    reliability.record(
        FAMILY, "11-digit number in numeric xlsx columns", "leak" if leaks else "correct"
    )
    assert leaks == []
    dwellings = result.dwellings
    assert not (pd.to_numeric(dwellings["bra_m2"]) > 1e9).any()
    assert not (pd.to_numeric(dwellings["maanedsleie"]) > 1e9).any()


# A poststed column (the generated export has none) with real multi-word shapes, so that the
# name rule is tested against places it must keep.
POSTSTEDER = [
    "OSLO",
    "Mo i Rana",
    "KRISTIANSAND S",
    "Vestre Gausdal",
    "HOLMESTRAND",
    "Bø i Telemark",
]
NAME_MESSAGE = "kan være et personnavn"
PLACE_PLANT = st.tuples(
    st.integers(0, ROWS - 1),
    st.sampled_from(["Adresse", "Poststed"]),
    st.sampled_from(["plain", "upper", "unit"]),
)


def _with_poststed(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    # One poststed per postnummer, as in Posten's register: the reader's postnummer check
    # (a poststed that disagrees with the others of its postnummer) must then drop nothing real.
    at = header.index("Postnr") + 1
    digits = ["".join(ch for ch in r[at - 1] if ch.isdigit()) or "0" for r in rows]
    rows = [
        [*r[:at], POSTSTEDER[int(d) % len(POSTSTEDER)], *r[at:]]
        for r, d in zip(rows, digits, strict=True)
    ]
    return [*header[:at], "Poststed", *header[at:]], rows


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 100_000),
    cells=st.lists(PLACE_PLANT, min_size=1, max_size=6, unique_by=lambda c: (c[0], c[1])),
    fmt=st.sampled_from(["csv", "xlsx"]),
)
def test_names_planted_as_places_never_reach_processed(reliability, seed, cells, fmt):
    """ "Kari Nordheim 12" as an address, "KARI NORDHEIM" as a poststed: cell dropped, row kept."""
    rng = __import__("random").Random(seed)
    header, clean = _with_poststed(*GEN.generated_export(ROWS, seed=seed))
    scan: list[str] = []
    for row, column, form in cells:
        name = f"{rng.choice(GEN.FIRST_NAMES)} {rng.choice(GEN.LAST_NAMES)}"
        scan += [name, name.upper()]
        value = name.upper() if form == "upper" else name
        if column == "Adresse":
            value += f" {rng.randint(1, 120)}" + (" H0101" if form == "unit" else "")
        clean[row][header.index(column)] = value
    content = GEN.to_csv(header, clean) if fmt == "csv" else GEN.to_xlsx(header, clean)
    result, leaks = _import_and_scan(content, fmt, scan)
    named = {(p.row, p.column) for p in result.report.problems if NAME_MESSAGE in p.message}
    planted = {(FIRST_DATA_LINE + row, column) for row, column, _ in cells}
    reliability.record(
        FAMILY,
        f"{fmt}: {len(cells)} names planted as address/poststed (reader)",
        "leak" if leaks or named != planted else "correct",
        f"leaks={[(p.name, i) for p, i in leaks]} "
        f"reported={sorted(named)} planted={sorted(planted)}",
    )
    assert leaks == [], leaks
    # Exactly the planted cells are reported: no real address or poststed is taken for a name.
    assert named == planted
    assert not [p for p in result.report.problems if "stemmer ikke med postnummeret" in p.message]
    assert result.report.rows_kept == ROWS  # the cell goes, never the row
    kept = set(result.dwellings["poststed"].dropna())
    assert kept <= set(POSTSTEDER) and kept


# ---------------------------------------------------------------------------------- end to end

E2E_KOMMUNER = {"0301": (10.7522, 59.9139), "4601": (5.3242, 60.3930)}


@pytest.mark.e2e
def test_planted_identifiers_never_reach_reports_or_site(
    pipeline_project: Path, tmp_path: Path, reliability
):
    """A few planted exports through import → reports (kommunale_boliger) → site, then scanned."""
    root = tmp_path / "project"
    (root / "reports").mkdir(parents=True)
    shutil.copytree(pipeline_project / "data", root / "data")
    shutil.copytree(pipeline_project / "notebooks", root / "notebooks")
    scan: list[str] = []
    public_addresses: list[str] = []
    for k, (knr, center) in enumerate(E2E_KOMMUNER.items()):
        header, clean = GEN.generated_export(40, seed=100 + k, center=center)
        cells = [
            (3 * i + 1, (i * 5 + k) % COLUMNS, kind) for i, kind in enumerate(GEN.IDENTIFIER_KINDS)
        ]
        planted, forms = GEN.plant(clean, cells, seed=100 + k)
        scan += forms
        public_addresses.append(planted[0][header.index("Adresse")])
        export = tmp_path / f"eksport_{knr}.csv"
        export.write_bytes(GEN.to_csv(header, planted))
        result = run_boso(["register", "import", str(export), "--kommune", knr], root=root)
        assert result.code == 0 and not result.traceback, result.stderr
    for argv in (
        ["reports", "--kommune", *E2E_KOMMUNER, "--analysis", "kommunale_boliger"],
        ["site", "--renderer", "nbconvert"],
    ):
        result = run_boso(argv, root=root)
        assert result.code == 0 and not result.traceback, (argv, result.stderr, result.exception)
    outputs = [root / "data" / "processed", root / "reports", root / "_site"]
    leaks = find_identifiers(outputs, scan)
    reliability.record(
        FAMILY,
        "planted exports through reports and site",
        "leak" if leaks else "correct",
        str([(str(p.relative_to(root)), i) for p, i in leaks][:5]),
    )
    assert leaks == []
    # The register really is published, so the scan proves something.
    published = find_identifiers([root / "reports", root / "_site"], public_addresses)
    assert {i for _, i in published} == set(public_addresses)
