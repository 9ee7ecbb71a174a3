"""KLASS: URLs, snapshot file names, stored as received, shape checks before writing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from test_sources_support import HTTP_FIXTURES, FakeAdapter, FakeClock, make_client, make_response

from boso.errors import FetchError, QueryError
from boso.raw import RawStore
from boso.sources import klass

BASE = "https://data.ssb.no/api/klass/v1/classifications/131"


def klass_server(request: requests.PreparedRequest) -> requests.Response:
    url = request.url or ""
    for marker, fixture in (
        ("/changes?", "klass_131_changes.json"),
        ("/codesAt?", "klass_131_codesAt.json"),
        ("/correspondsAt?", "klass_131_correspondsAt_112.json"),
    ):
        if url.startswith(BASE) and marker in url:
            return make_response(request, 200, (HTTP_FIXTURES / fixture).read_bytes())
    return make_response(request, 404, "not found")


def client_for(handler):  # noqa: ANN001, ANN201
    clock = FakeClock()
    adapter = FakeAdapter(handler, clock)
    return adapter, make_client(adapter, clock, max_tries=2)


def test_fetch_writes_the_snapshot_names_exactly_as_received(tmp_path: Path) -> None:
    adapter, client = client_for(klass_server)
    files = klass.fetch(RawStore(tmp_path), client)
    names = sorted(f.name for f in files)
    assert names == [
        "131_changes_2011-01-01_2024-01-01.json",
        "131_codesAt_2020-01-01.json",
        "131_codesAt_2024-01-01.json",
        "131_correspondsAt_112_2024-01-01.json",
    ]
    urls = [r.url for r in adapter.requests]
    assert f"{BASE}/changes?from=2011-01-01&to=2024-01-01" in urls
    assert f"{BASE}/codesAt?date=2024-01-01" in urls
    assert f"{BASE}/correspondsAt?targetClassificationId=112&date=2024-01-01" in urls
    changes = tmp_path / "klass" / "131_changes_2011-01-01_2024-01-01.json"
    assert changes.read_bytes() == (HTTP_FIXTURES / "klass_131_changes.json").read_bytes()
    prov = json.loads((changes.parent / (changes.name + ".provenance.json")).read_text())
    assert prov["url"] == f"{BASE}/changes?from=2011-01-01&to=2024-01-01"
    assert prov["query"] == {"classification": "131", "from": "2011-01-01", "to": "2024-01-01"}
    assert prov["synthetic"] is False
    assert all(r.method == "GET" for r in adapter.requests)


def test_accept_header_asks_for_json(tmp_path: Path) -> None:
    seen = []

    def handler(request):  # noqa: ANN001, ANN202
        seen.append(request.headers.get("Accept"))
        return klass_server(request)

    _, client = client_for(handler)
    klass.fetch_codes_at(RawStore(tmp_path), "2024-01-01", client)
    assert seen == ["application/json"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"codes": [{"code": "0301"', "ikke fullstendig JSON"),  # retried, then given up
        (b'{"codeChanges": []}', "'codes'-liste"),
        (b'{"codes": []}', "'codes' er tom"),
        (b'{"codes": [{"code": "0301"}]}', r"codes\[0\] mangler name"),
        (b"<html>error</html>", "ikke fullstendig JSON"),
    ],
)
def test_bad_answers_leave_the_good_file_untouched(tmp_path: Path, body: bytes, message) -> None:  # noqa: ANN001
    store = RawStore(tmp_path)
    _, good_client = client_for(klass_server)
    klass.fetch_codes_at(store, "2024-01-01", good_client)
    target = tmp_path / "klass" / "131_codesAt_2024-01-01.json"
    before = target.read_bytes()
    _, bad_client = client_for(lambda r: make_response(r, 200, body))
    with pytest.raises(FetchError, match=message):
        klass.fetch_codes_at(store, "2024-01-01", bad_client)
    assert target.read_bytes() == before
    assert not (tmp_path / "klass" / "_history").exists()


def test_check_klass_requires_change_fields() -> None:
    with pytest.raises(FetchError, match=r"codeChanges\[0\] mangler changeOccurred"):
        klass.check_klass(
            b'{"codeChanges": [{"oldCode": "1", "newCode": "2"}]}', "codeChanges", "x"
        )


def test_invalid_dates_and_404() -> None:
    _, client = client_for(klass_server)
    with pytest.raises(QueryError, match="ÅÅÅÅ-MM-DD"):
        klass.fetch_codes_at(RawStore("/nonexistent"), "1.1.2024", client)
    with pytest.raises(QueryError, match="ikke en gyldig dato"):
        klass.fetch_codes_at(RawStore("/nonexistent"), "2024-02-30", client)
    _, client = client_for(lambda r: make_response(r, 404, "no such classification"))
    with pytest.raises(QueryError, match="HTTP 404"):
        klass.fetch_changes(RawStore("/nonexistent"), "2020-01-01", "2024-01-01", client)


def test_server_errors_retry_then_give_up_naming_the_url(tmp_path: Path) -> None:
    adapter, client = client_for(lambda r: make_response(r, 503, "down"))
    with pytest.raises(FetchError, match=r"codesAt\?date=2024-01-01"):
        klass.fetch_codes_at(RawStore(tmp_path), "2024-01-01", client)
    assert len(adapter.requests) == 2
    assert not (tmp_path / "klass").exists()
