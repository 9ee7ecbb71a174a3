"""Family "http": SSB and IMDi downloads that break off, stall, or answer in unexpected shapes.

A dropped connection mid-body, a 200 answer shorter than its Content-Length or cut mid-JSON,
429/5xx and timeouts are retried with backoff; a final failure is one line (exit 2) and never
a traceback. Real answer shapes (see ``tests/fixtures/http/README.md``): the web server's HTML
404 for an over-long GET URL is not "unknown table"; an unknown table answered with HTTP 400
whose problem body says 404 is; v0's json-stat2 with a sparse ``status`` is stored and read
with its symbols kept.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
from pathlib import Path

import pytest
import requests
import urllib3.exceptions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boso.errors import FetchError, QueryError
from boso.raw import RawStore
from boso.sources import ssb
from boso.sources.http import GaveUpError, HttpStatusError, expect_json
from robustness.harness import run_boso, tree_digest
from robustness.sources_support import (
    HTTP_FIXTURES,
    LocalServer,
    ScriptedAdapter,
    client_on,
)

FAMILY = "http"
URL = "https://data.ssb.no/api/pxwebapi/v2/tables/12008/data?lang=no&outputFormat=json-stat2"
DATA = (HTTP_FIXTURES / "ssb_12008_data.json").read_bytes()
SELECTION = {
    "KOKkommuneregion0000": ["0301", "3203"],
    "ContentsCode": "KOSboligSper10000000",
    "Tid": "from(2023)",
}


def broken_body_errors() -> dict[str, BaseException]:
    """What requests/urllib3/http.client raise when a body breaks off mid-transfer."""
    incomplete = http.client.IncompleteRead(b'{"version":', 900)
    return {
        "ChunkedEncodingError": requests.exceptions.ChunkedEncodingError(
            urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead", incomplete)
        ),
        "IncompleteRead": incomplete,
        "ProtocolError": urllib3.exceptions.ProtocolError("Connection broken"),
        "ConnectionResetError": ConnectionResetError(104, "Connection reset by peer"),
        "ReadTimeout": requests.exceptions.ReadTimeout("read timed out"),
        "ConnectionError": requests.exceptions.ConnectionError("Connection aborted"),
    }


@pytest.mark.parametrize("name", sorted(broken_body_errors()))
def test_a_body_that_breaks_off_is_retried(name, reliability):
    adapter = ScriptedAdapter(lambda request: (200, DATA))
    adapter.script = [broken_body_errors()[name]]
    client, clock = client_on(adapter)
    answer = client.get(URL, check=expect_json)
    ok = answer.content == DATA and len(adapter.requests) == 2 and clock.sleeps == [1.0]
    reliability.record(
        FAMILY, f"ssb: {name} once, then a good answer", "correct" if ok else "traceback"
    )
    assert ok


@pytest.mark.parametrize("name", sorted(broken_body_errors()))
def test_a_body_that_always_breaks_off_is_one_line(name, reliability):
    adapter = ScriptedAdapter()
    adapter.script = [broken_body_errors()[name]] * 5
    client, clock = client_on(adapter, max_tries=5)
    with pytest.raises(GaveUpError) as info:
        client.get(URL, check=expect_json)
    message = str(info.value)
    ok = "\n" not in message and URL in message and len(adapter.requests) == 5
    # Exponential backoff between the tries: 1, 2, 4, 8 seconds (fake clock).
    ok = ok and clock.sleeps == [1.0, 2.0, 4.0, 8.0]
    reliability.record(FAMILY, f"ssb: {name} on every try", "clear_error" if ok else "traceback")
    assert ok, message


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cut=st.integers(min_value=0, max_value=len(DATA) - 1))
def test_a_200_body_cut_anywhere_is_retried_never_stored(cut, reliability):
    adapter = ScriptedAdapter(lambda request: (200, DATA))
    adapter.script = [(200, DATA[:cut])]
    client, _ = client_on(adapter)
    answer = client.get(URL, check=expect_json)
    # Either the cut was noticed and the request repeated, or nothing but trailing
    # whitespace was cut and the document is whole.
    retried = answer.content == DATA and len(adapter.requests) == 2
    whole = len(adapter.requests) == 1 and json.loads(answer.content) == json.loads(DATA)
    ok = retried or whole
    reliability.record(
        FAMILY, f"ssb: 200 body cut at byte {cut}, then good", "correct" if ok else "data_lost"
    )
    assert ok


def test_a_200_body_shorter_than_its_content_length_is_retried(reliability):
    adapter = ScriptedAdapter(lambda request: (200, DATA))
    # Valid JSON on its own, but the server announced more bytes than it sent.
    adapter.script = [(200, b"{}", {"Content-Length": str(len(DATA))})]
    client, _ = client_on(adapter)
    answer = client.get(URL)
    ok = answer.content == DATA and len(adapter.requests) == 2
    reliability.record(
        FAMILY, "ssb: Content-Length larger than the body", "correct" if ok else "data_lost"
    )
    assert ok


@pytest.mark.parametrize(
    ("case", "script"),
    [
        ("short body, then closed", [("short", DATA[:500], len(DATA)), ("ok", DATA)]),
        ("connection reset mid-body", [("cut", DATA[:500], len(DATA)), ("ok", DATA)]),
        ("connection reset before the answer", [("reset",), ("ok", DATA)]),
        ("HTTP 429, then good", [("status", 429, b"slow down"), ("ok", DATA)]),
        ("HTTP 500, then good", [("status", 500, b"oops"), ("ok", DATA)]),
    ],
)
def test_real_sockets_faults_are_retried(case, script, reliability):
    with LocalServer(script) as server:
        client, _ = client_on(None, timeout=5.0)
        answer = client.get(f"{server.url}/data", check=expect_json)
    ok = answer.content == DATA and server.hits == 2
    reliability.record(FAMILY, f"local server: {case}", "correct" if ok else "data_lost")
    assert ok


def test_real_socket_read_timeout_ends_in_one_line(reliability):
    with LocalServer([("slow", 1.0, DATA)]) as server:
        client, _ = client_on(None, timeout=0.2, max_tries=2)
        with pytest.raises(GaveUpError) as info:
            client.get(f"{server.url}/data", check=expect_json)
    message = str(info.value)
    ok = "timeout" in message and "\n" not in message
    reliability.record(
        FAMILY, "local server: read timeout on every try", "clear_error" if ok else "traceback"
    )
    assert ok


# --------------------------------------------------------------------------------------------
# Through the command line


@pytest.fixture
def ssb_project(project, monkeypatch):
    """A project whose SSB client talks to a scripted adapter (see ``adapter``)."""
    adapter = ScriptedAdapter()
    client, _ = client_on(adapter, max_tries=3)
    monkeypatch.setattr("boso.sources.HttpClient", lambda *a, **k: client)
    return project, adapter


@pytest.mark.parametrize("name", ["ChunkedEncodingError", "IncompleteRead", "ConnectionResetError"])
def test_cli_fetch_with_a_connection_dropping_mid_body_is_one_line(ssb_project, name, reliability):
    project, adapter = ssb_project
    store = RawStore(project / "data" / "raw")
    store.write("ssb", "12008.json", DATA, url="earlier")
    before = tree_digest(project / "data")
    error = broken_body_errors()[name]
    adapter.handler = lambda request: (_ for _ in ()).throw(error)
    result = run_boso(["fetch", "--source", "ssb", "--table", "12008"], root=project)
    reliability.cli_error(FAMILY, f"boso fetch: {name} on every request", result, "12008")
    reliability.unchanged(FAMILY, f"boso fetch: {name}: data/ unchanged", before, project / "data")


# --------------------------------------------------------------------------------------------
# Real answer shapes


def _metadata_or(data_answer):  # noqa: ANN001, ANN202
    metadata = (HTTP_FIXTURES / "ssb_12008_metadata.json").read_bytes()

    def handler(request):  # noqa: ANN001, ANN202
        if "/metadata" in request.url:
            return (200, metadata)
        return data_answer(request)

    return handler


def test_html_404_for_a_long_get_url_is_resent_as_post(tmp_path, reliability):
    html = (HTTP_FIXTURES / "iis_404_url_too_long.html").read_bytes()

    def data(request):  # noqa: ANN001, ANN202
        if request.method == "GET":
            return (404, html, {"Content-Type": "text/html"})
        return (200, DATA)

    adapter = ScriptedAdapter(_metadata_or(data))
    client, _ = client_on(adapter)
    raw = ssb.fetch_table("12008", SELECTION, store=RawStore(tmp_path), client=client)
    methods = [m for m, url in adapter.requests if "/data?" in url]
    ok = raw.read_bytes() == DATA and methods == ["GET", "POST"]
    reliability.record(FAMILY, "ssb: HTML 404 to a GET data URL", "correct" if ok else "data_lost")
    assert ok, adapter.requests


def test_html_404_is_never_read_as_unknown_table(tmp_path, reliability):
    html = (HTTP_FIXTURES / "iis_404_url_too_long.html").read_bytes()
    adapter = ScriptedAdapter(_metadata_or(lambda request: (404, html)))
    client, _ = client_on(adapter)
    with pytest.raises(FetchError) as info:
        ssb.fetch_table("12008", SELECTION, store=RawStore(tmp_path), client=client)
    ok = not isinstance(info.value, QueryError) and "\n" not in str(info.value)
    ok = ok and "HTML" in str(info.value) and not (tmp_path / "ssb").exists()
    reliability.record(
        FAMILY, "ssb: HTML 404 to GET and POST", "clear_error" if ok else "data_lost"
    )
    assert ok, str(info.value)


def test_unknown_table_is_http_400_with_a_body_that_says_404(reliability):
    problem = (HTTP_FIXTURES / "ssb_v2_problem_unknown_table.json").read_bytes()
    adapter = ScriptedAdapter(lambda request: (400, problem))
    client, _ = client_on(adapter)
    with pytest.raises(QueryError) as info:
        ssb.get_metadata("99999", client)
    error = HttpStatusError("u", 400, problem.decode())
    title = json.loads(problem)["title"]
    ok = title in str(info.value) and error.not_found and error.body_status == 404
    reliability.record(
        FAMILY, "ssb: HTTP 400 problem body with status 404", "clear_error" if ok else "traceback"
    )
    assert ok, str(info.value)


def test_problem_body_title_is_the_message(reliability):
    problem = (HTTP_FIXTURES / "ssb_v2_problem_nonexistent_value.json").read_bytes()
    error = HttpStatusError(URL, 400, problem.decode())
    ok = json.loads(problem)["title"] in str(error) and not error.not_found and not error.html
    reliability.record(
        FAMILY, "ssb: problem body 'Non-existent value'", "clear_error" if ok else "traceback"
    )
    assert ok


def test_v0_answer_with_sparse_status_is_stored_and_read_with_its_symbols(tmp_path, reliability):
    from boso.jsonstat import read_jsonstat_codes_and_labels

    body = (HTTP_FIXTURES / "ssb_v0_12008_data_sparse_status.json").read_bytes()
    problem = (HTTP_FIXTURES / "ssb_v2_problem_unknown_table.json").read_bytes()

    def data(request):  # noqa: ANN001, ANN202
        if "/api/v0/" in request.url and request.method == "POST":
            return (200, body)
        return (404, problem)  # v2 data: "Non-existent table" -> v0

    adapter = ScriptedAdapter(_metadata_or(data))
    client, _ = client_on(adapter)
    selection = {**SELECTION, "KOKkommuneregion0000": ["0301", "3203", "0220"]}
    raw = ssb.fetch_table("12008", selection, store=RawStore(tmp_path), client=client)
    frame = read_jsonstat_codes_and_labels(raw.path)
    doc = json.loads(body)
    expected = {int(k): v for k, v in doc["status"].items()}
    statuses = {i: s for i, s in enumerate(frame["status"].astype(str)) if s not in ("", "nan")}
    values_missing = {i for i, v in enumerate(frame["value"]) if v is None or math.isnan(v)}
    ok = raw.provenance["query"]["api"] == "v0" and statuses == expected
    ok = ok and values_missing == set(expected)
    reliability.record(
        FAMILY, "ssb: v0 json-stat2 with sparse status", "correct" if ok else "data_lost"
    )
    assert ok, (statuses, expected)


def test_recorded_shapes_stay_out_of_the_store_when_wrong(tmp_path, reliability):
    """An HTML page or a problem body with HTTP 200 is never stored as a table."""
    store = RawStore(tmp_path)
    store.write("ssb", "12008.json", DATA, url="earlier")
    before = tree_digest(tmp_path)
    for case, body in {
        "HTML page with 200": (HTTP_FIXTURES / "iis_404_url_too_long.html").read_bytes(),
        "problem body with 200": (HTTP_FIXTURES / "ssb_v2_problem_unknown_table.json").read_bytes(),
    }.items():
        adapter = ScriptedAdapter(_metadata_or(lambda request, body=body: (200, body)))
        client, _ = client_on(adapter, max_tries=2)
        with pytest.raises(FetchError) as info:
            ssb.fetch_table("12008", SELECTION, store=store, client=client)
        ok = "\n" not in str(info.value)
        reliability.record(FAMILY, f"ssb: {case}", "clear_error" if ok else "traceback")
        assert ok
        reliability.unchanged(FAMILY, f"ssb: {case}: raw unchanged", before, tmp_path)


def test_fixture_shapes_match_the_recordings_readme():
    """The hand-written shape fixtures are listed where they are described."""
    readme = (HTTP_FIXTURES / "README.md").read_text("utf-8")
    for name in (
        "ssb_v2_problem_unknown_table.json",
        "iis_404_url_too_long.html",
        "ssb_v0_12008_data_sparse_status.json",
        "klass_131_codesAt_2026_shape.json",
    ):
        assert (HTTP_FIXTURES / name).is_file() and name in readme
    assert (
        Path(HTTP_FIXTURES / "iis_404_url_too_long.html")
        .read_text()
        .lstrip()
        .startswith("<!DOCTYPE html")
    )


# --------------------------------------------------------------------------------------------
# A new version that covers less than the stored one (the coverage-shrink rule of raw.py)


def _wider(dim: str, extra: str) -> bytes:
    """The fixture answer plus one category ``extra`` of ``dim``: what an earlier fetch held."""
    doc = json.loads(DATA)
    axis = doc["id"].index(dim)
    category = doc["dimension"][dim]["category"]
    category["index"][extra] = len(category["index"])
    category["label"][extra] = extra
    if "unit" in category:
        category["unit"][extra] = {"base": "boliger", "decimals": 0}
    sizes = doc["size"]
    old_values = doc["value"]
    new_sizes = [n + 1 if i == axis else n for i, n in enumerate(sizes)]
    values = []
    for position in itertools.product(*(range(n) for n in new_sizes)):
        if position[axis] == sizes[axis]:
            values.append(1.0)
            continue
        flat = 0
        for i, n in enumerate(sizes):
            flat = flat * n + position[i]
        values.append(old_values[flat])
    doc["size"], doc["value"], doc["status"] = new_sizes, values, {}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


SHRINKS = {
    "a kommune fewer": ("KOKkommuneregion0000", "3903", "3 → 2"),
    "a year fewer": ("Tid", "2022", "3 → 2"),
    "a series fewer": ("ContentsCode", "KOSboligtot0000", "2 → 1"),
}


@pytest.mark.parametrize("case", sorted(SHRINKS))
def test_fetched_table_covering_less_than_the_stored_one_is_refused(case, tmp_path, reliability):
    from boso.errors import BosoError

    dim, extra, counts = SHRINKS[case]
    store = RawStore(tmp_path)
    store.write("ssb", "12008.json", _wider(dim, extra), url="earlier")
    before = tree_digest(tmp_path)
    client, _ = client_on(ScriptedAdapter(_metadata_or(lambda request: (200, DATA))))
    with pytest.raises(BosoError) as info:
        ssb.fetch_table("12008", SELECTION, store=store, client=client)
    message = str(info.value)
    ok = "\n" not in message and all(m in message for m in ("12008", dim, counts, extra))
    reliability.record(FAMILY, f"ssb: new answer with {case}", "clear_error" if ok else "data_lost")
    assert ok, message
    reliability.unchanged(FAMILY, f"ssb: new answer with {case}: raw unchanged", before, tmp_path)


def test_fetched_table_covering_less_is_stored_with_force(tmp_path, reliability):
    store = RawStore(tmp_path, allow_shrink=True)
    old = _wider("KOKkommuneregion0000", "3903")
    store.write("ssb", "12008.json", old, url="earlier")
    client, _ = client_on(ScriptedAdapter(_metadata_or(lambda request: (200, DATA))))
    raw = ssb.fetch_table("12008", SELECTION, store=store, client=client)
    history = list((tmp_path / "ssb" / "_history").glob("12008.json.*"))
    kept = [p for p in history if not p.name.startswith("12008.json.provenance")]
    ok = raw.read_bytes() == DATA and [p.read_bytes() for p in kept] == [old]
    reliability.record(FAMILY, "ssb: shrunk answer with --force", "correct" if ok else "data_lost")
    assert ok


def test_fetched_table_covering_as_much_replaces_the_stored_one(tmp_path, reliability):
    """New values, a renumbered kommune: nothing lost, so no refusal."""
    store = RawStore(tmp_path)
    doc = json.loads(DATA)
    doc["value"] = [21.0, 20.4, None, 17.0]
    category = doc["dimension"]["KOKkommuneregion0000"]["category"]
    category["index"] = {"0301": 0, "0220": 1}
    category["label"] = {"0301": "Oslo", "0220": "Asker (-2019)"}
    store.write("ssb", "12008.json", json.dumps(doc).encode(), url="earlier")
    client, _ = client_on(ScriptedAdapter(_metadata_or(lambda request: (200, DATA))))
    raw = ssb.fetch_table("12008", SELECTION, store=store, client=client)
    ok = raw.read_bytes() == DATA
    reliability.record(FAMILY, "ssb: new values, same coverage", "correct" if ok else "data_lost")
    assert ok
