"""Family "imdi": cut, short or shrunken IMDi settlement exports never build or replace a good one.

The issue's case first: the snapshot's long export cut at half its bytes built with exit 0 and
Oslo 2023 = 1. Now ``boso build`` refuses it in one line naming file and line, and
``boso fetch --source imdi`` refuses a cut, short or shrunken download (after retrying it like
a 5xx) and keeps the stored export, with nothing moved to ``_history``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from boso.errors import DataError, FetchError
from boso.raw import RawStore
from boso.sources import imdi
from robustness.harness import run_boso, tree_digest
from robustness.sources_support import (
    IMDI_LONG,
    LocalServer,
    ScriptedAdapter,
    client_on,
    imported_raw,
    project_with_raw,
)

FAMILY = "imdi"
SERIES = ("Anmodning om bosetting", "Faktisk bosetting", "Vedtak om bosetting")
URL = f"https://www.imdi.no/eksport/{IMDI_LONG}"
SLOW = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def long_export(kommuner: int = 40, years: range = range(2015, 2021), seed: int = 7) -> bytes:
    """A long-layout export shaped like IMDi's (sorted by Enhet, År, Kommunenummer; Latin-1)."""
    rng = random.Random(seed)
    codes = [f"{1000 + 97 * i:04d}" for i in range(kommuner)]
    lines = ["Enhet;År;Kommunenummer;Kommune;Bosetting;Antall"]
    for enhet, last in (("Personer", years[-1]), ("Prosent", years[-1] - 1)):
        for year in years:
            if year > last:
                continue
            for code in codes:
                for serie in SERIES:
                    value = rng.choice([".", ":", str(rng.randint(0, 1500))])
                    lines.append(f"{enhet};{year};{code};Kommune {code} Ø;{serie};{value}")
    return ("\n".join(lines) + "\n").encode("iso-8859-1")


GOOD = long_export()
# The next export: the same figures plus a whole new block (Prosent 2020, every kommune).
NEWER = GOOD + "".join(
    f"Prosent;2020;{1000 + 97 * i:04d};Kommune {1000 + 97 * i:04d} Ø;{serie};{50 + i}\n"
    for i in range(40)
    for serie in SERIES
).encode("iso-8859-1")


# --------------------------------------------------------------------------------------------
# boso build on the snapshot's real export


@pytest.fixture(scope="module")
def raw_tree(snapshot_dir, tmp_path_factory) -> Path:
    return imported_raw(snapshot_dir, tmp_path_factory.mktemp("imdi-raw"))


@pytest.fixture
def build_project(raw_tree, tmp_path):
    # SSB tables are left out on purpose: an IMDi export that slipped through would end the
    # build on a missing SSB file, whose message does not name the IMDi file.
    with project_with_raw(tmp_path, raw_tree, ("klass", "imdi")) as root:
        yield root


def _real_export(root: Path) -> Path:
    return root / "data" / "raw" / "imdi" / IMDI_LONG


