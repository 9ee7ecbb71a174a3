"""Family "klass_raw": corrupt or cut KLASS (and boundary) files in data/raw stop ``boso build``
with one line naming the file, never a ``JSONDecodeError`` traceback; data/processed stays.

Stored files are checked against the SHA-256 in their provenance sidecar; files placed by hand
(no sidecar) are checked for JSON, the expected list and its required fields. The KLASS
``codesAt`` shape of 2026 (samisk double names, notes, ``validFrom: null``, 9999) is read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boso.errors import DataError
from boso.raw import PROVENANCE_SUFFIX, RawStore
from robustness.harness import run_boso, tree_digest
from robustness.sources_support import HTTP_FIXTURES, imported_raw, project_with_raw

FAMILY = "klass_raw"
KLASS_FILES = (
    "131_changes_2011-01-01_2024-01-01.json",
    "131_codesAt_2020-01-01.json",
    "131_codesAt_2024-01-01.json",
    "131_correspondsAt_112_2024-01-01.json",
)


@pytest.fixture(scope="module")
def raw_tree(snapshot_dir, tmp_path_factory) -> Path:
    return imported_raw(snapshot_dir, tmp_path_factory.mktemp("klass-raw"))


@pytest.fixture
def klass_project(raw_tree, tmp_path):
    with project_with_raw(tmp_path, raw_tree, ("klass", "geo")) as root:
        yield root


def _damages(content: bytes) -> dict[str, bytes]:
    return {
        "cut at half": content[: len(content) // 2],
        "empty": b"",
        "not UTF-8": b"\xff\xfe\x00garbage" + content[:100],
        "an HTML error page": b"<html><title>503 Service Unavailable</title></html>",
        "a JSON list": b"[]",
        "the list emptied": json.dumps(
            {"codes": [], "codeChanges": [], "correspondenceItems": []}
        ).encode(),
    }


@pytest.mark.parametrize("name", KLASS_FILES)
@pytest.mark.parametrize("damage", ["cut at half", "empty", "not UTF-8", "an HTML error page"])
@pytest.mark.parametrize("sidecar", ["stored", "placed by hand"])
def test_build_names_the_damaged_klass_file(klass_project, name, damage, sidecar, reliability):
    path = klass_project / "data" / "raw" / "klass" / name
    path.write_bytes(_damages(path.read_bytes())[damage])
    if sidecar == "placed by hand":
        path.with_name(name + PROVENANCE_SUFFIX).unlink()
    raw_before = tree_digest(klass_project / "data" / "raw")
    processed_before = tree_digest(klass_project / "data" / "processed")
    result = run_boso(["build"], root=klass_project)
    case = f"boso build: {name} {damage} ({sidecar})"
    reliability.cli_error(FAMILY, case, result, name)
    reliability.unchanged(FAMILY, f"{case}: raw", raw_before, klass_project / "data" / "raw")
    reliability.unchanged(
        FAMILY, f"{case}: processed", processed_before, klass_project / "data" / "processed"
    )


@pytest.mark.parametrize("name", KLASS_FILES)
@pytest.mark.parametrize("damage", ["a JSON list", "the list emptied"])
def test_wrong_shape_placed_by_hand_is_one_line(klass_project, name, damage, reliability):
    path = klass_project / "data" / "raw" / "klass" / name
    path.write_bytes(_damages(path.read_bytes())[damage])
    path.with_name(name + PROVENANCE_SUFFIX).unlink()
    result = run_boso(["build"], root=klass_project)
    if damage == "the list emptied" and name.startswith("131_changes_"):
        # An empty change list is a valid answer (no reforms in the period): the build goes on
        # and stops later on the SSB tables this project lacks, not on KLASS.
        ok = "131_changes" not in result.stderr and not result.traceback and result.code == 2
        reliability.record(FAMILY, f"boso build: {name} {damage}", "correct" if ok else "traceback")
        assert ok, result.stderr
        return
    reliability.cli_error(FAMILY, f"boso build: {name} {damage} (by hand)", result, name)


def test_corrupt_provenance_sidecar_is_one_line(klass_project, reliability):
    name = KLASS_FILES[2]
    sidecar = klass_project / "data" / "raw" / "klass" / (name + PROVENANCE_SUFFIX)
    sidecar.write_bytes(sidecar.read_bytes()[:40])
    result = run_boso(["build"], root=klass_project)
    reliability.cli_error(FAMILY, "boso build: provenance sidecar cut", result, sidecar.name)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(index=st.sampled_from(range(len(KLASS_FILES))), fraction=st.floats(0.0, 1.0))
def test_load_context_on_a_file_cut_anywhere(klass_project, index, fraction, reliability):
    """Cut at any byte, with or without a sidecar: a DataError naming the file, or (when only
    trailing whitespace was cut from a file placed by hand) the same context as before."""
    from boso.build import load_context

    store = RawStore(klass_project / "data" / "raw")
    name = KLASS_FILES[index]
    path = store.path("klass", name)
    sidecar = path.with_name(name + PROVENANCE_SUFFIX)
    good, good_sidecar = path.read_bytes(), sidecar.read_bytes()
    reference = load_context(store).registry
    cut = int(len(good) * fraction)
    outcomes = []
    try:
        for by_hand in (False, True):
            path.write_bytes(good[:cut])
            if by_hand:
                sidecar.unlink()
            try:
                ctx = load_context(store)
            except DataError as exc:
                clear = "\n" not in str(exc) and name in str(exc)
                outcomes.append("clear_error" if clear else "traceback")
            else:
                outcomes.append("correct" if ctx.registry.equals(reference) else "data_lost")
            finally:
                path.write_bytes(good)
                sidecar.write_bytes(good_sidecar)
    finally:
        path.write_bytes(good)
        sidecar.write_bytes(good_sidecar)
    for by_hand, outcome in zip((False, True), outcomes, strict=True):
        how = "by hand" if by_hand else "stored"
        reliability.record(FAMILY, f"load_context: {name} cut at {cut} ({how})", outcome)
    assert all(o in ("clear_error", "correct") for o in outcomes), outcomes


def test_boundary_file_cut_is_named_before_any_indicator_work(klass_project, reliability):
    geo = klass_project / "data" / "raw" / "geo" / "2024" / "Kommuner-S.geojson"
    geo.write_bytes(geo.read_bytes()[:5000])
    for by_hand in (False, True):
        if by_hand:
            geo.with_name(geo.name + PROVENANCE_SUFFIX).unlink()
        result = run_boso(["build"], root=klass_project)
        how = "by hand" if by_hand else "stored"
        reliability.cli_error(FAMILY, f"boso build: boundary file cut ({how})", result, geo.name)


def _codes_2026(snapshot_codes: dict) -> dict:
    """The 2024 codes in the shape KLASS answered ``codesAt?date=2026-01-01`` with."""
    codes = []
    for item in snapshot_codes["codes"]:
        item = dict(item)
        if item["code"] == "0301":
            item["name"] = "Oslo - Oslove"
            item["notes"] = "Oslo kommune heter Osloven tjïelte på sørsamisk."
        item["validFrom"] = None
        codes.append(item)
    if not any(c["code"] == "9999" for c in codes):
        codes.append({**codes[0], "code": "9999", "name": "Uoppgitt", "notes": ""})
    return {"codes": codes}


def test_codes_at_2026_shape_is_read(klass_project, reliability):
    from boso import kommune as km
    from boso.build import load_context
    from boso.sources.klass import check_klass

    store = RawStore(klass_project / "data" / "raw")
    small = (HTTP_FIXTURES / "klass_131_codesAt_2026_shape.json").read_bytes()
    parsed = km.parse_codes(check_klass(small, "codes", "fixture"))
    listed = [c["code"] for c in json.loads(small)["codes"] if c["code"] != "9999"]
    ok = sorted(parsed["kommunenummer"]) == sorted(listed)

    snapshot_2024 = json.loads(store.path("klass", KLASS_FILES[2]).read_bytes())
    doc = _codes_2026(snapshot_2024)
    store.write("klass", "131_codesAt_2026-01-01.json", json.dumps(doc).encode(), url="test")
    ctx = load_context(store)
    expected = {c["code"] for c in doc["codes"]} - {"9999"}
    ok = ok and 2026 in ctx.structures and ctx.structures[2026] == expected
    ok = ok and set(ctx.registry["kommunenummer"]) == expected
    reliability.record(FAMILY, "KLASS codesAt 2026 shape", "correct" if ok else "data_lost")
    assert ok


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("131_codesAt_2024-01-01.json", "codes"),
        ("131_changes_2011-01-01_2024-01-01.json", "codeChanges"),
        ("131_correspondsAt_112_2024-01-01.json", "correspondenceItems"),
    ],
)
def test_fetch_of_a_partial_klass_answer_keeps_the_stored_file(
    klass_project, name, key, monkeypatch, reliability
):
    """A complete-looking answer that lacks items the stored file has is refused by fetch."""
    from robustness.sources_support import ScriptedAdapter, client_on

    klass_dir = klass_project / "data" / "raw" / "klass"
    stored = json.loads((klass_dir / name).read_bytes())
    partial = {**stored, key: stored[key][: len(stored[key]) * 2 // 3]}
    answers = {}
    for other in KLASS_FILES:
        answers[other] = (klass_dir / other).read_bytes()
    answers[name] = json.dumps(partial).encode()

    def handler(request):  # noqa: ANN001, ANN202
        url = request.url
        if "changes" in url:
            return (200, answers[KLASS_FILES[0]])
        if "correspondsAt" in url:
            return (200, answers[KLASS_FILES[3]])
        date = url.rsplit("date=", 1)[1]
        return (200, answers[f"131_codesAt_{date}.json"])

    client, _ = client_on(ScriptedAdapter(handler))
    monkeypatch.setattr("boso.sources.HttpClient", lambda *a, **k: client)
    before = tree_digest(klass_project / "data")
    result = run_boso(["fetch", "--source", "klass"], root=klass_project)
    reliability.cli_error(FAMILY, f"boso fetch: partial KLASS answer for {name}", result, "mangler")
    reliability.unchanged(
        FAMILY, f"boso fetch: partial KLASS {name}: data unchanged", before, klass_project / "data"
    )
