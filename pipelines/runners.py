"""Which runner runs a stage's steps without Prefect: this process, or a Dask cluster.

`--runner local|dask [--dask-address tcp://HOST:PORT]` (env REELLOOP_RUNNER,
REELLOOP_DASK_ADDRESS) picks it. Under Prefect the same choice picks the flow's task runner
(`flows.runner`); without Prefect, `DaskStepRunner` submits the same steps to the cluster
through `distributed.Client`. This module imports nothing heavy until a Dask runner is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from pipelines.steps import DirectRunner, Pending, ProgressListener, StepRunner, no_progress

P = ParamSpec("P")
R = TypeVar("R")

RUNNERS: tuple[str, ...] = ("local", "dask")
RUNNER_ENV = "REELLOOP_RUNNER"
DASK_ADDRESS_ENV = "REELLOOP_DASK_ADDRESS"


@dataclass(frozen=True)
class RunnerConfig:
    """Sizes of the runners: `None` threads lets Prefect pick; the temporary Dask cluster is small."""

    local_max_workers: int | None = None
    dask_workers: int = 2
    dask_threads_per_worker: int = 1
    dask_processes: bool = True


def runner_from_env() -> tuple[str, str | None]:
    """(runner, dask address) from REELLOOP_RUNNER / REELLOOP_DASK_ADDRESS (default local)."""
    return os.environ.get(RUNNER_ENV) or "local", os.environ.get(DASK_ADDRESS_ENV) or None


def check_runner(runner: str) -> None:
    """Refuse a runner name outside `RUNNERS` with a one-line error."""
    if runner not in RUNNERS:
        raise ValueError(f"unknown runner {runner!r}: choose one of {', '.join(RUNNERS)}")


class DaskStepRunner(DirectRunner):
    """Calls a stage's steps in this process and submits its partition work to a Dask cluster
    (the same steps the Prefect flows submit through prefect-dask)."""

    distributed = True

    def __init__(self, client: Any, listener: ProgressListener = no_progress) -> None:
        super().__init__(listener)
        self.client = client

    def submit(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Pending[R]:
        # pure=False: a step writes files, so two calls with equal arguments are two runs
        return self.client.submit(function, *args, pure=False, **kwargs)


@contextmanager
def dask_step_runner(
    address: str | None,
    config: RunnerConfig | None = None,
    listener: ProgressListener = no_progress,
) -> Iterator[DaskStepRunner]:
    """A `DaskStepRunner` on the cluster at `address`, or on a temporary `LocalCluster` of worker
    processes that lives for the block."""
    from distributed import Client, LocalCluster

    config = config or RunnerConfig()
    if address:
        with Client(address) as client:
            yield DaskStepRunner(client, listener)
        return
    with (
        LocalCluster(
            n_workers=config.dask_workers,
            threads_per_worker=config.dask_threads_per_worker,
            processes=config.dask_processes,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield DaskStepRunner(client, listener)


@contextmanager
def step_runner(
    runner: str,
    address: str | None = None,
    config: RunnerConfig | None = None,
    listener: ProgressListener = no_progress,
) -> Iterator[StepRunner]:
    """The step runner `--runner` names: in this process for local, a Dask one for dask."""
    check_runner(runner)
    if runner == "local":
        yield DirectRunner(listener)
        return
    with dask_step_runner(address, config, listener) as dask_runner:
        yield dask_runner
