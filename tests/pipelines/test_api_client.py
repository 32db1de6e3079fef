"""The Prefect API client repeats what a busy server answers 429/502/503, and nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from pipelines.api_client import ApiRetry, RetryingTransport, api_client, retry_after_seconds


def scripted(statuses: list[int], seen: list[httpx.Request], **headers: str) -> httpx.MockTransport:
    """A server answering each request with the next status of `statuses` (the last one repeats)."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses[min(len(seen), len(statuses)) - 1]
        return httpx.Response(status, json={"attempt": len(seen)}, headers=headers)

    return httpx.MockTransport(answer)


def test_a_busy_answer_is_retried_with_backoff_and_the_same_body() -> None:
    seen: list[httpx.Request] = []
    waits: list[float] = []
    transport = RetryingTransport(ApiRetry(), scripted([503, 503, 201], seen), sleep=waits.append)
    with httpx.Client(base_url="http://api", transport=transport) as client:
        response = client.post("/deployments/d1/create_flow_run", json={"k": 1})
    assert response.status_code == 201 and response.json() == {"attempt": 3}
    assert waits == [0.5, 1.0]
    assert [json.loads(r.content) for r in seen] == [{"k": 1}] * 3


def test_other_answers_are_returned_at_once() -> None:
    for status in (200, 404, 500):
        seen: list[httpx.Request] = []
        waits: list[float] = []
        transport = RetryingTransport(ApiRetry(), scripted([status], seen), sleep=waits.append)
        with httpx.Client(base_url="http://api", transport=transport) as client:
            assert client.get("/health").status_code == status
        assert (len(seen), waits) == (1, [])


def test_the_last_busy_answer_is_returned_when_the_attempts_run_out() -> None:
    seen: list[httpx.Request] = []
    waits: list[float] = []
    retry = ApiRetry(attempts=4, first_wait_seconds=1.0, max_wait_seconds=3.0)
    transport = RetryingTransport(retry, scripted([429], seen), sleep=waits.append)
    with httpx.Client(base_url="http://api", transport=transport) as client:
        response = client.get("/flow_runs/r1")
    assert response.status_code == 429 and response.json() == {"attempt": 4}
    assert waits == [1.0, 2.0, 3.0]  # doubled, then capped


def test_the_server_retry_after_is_honoured_up_to_the_cap() -> None:
    seen: list[httpx.Request] = []
    waits: list[float] = []
    retry = ApiRetry(attempts=2, max_wait_seconds=5.0)
    transport = RetryingTransport(retry, scripted([502, 200], seen, **{"Retry-After": "2"}), sleep=waits.append)  # fmt: skip
    with httpx.Client(base_url="http://api", transport=transport) as client:
        assert client.get("/health").status_code == 200
    assert waits == [2.0]
    assert retry.wait_seconds(0, 60.0) == 5.0 and retry.wait_seconds(0, -3.0) == 0.0


def test_retry_after_is_read_in_both_forms() -> None:
    in_ten = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": "1.5"})) == 1.5
    assert 8.0 < retry_after_seconds(httpx.Response(503, headers={"Retry-After": in_ten})) <= 10.0
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Response(503)) is None


def test_a_retry_policy_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        ApiRetry(attempts=0)
    with pytest.raises(ValueError, match="waits"):
        ApiRetry(first_wait_seconds=10.0, max_wait_seconds=1.0)


def test_api_client_sends_to_the_api_base_through_the_retries() -> None:
    seen: list[httpx.Request] = []
    retry = ApiRetry(first_wait_seconds=0.0)
    with api_client("http://127.0.0.1:4200/api/", 3.0, retry, scripted([503, 200], seen)) as client:
        assert client.get("/health").status_code == 200
        assert client.timeout.read == 3.0
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:4200/api/health"] * 2
