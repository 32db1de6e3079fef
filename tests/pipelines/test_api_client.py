"""The Prefect API client repeats what a busy server answers 429/502/503, within its budget,
and nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from pipelines.api_client import ApiRetry, RetryingClient, api_client, retry_after_seconds
from tests.pipelines.local_http import local_http_server


class FakeTime:
    """A clock that moves only when slept on; records the waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


class RecordedBody(httpx.SyncByteStream):
    def __init__(self, closed: list[int], attempt: int) -> None:
        self.closed, self.attempt = closed, attempt

    def __iter__(self) -> Iterator[bytes]:
        yield b"{}"

    def close(self) -> None:
        self.closed.append(self.attempt)


def scripted(statuses: list[int], seen: list[httpx.Request], **headers: str) -> httpx.MockTransport:
    """A server answering each request with the next status of `statuses` (the last one repeats)."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses[min(len(seen), len(statuses)) - 1]
        return httpx.Response(status, json={"attempt": len(seen)}, headers=headers)

    return httpx.MockTransport(answer)


def client_on(transport: httpx.BaseTransport, retry: ApiRetry, time: FakeTime) -> RetryingClient:
    return RetryingClient(
        retry, sleep=time.sleep, clock=time.clock, base_url="http://api", transport=transport
    )


def test_a_busy_answer_is_retried_with_backoff_and_the_same_body() -> None:
    seen: list[httpx.Request] = []
    time = FakeTime()
    with client_on(scripted([503, 503, 201], seen), ApiRetry(), time) as client:
        response = client.post("/deployments/d1/create_flow_run", json={"k": "é"})
    assert response.status_code == 201 and response.json() == {"attempt": 3}
    assert time.waits == [0.5, 1.0]
    assert [json.loads(r.content) for r in seen] == [{"k": "é"}] * 3


class ReadsTheStream(httpx.BaseTransport):
    """Like the network transport, reads the request body from its stream (MockTransport
    reads the whole request first, which would hide a body that can be sent only once)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(b"".join(request.stream))
        return httpx.Response(503 if len(self.bodies) == 1 else 200)


def test_a_streamed_body_is_sent_whole_again() -> None:
    server = ReadsTheStream()
    with client_on(server, ApiRetry(), FakeTime()) as client:
        assert client.post("/x", content=iter([b"ab", b"cd"])).status_code == 200
    assert server.bodies == [b"abcd", b"abcd"]


def test_other_answers_are_returned_at_once() -> None:
    for status in (200, 404, 500):
        seen: list[httpx.Request] = []
        time = FakeTime()
        with client_on(scripted([status], seen), ApiRetry(), time) as client:
            assert client.get("/health").status_code == status
        assert (len(seen), time.waits) == (1, [])


def test_the_last_busy_answer_is_returned_when_the_attempts_run_out() -> None:
    seen: list[httpx.Request] = []
    time = FakeTime()
    retry = ApiRetry(attempts=4, first_wait_seconds=1.0, max_wait_seconds=3.0, budget_seconds=60)
    with client_on(scripted([429], seen), retry, time) as client:
        response = client.get("/flow_runs/r1")
    assert response.status_code == 429 and response.json() == {"attempt": 4}
    assert time.waits == [1.0, 2.0, 3.0]  # doubled, then capped


def test_the_retries_stop_where_the_budget_ends() -> None:
    seen: list[httpx.Request] = []
    time = FakeTime()
    retry = ApiRetry(attempts=10, first_wait_seconds=1.0, max_wait_seconds=4.0, budget_seconds=5.0)
    with client_on(scripted([503], seen), retry, time) as client:
        assert client.get("/health").status_code == 503
    assert (time.waits, len(seen)) == ([1.0, 2.0], 3)  # a third wait of 4 s would end at 7 s


def test_the_server_retry_after_is_honoured_or_ends_the_retries() -> None:
    for header, waits, attempts in (("2", [2.0], 2), ("-3", [0.0], 2), ("6", [], 1)):
        seen: list[httpx.Request] = []
        time = FakeTime()
        transport = scripted([502, 200], seen, **{"Retry-After": header})
        with client_on(transport, ApiRetry(), time) as client:
            client.get("/health")
        assert (time.waits, len(seen)) == (waits, attempts), header


def test_retry_after_is_read_in_both_forms() -> None:
    in_ten = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": "1.5"})) == 1.5
    assert 8.0 < retry_after_seconds(httpx.Response(503, headers={"Retry-After": in_ten})) <= 10.0
    for unusable in ("soon", "nan", "inf", "-inf", ""):
        assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": unusable})) is None
    assert retry_after_seconds(httpx.Response(503)) is None


def test_a_discarded_answer_is_closed_before_the_next_attempt() -> None:
    """Else each retry holds a pooled connection (a one-connection pool times out); the last
    answer is left to the caller."""
    closed: list[int] = []
    attempts: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        attempts.append(len(attempts) + 1)
        status = 503 if len(attempts) < 3 else 200
        return httpx.Response(status, stream=RecordedBody(closed, len(attempts)))

    with client_on(httpx.MockTransport(answer), ApiRetry(), FakeTime()) as client:
        response = client.send(client.build_request("GET", "/health"), stream=True)
        assert response.status_code == 200 and closed == [1, 2]
        response.close()
    assert closed == [1, 2, 3]


def test_a_retry_policy_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        ApiRetry(attempts=0)
    with pytest.raises(ValueError, match="waits"):
        ApiRetry(first_wait_seconds=10.0, max_wait_seconds=1.0)
    with pytest.raises(ValueError, match="waits"):
        ApiRetry(max_wait_seconds=30.0, budget_seconds=10.0)


def test_api_client_sends_to_the_api_base_with_its_policy() -> None:
    seen: list[httpx.Request] = []
    retry = ApiRetry(attempts=2, first_wait_seconds=0.0, max_wait_seconds=0.0, budget_seconds=1.0)
    with api_client("http://127.0.0.1:4200/api/", 3.0, retry, scripted([503], seen)) as client:
        assert client.get("/health").status_code == 503
        assert client.timeout.read == 3.0
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:4200/api/health"] * 2


def test_api_client_goes_through_the_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a plain httpx client does: doctor behind a corporate proxy still reaches the API."""

    def proxied(path: str) -> tuple[int, bytes]:
        return 200, json.dumps({"proxied": path}).encode()

    with local_http_server(proxied) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with api_client("http://prefect.invalid/api", 5.0) as client:
            response = client.get("/health")
    assert response.json() == {"proxied": "http://prefect.invalid/api/health"}
