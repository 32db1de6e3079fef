"""How a stage runs its steps: directly (plain Python), or through an orchestrator.

A stage is a sequence of steps (read, compute, write), each a plain function. The stage calls
them through a `StepRunner`: `DirectRunner` calls them in this process; the flows pass a runner
that makes each step a Prefect task (tracked, retried by the policy `@step` gives it) and submits
partition work to the flow's task runner (threads or Dask workers).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

POLICY_ATTRIBUTE = "__reelloop_step_policy__"


@dataclass(frozen=True)
class StepPolicy:
    """How an orchestrator may retry a step: I/O steps are retried, pure ones never need it."""

    retries: int = 0
    retry_delay_seconds: tuple[float, ...] = ()


NO_RETRY = StepPolicy()
IO_RETRY = StepPolicy(retries=2, retry_delay_seconds=(1.0, 5.0))


def step(policy: StepPolicy = NO_RETRY) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a function as a stage step with its retry policy (the function itself is unchanged)."""

    def mark(function: Callable[P, R]) -> Callable[P, R]:
        setattr(function, POLICY_ATTRIBUTE, policy)
        return function

    return mark


def step_policy(function: Callable[..., Any]) -> StepPolicy:
    """The retry policy `@step` gave `function` (no retries when it was not marked)."""
    return getattr(function, POLICY_ATTRIBUTE, NO_RETRY)


class Pending(Protocol[R_co]):
    """A submitted step: `result()` waits for its value (or raises its error)."""

    def result(self) -> R_co: ...


@dataclass(frozen=True)
class Done:
    """A step that already ran: its value."""

    value: Any

    def result(self) -> Any:
        return self.value


ProgressListener = Callable[[str, int, int], object]
"""Hears a stage's long work advance: (what, done, total), e.g. ("ingest: files", 3, 8)."""


def no_progress(what: str, done: int, total: int) -> None:
    """The default listener: progress is not shown."""


class StepRunner(Protocol):
    """Runs a stage's steps; `distributed` says whether submitted steps run on other machines,
    `log` is where a stage reports what it did (the flow-run logger under Prefect), `progress`
    hears long work advance (a terminal progress bar in the command line)."""

    @property
    def distributed(self) -> bool: ...

    @property
    def log(self) -> logging.Logger | logging.LoggerAdapter: ...

    def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R: ...

    def submit(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Pending[R]: ...

    def progress(self, what: str, done: int, total: int) -> None: ...


class DirectRunner:
    """Calls every step in this process, in order (tests, benchmarks, notebooks, the fast CLI);
    `listener` hears progress (none by default)."""

    distributed = False
    log: logging.Logger | logging.LoggerAdapter = logging.getLogger("pipelines")

    def __init__(self, listener: ProgressListener = no_progress) -> None:
        self.listener = listener

    def progress(self, what: str, done: int, total: int) -> None:
        self.listener(what, done, total)

    def run(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return function(*args, **kwargs)

    def submit(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Pending[R]:
        return Done(function(*args, **kwargs))


DIRECT = DirectRunner()


def worker_address() -> str:
    """The Dask worker running this code, else host:pid (a step run in the caller's process)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"
