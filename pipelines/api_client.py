"""An HTTP client for a Prefect server's REST API that retries what the server asks to retry.

A Prefect server on SQLite answers 503 while its database is busy (another writer holds the
lock); Prefect's own client retries those, so plain HTTP callers must too, or a healthy but busy
server reads as a failing one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503})


@dataclass(frozen=True)
class ApiRetry:
    """How often, and how patiently, to repeat a request the server answered with 'try again'."""

    attempts: int = 6
    first_wait_seconds: float = 0.5
    max_wait_seconds: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if not 0 <= self.first_wait_seconds <= self.max_wait_seconds:
            raise ValueError("waits must satisfy 0 <= first_wait_seconds <= max_wait_seconds")

    def wait_seconds(self, retry: int, retry_after: float | None) -> float:
        """The pause before retry number `retry` (0-based): the server's Retry-After when it
        sends one, else an exponential back-off; never above max_wait_seconds."""
        wanted = retry_after if retry_after is not None else self.first_wait_seconds * 2**retry
        return min(max(wanted, 0.0), self.max_wait_seconds)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The response's Retry-After header in seconds (either form), or None without a usable one."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime.now(UTC)).total_seconds()


class RetryingTransport(httpx.BaseTransport):
    """Sends through `inner`, repeating a request answered 429, 502 or 503; the last answer is
    returned as it is once the attempts are used up."""

    def __init__(
        self,
        retry: ApiRetry,
        inner: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.retry = retry
        self.inner = inner if inner is not None else httpx.HTTPTransport()
        self.sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for retry in range(self.retry.attempts - 1):
            response = self.inner.handle_request(request)
            if response.status_code not in RETRY_STATUSES:
                return response
            wait = self.retry.wait_seconds(retry, retry_after_seconds(response))
            response.close()
            log.debug(
                "%s %s answered %d; retrying in %.2f s",
                request.method,
                request.url,
                response.status_code,
                wait,
            )
            self.sleep(wait)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def api_client(
    api_url: str,
    timeout_seconds: float,
    retry: ApiRetry | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client on `api_url` whose requests are retried per `retry` when the server is busy;
    `transport` replaces the network (tests)."""
    return httpx.Client(
        base_url=api_url.rstrip("/"),
        timeout=timeout_seconds,
        transport=RetryingTransport(retry or ApiRetry(), transport),
    )
