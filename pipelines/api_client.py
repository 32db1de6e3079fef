"""An HTTP client for a Prefect server's REST API that retries what a busy server asks to retry.

A Prefect server on SQLite answers 503 while its database is locked by another writer (the
request's transaction was rolled back), so the same request can be sent again; Prefect's own
client retries those, and plain HTTP callers must too, or a healthy but busy server reads as a
failing one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503})


@dataclass(frozen=True)
class ApiRetry:
    """How often, and how patiently, a request answered 'try again' is sent again.

    The waits double from `first_wait_seconds` up to `max_wait_seconds`; a server asking (by
    Retry-After) for a longer wait than that, or a wait that would end more than `budget_seconds`
    after the first attempt was sent, ends the retries at once with the server's answer."""

    attempts: int = 4
    first_wait_seconds: float = 0.5
    max_wait_seconds: float = 4.0
    budget_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if not 0 <= self.first_wait_seconds <= self.max_wait_seconds <= self.budget_seconds:
            raise ValueError(
                "waits must satisfy 0 <= first_wait_seconds <= max_wait_seconds <= budget_seconds"
            )

    def wait_seconds(self, retry: int, retry_after: float | None) -> float | None:
        """The pause before retry number `retry` (0-based): the server's Retry-After when it
        sends one, else the back-off; None when the server asks for more than max_wait_seconds."""
        if retry_after is not None:
            return max(retry_after, 0.0) if retry_after <= self.max_wait_seconds else None
        return min(self.first_wait_seconds * 2**retry, self.max_wait_seconds)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The response's Retry-After in seconds (either form), or None without a usable one."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime.now(UTC)).total_seconds()


class RetryingClient(httpx.Client):
    """An httpx client that sends a request answered 429, 502 or 503 again, per `retry`; once
    the retries end, the last answer is returned as it is (raise_for_status reports it)."""

    def __init__(
        self,
        retry: ApiRetry,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        **client: Any,
    ) -> None:
        super().__init__(**client)
        self.retry = retry
        self.sleep = sleep
        self.clock = clock

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        request.read()  # a body sent once can be sent again
        deadline = self.clock() + self.retry.budget_seconds
        response = super().send(request, **kwargs)
        attempt = 1
        while response.status_code in RETRY_STATUSES and attempt < self.retry.attempts:
            wait = self.retry.wait_seconds(attempt - 1, retry_after_seconds(response))
            if wait is None or self.clock() + wait > deadline:
                break
            response.read()  # read to the end and closed: its connection goes back to the pool
            log.debug(
                "%s %s answered %d (attempt %d); retrying in %.2f s",
                request.method,
                request.url,
                response.status_code,
                attempt,
                wait,
            )
            self.sleep(wait)
            response = super().send(request, **kwargs)
            attempt += 1
        return response


def api_client(
    api_url: str,
    timeout_seconds: float,
    retry: ApiRetry | None = None,
    transport: httpx.BaseTransport | None = None,
) -> RetryingClient:
    """A client on `api_url` (proxies from the environment, as httpx does) whose requests are
    retried per `retry` while the server is busy; `transport` replaces the network (tests)."""
    return RetryingClient(
        retry or ApiRetry(),
        base_url=api_url.rstrip("/"),
        timeout=timeout_seconds,
        transport=transport,
    )