def _cut_cases(content: bytes) -> dict[str, bytes]:
    lines = content.split(b"\n")
    oslo_2023 = next(
        i
        for i, line in enumerate(lines)
        if line.startswith(b"Personer;2023;0301;") and b"Faktisk" in line and line[-1:].isdigit()
    )
    before_oslo = b"\n".join(lines[:oslo_2023]) + b"\n"
    damaged = list(lines)
    damaged[len(lines) // 3] = damaged[len(lines) // 3].rsplit(b";", 1)[0]
    block_end = next(
        i for i in range(len(lines) - 1, 0, -1) if lines[i].startswith(b"Personer;2023;")
    )
    return {
        "cut at half its bytes (the issue's case)": content[: len(content) // 2],
        "cut inside Oslo 2023's number": before_oslo + lines[oslo_2023][:-3],
        "a row in the middle ends early": b"\n".join(damaged),
        "cut at a line end inside a year": b"\n".join(lines[: oslo_2023 + 7]) + b"\n",
        "cut exactly after the Personer block": b"\n".join(lines[: block_end + 1]) + b"\n",
    }


@pytest.mark.parametrize(
    "case",
    [
        "cut at half its bytes (the issue's case)",
        "cut inside Oslo 2023's number",
        "a row in the middle ends early",
        "cut at a line end inside a year",
        "cut exactly after the Personer block",
    ],
)
def test_build_refuses_a_cut_export_naming_file_and_line(build_project, case, reliability):
    path = _real_export(build_project)
    cut = _cut_cases(path.read_bytes())[case]
    path.write_bytes(cut)
    raw_before = tree_digest(build_project / "data" / "raw")
    processed_before = tree_digest(build_project / "data" / "processed")
    result = run_boso(["build"], root=build_project)
    # Every case names the file; the in-file checks also name the line (the last case is
    # complete line by line and is caught by the stored checksum instead).
    mentions = [IMDI_LONG] if case.startswith("cut exactly") else [IMDI_LONG, "linje"]
    reliability.cli_error(FAMILY, f"boso build: {case}", result, *mentions)
    reliability.unchanged(FAMILY, f"build {case}: raw", raw_before, build_project / "data" / "raw")
    reliability.unchanged(
        FAMILY, f"build {case}: processed", processed_before, build_project / "data" / "processed"
    )


@SLOW
@given(fraction=st.floats(min_value=0.0, max_value=0.999))
def test_build_check_refuses_the_real_export_cut_anywhere(build_project, fraction, reliability):
    from boso.build import check_raw_inputs

    path = _real_export(build_project)
    good = (
        (build_project / "good.csv").read_bytes() if (build_project / "good.csv").exists() else None
    )
    if good is None:
        good = path.read_bytes()
        (build_project / "good.csv").write_bytes(good)
    cut = max(1, int(len(good) * fraction))
    path.write_bytes(good[:cut])
    try:
        check_raw_inputs(RawStore(build_project / "data" / "raw"))
        outcome = "data_lost"
    except DataError as exc:
        one_line = "\n" not in str(exc) and IMDI_LONG in str(exc)
        outcome = "clear_error" if one_line else "traceback"
    finally:
        path.write_bytes(good)
    reliability.record(FAMILY, f"build check: real export cut at byte {cut}", outcome)
    assert outcome == "clear_error"


@FAST
@given(cut=st.integers(min_value=1, max_value=len(GOOD) - 1))
def test_a_cut_export_is_refused_or_only_loses_whole_blocks(cut, reliability):
    """Without its stored checksum, a cut file is refused by its own content unless the cut
    fell exactly between blocks; then every value that remains is the file's true value."""
    full = imdi.parse_export(GOOD, "full.csv").set_index(["kode", "aar", "serie", "enhet"])
    try:
        frame = imdi.parse_export(GOOD[:cut], "cut.csv")
    except DataError as exc:
        outcome = "clear_error" if "\n" not in str(exc) else "traceback"
    else:
        kept = frame.set_index(["kode", "aar", "serie", "enhet"])
        same = full.loc[kept.index]
        exact = (
            kept["verdi"].fillna(-1).eq(same["verdi"].fillna(-1)).all()
            and kept["status"].eq(same["status"]).all()
        )
        on_block_end = GOOD[cut - 1 : cut] == b"\n"
        outcome = "correct" if exact and on_block_end else "data_lost"
    reliability.record(FAMILY, f"parse: generated export cut at byte {cut}", outcome)
    assert outcome in ("clear_error", "correct")


# --------------------------------------------------------------------------------------------
# boso fetch --source imdi


@pytest.fixture
def fetch_project(project, monkeypatch):
    """A project holding GOOD as the stored export; the IMDi client talks to ``adapter``."""
    store = RawStore(project / "data" / "raw")
    store.write("imdi", IMDI_LONG, GOOD, url=URL)
    adapter = ScriptedAdapter()
    client, clock = client_on(adapter)
    monkeypatch.setattr("boso.sources.imdi.imdi_client", lambda session=None: client)
    monkeypatch.setenv("BOSO_IMDI_URL", URL)
    return project, adapter, clock


def _without(content: bytes, needle: bytes) -> bytes:
    return b"\n".join(line for line in content.split(b"\n") if needle not in line)


def _fetch_refusals() -> dict[str, list]:
    half = GOOD[: len(GOOD) // 2]
    lines = GOOD.split(b"\n")
    at = next(i for i in range(len(lines) // 2, len(lines)) if lines[i][-1:].isdigit())
    lines[at] = lines[at].rsplit(b";", 1)[0] + b";."
    value_gone = b"\n".join(lines)
    return {
        "the server sends half the export": [(200, half)],
        "a 200 body shorter than its Content-Length": [
            (200, GOOD[:-400], {"Content-Length": str(len(GOOD))})
        ],
        "a dropped connection on every try": [
            requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead")
        ],
        "HTTP 500 on every try": [(500, "oops")],
        "a complete export that lacks a kommune's year": [
            (200, _without(GOOD, b"Personer;2016;1097;"))
        ],
        "a complete export where a number became '.'": [(200, value_gone)],
    }


@pytest.mark.parametrize("case", sorted(_fetch_refusals()))
def test_fetch_refuses_and_keeps_the_stored_export(fetch_project, case, reliability):
    project, adapter, _ = fetch_project
    answer = _fetch_refusals()[case][0]

    def handler(request):  # noqa: ANN001, ANN202
        if isinstance(answer, BaseException):
            raise answer
        return answer

    adapter.handler = handler
    before = tree_digest(project / "data")
    result = run_boso(["fetch", "--source", "imdi"], root=project)
    reliability.cli_error(FAMILY, f"boso fetch: {case}", result, "IMDi")
    reliability.unchanged(FAMILY, f"fetch {case}: data unchanged", before, project / "data")
    assert not (project / "data" / "raw" / "imdi" / "_history").exists()


def test_fetch_retries_like_ssb_then_stores_the_complete_export(fetch_project, reliability):
    project, adapter, clock = fetch_project
    newer = NEWER
    adapter.script = [
        (429, "too many", {"Retry-After": "7"}),
        (500, "oops"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
    ]
    adapter.handler = lambda request: (200, newer)
    result = run_boso(["fetch", "--source", "imdi"], root=project)
    stored = (project / "data" / "raw" / "imdi" / IMDI_LONG).read_bytes()
    history = list((project / "data" / "raw" / "imdi" / "_history").glob(f"{IMDI_LONG}.*"))
    ok = result.code == 0 and stored == newer and len(adapter.requests) == 5
    ok = ok and clock.sleeps[0] == 7.0 and any(h.read_bytes() == GOOD for h in history)
    reliability.record(
        FAMILY,
        "boso fetch: 429, 500, timeout, dropped body, then good",
        "correct" if ok else "data_lost",
    )
    assert ok, (result.stderr, clock.sleeps)


@FAST
@given(cut=st.integers(min_value=1, max_value=len(GOOD) - 1))
def test_fetch_of_an_export_cut_anywhere_never_replaces_the_stored_one(
    tmp_path_factory, cut, reliability
):
    root = tmp_path_factory.mktemp("imdi-fetch")
    store = RawStore(root)
    store.write("imdi", IMDI_LONG, GOOD, url=URL)
    before = tree_digest(root)
    adapter = ScriptedAdapter(lambda request: (200, GOOD[:cut]))
    client, _ = client_on(adapter)
    try:
        imdi.fetch(store, URL, client=client)
        outcome = "data_lost"
    except FetchError as exc:
        outcome = "clear_error" if "\n" not in str(exc) else "traceback"
    if tree_digest(root) != before:
        outcome = "data_lost"
    reliability.record(FAMILY, f"fetch: export cut at byte {cut}", outcome)
    assert outcome == "clear_error"


def test_fetch_over_a_real_socket_retries_a_short_body(tmp_path, reliability):
    store = RawStore(tmp_path)
    store.write("imdi", IMDI_LONG, GOOD, url=URL)
    newer = NEWER
    script = [("short", newer[: len(newer) // 2], len(newer)), ("cut", newer[:900], len(newer))]
    with LocalServer([*script, ("ok", newer)]) as server:
        client, _ = client_on(None, timeout=5.0)
        raw = imdi.fetch(store, f"{server.url}/{IMDI_LONG}", client=client)
    ok = raw.read_bytes() == newer and server.hits == 3
    reliability.record(
        FAMILY,
        "fetch over a socket: short body, reset body, then good",
        "correct" if ok else "data_lost",
    )
    assert ok


# --------------------------------------------------------------------------------------------
# Cut at a line end inside the first year's block, placed by hand (no sidecar, no checksum)
#
# The first (Enhet, År) block has no earlier block to be compared with; only the start of the
# next one shows that it is whole. An export with a single block is therefore refused.


def _first_block_cuts(content: bytes) -> dict[int, bytes]:
    """The export cut at a line end after 1, a third, half and all but one of its first
    block's lines, keyed by the number of data lines kept."""
    lines = content.split(b"\n")
    first = lines[1].split(b";")[:2]
    size = next(i for i in range(1, len(lines)) if lines[i].split(b";")[:2] != first) - 1
    keep = sorted({1, size // 3, size // 2, size - 1, size})
    return {n: b"\n".join(lines[: n + 1]) + b"\n" for n in keep}


def test_build_refuses_a_hand_placed_export_cut_inside_its_first_year(build_project, reliability):
    path = _real_export(build_project)
    good = path.read_bytes()
    sidecar = path.with_name(path.name + ".provenance.json")
    sidecar.unlink()  # placed by hand: nothing records what the file should be
    for kept, cut in _first_block_cuts(good).items():
        path.write_bytes(cut)
        raw_before = tree_digest(build_project / "data" / "raw")
        processed_before = tree_digest(build_project / "data" / "processed")
        result = run_boso(["build"], root=build_project)
        case = f"boso build: hand-placed export cut after line {kept + 1} (first year's block)"
        reliability.cli_error(FAMILY, case, result, IMDI_LONG, "linje", "én blokk")
        reliability.unchanged(FAMILY, case, raw_before, build_project / "data" / "raw")
        reliability.unchanged(FAMILY, case, processed_before, build_project / "data" / "processed")


@FAST
@example(cut=GOOD.index(b"\n"))  # the header alone, without its line end
@example(cut=GOOD.index(b"\n") + 1)  # the header alone
@given(cut=st.integers(min_value=1, max_value=GOOD.index(b"\nPersoner;2016;") + 1))
def test_generated_export_cut_anywhere_in_its_first_year_is_refused(cut, reliability):
    """Every cut inside the first block (at a line end or not) is one clear line."""
    try:
        imdi.parse_export(GOOD[:cut], "cut.csv")
        outcome = "data_lost"
    except DataError as exc:
        outcome = "clear_error" if "\n" not in str(exc) and "cut.csv" in str(exc) else "traceback"
    reliability.record(FAMILY, f"parse: generated export cut at byte {cut} (first year)", outcome)
    assert outcome == "clear_error"


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_the_real_exports_still_parse(snapshot_dir, layout, reliability):
    """The structural checks must not refuse IMDi's real exports in the snapshot."""
    name = (
        IMDI_LONG
        if layout == "long"
        else "imdi_bosetting_anmodning_vedtak_faktisk_1995-2022_wide_sep22.csv"
    )
    frame = imdi.parse_export((snapshot_dir / "imdi" / name).read_bytes(), name)
    ok = frame["aar"].min() == 1995 and frame["kode"].nunique() > 300
    reliability.record(
        FAMILY, f"parse: the snapshot's real {layout} export", "correct" if ok else "data_lost"
    )
    assert ok
