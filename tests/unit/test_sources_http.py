"""HttpClient and RateLimiter: sliding-window limit, retries, Retry-After, give-up."""

from __future__ import annotations

import pytest
import requests
from test_sources_support import FakeAdapter, FakeClock, make_client, make_response

from boso.errors import FetchError
from boso.sources.http import (
    GaveUpError,
    HttpStatusError,
    RateLimiter,
    parse_retry_after,
)

URL = "https://data.ssb.no/api/pxwebapi/v2/tables/12008/metadata?lang=no"


def ok(request: requests.PreparedRequest) -> requests.Response:
    return make_response(request, 200, {"ok": True})


def test_limiter_lets_30_through_then_the_31st_waits_for_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 60.0, clock=clock, sleep=clock.sleep)
    for _ in range(30):
        assert limiter.acquire() == 0.0
    assert clock.now == 0.0
    waited = limiter.acquire()
    assert waited == pytest.approx(60.0)
    assert clock.now == pytest.approx(60.0)


def test_limiter_window_slides() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 60.0, clock=clock, sleep=clock.sleep)
    for _ in range(30):
        limiter.acquire()
        clock.now += 1.0  # one request per second: t = 0 .. 29
    assert clock.now == 30.0
    limiter.acquire()  # the 31st must wait until the first leaves the window at t = 60
    assert clock.now == pytest.approx(60.0)
    limiter.acquire()  # the second one left at t = 61
    assert clock.now == pytest.approx(61.0)


def test_client_31st_request_is_sent_only_after_60_seconds() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(ok, clock)
    client = make_client(adapter, clock)
    for _ in range(31):
        client.get(URL)
    times = [r.at for r in adapter.requests]
    assert times[:30] == [0.0] * 30
    assert times[30] == pytest.approx(60.0)
    # Never more than 30 starts in any 60-second window.
    for i in range(len(times)):
        assert sum(1 for t in times if times[i] <= t < times[i] + 60) <= 30


def test_retries_429_503_timeout_then_succeeds_honouring_retry_after() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(ok, clock)
    adapter.script = [
        (429, "slow down", {"Retry-After": "7"}),
        503,
        requests.ConnectTimeout("timed out"),
        requests.ConnectionError("reset"),
    ]
    client = make_client(adapter, clock, backoff=1.0, max_tries=5)
    response = client.get(URL)
    assert response.status_code == 200
    assert len(adapter.requests) == 5
    # Retry-After 7 s, then exponential backoff 2, 4, 8 s.
    assert clock.sleeps == [7.0, 2.0, 4.0, 8.0]


def test_gives_up_after_bounded_tries_naming_the_url() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(lambda r: make_response(r, 503, "unavailable"), clock)
    client = make_client(adapter, clock, max_tries=3)
    with pytest.raises(GaveUpError) as info:
        client.get(URL)
    assert isinstance(info.value, FetchError)
    assert URL in str(info.value)
    assert "3 forsøk" in str(info.value)
    assert len(adapter.requests) == 3


def test_timeouts_every_time_give_up_as_fetch_error() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(None, clock)
    adapter.script = [requests.ReadTimeout("slow")] * 4
    client = make_client(adapter, clock, max_tries=4)
    with pytest.raises(FetchError, match="timeout"):
        client.get(URL)
    assert len(adapter.requests) == 4


def test_client_errors_are_not_retried() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(lambda r: make_response(r, 404, "Table not found"), clock)
    client = make_client(adapter, clock)
    with pytest.raises(HttpStatusError) as info:
        client.get(URL)
    assert info.value.status == 404
    assert URL in str(info.value)
    assert len(adapter.requests) == 1
    assert clock.sleeps == []


def test_retry_after_is_capped() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(ok, clock)
    adapter.script = [(429, "", {"Retry-After": "100000"})]
    client = make_client(adapter, clock, max_backoff=30.0)
    client.get(URL)
    assert clock.sleeps == [30.0]


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    # HTTP date 30 s after "now".
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now=0.0) == pytest.approx(30.0)


def test_unreachable_host_is_flagged_and_the_cause_kept_short() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(None, clock)
    reason = (
        "HTTPSConnectionPool(host='data.ssb.no', port=443): Max retries exceeded with url: /x "
        "(Caused by NameResolutionError(\"Failed to resolve 'data.ssb.no'\"))"
    )
    adapter.script = [requests.ConnectionError(reason)] * 3
    client = make_client(adapter, clock, max_tries=3)
    with pytest.raises(GaveUpError) as info:
        client.get(URL)
    assert info.value.unreachable is True
    assert "NameResolutionError" in str(info.value) and "HTTPSConnectionPool" not in str(info.value)
    adapter.script = [requests.ConnectionError("reset"), 503, 503]
    with pytest.raises(GaveUpError) as info:
        client.get(URL)
    assert info.value.unreachable is False


def test_default_clients_share_one_ssb_limiter() -> None:
    from boso.sources.http import HttpClient, ssb_limiter

    a, b = HttpClient(), HttpClient()
    assert a.limiter is b.limiter is ssb_limiter()
    assert (a.limiter.max_requests, a.limiter.period) == (30, 60.0)


def test_problem_body_status_and_html_pages_are_told_apart() -> None:
    unknown = HttpStatusError(
        URL, 400, '{"type":"Parameter error","title":"Non-existent table","status":404}'
    )
    assert unknown.not_found and unknown.body_status == 404 and "Non-existent table" in str(unknown)
    value = HttpStatusError(
        URL, 400, '{"type":"Parameter error","title":"Non-existent value","status":400}'
    )
    assert not value.not_found
    page = HttpStatusError(
        URL, 404, "<!DOCTYPE html>\n<html><head><title>404 - File or directory not found.</title>"
    )
    assert page.html and not page.not_found and "\n" not in str(page)


def test_short_body_is_retried_and_then_given_up() -> None:
    clock = FakeClock()
    adapter = FakeAdapter(lambda r: make_response(r, 200, b"{}", {"Content-Length": "99"}), clock)
    client = make_client(adapter, clock, max_tries=2)
    with pytest.raises(GaveUpError, match="fikk 2 av 99 byte"):
        client.get(URL)
    assert len(adapter.requests) == 2
