"""Which Prefect task runner the flows use: threads on this machine, or a Dask cluster.

`reelloop --runner local|dask [--dask-address tcp://HOST:PORT] VERB` (env
REELLOOP_RUNNER, REELLOOP_DASK_ADDRESS). With `dask` and no address a temporary
`distributed.LocalCluster` of worker processes lives for the duration of the flow run.
The same flow code runs both ways.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from prefect.context import FlowRunContext
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import ThreadPoolTaskRunner

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


def task_runner_for(
    runner: str, dask_address: str | None = None, *, config: RunnerConfig | None = None
) -> Any:
    """A Prefect task runner: ThreadPoolTaskRunner for `local`, prefect-dask's DaskTaskRunner for `dask`."""
    config = config or RunnerConfig()
    if runner == "local":
        return ThreadPoolTaskRunner(max_workers=config.local_max_workers)
    if runner == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": config.dask_workers,
                "threads_per_worker": config.dask_threads_per_worker,
                "processes": config.dask_processes,
            },
        )
    raise ValueError(f"unknown runner {runner!r}: choose one of {', '.join(RUNNERS)}")


def runner_from_env() -> tuple[str, str | None]:
    """(runner, dask address) from REELLOOP_RUNNER / REELLOOP_DASK_ADDRESS (default local)."""
    return os.environ.get(RUNNER_ENV) or "local", os.environ.get(DASK_ADDRESS_ENV) or None


def default_task_runner() -> Any:
    """The task runner the environment asks for: use as `@flow(task_runner=default_task_runner())`."""
    return task_runner_for(*runner_from_env())


def run_task(step: Any, *args: Any) -> Any:
    """Call a Prefect task (inside a flow run: tracked, retried)."""
    return step(*args)


def run_plain(step: Any, *args: Any) -> Any:
    """Call the function behind a Prefect task, without Prefect (tests, crash drills, notebooks)."""
    return step.fn(*args)


def with_runner(flow: Any, args: argparse.Namespace) -> Any:
    """`flow` with the task runner picked by the global `--runner` / `--dask-address` options."""
    runner = getattr(args, "runner", None) or runner_from_env()[0]
    address = getattr(args, "dask_address", None) or runner_from_env()[1]
    return flow.with_options(task_runner=task_runner_for(runner, address))


def add_runner_options(parser: argparse.ArgumentParser) -> None:
    """The global `--runner` and `--dask-address` options (defaults from the environment)."""
    runner, address = runner_from_env()
    parser.add_argument(
        "--runner",
        choices=RUNNERS,
        default=runner,
        help=f"task runner: threads on this machine, or a Dask cluster (env {RUNNER_ENV}; default local)",
    )
    parser.add_argument(
        "--dask-address",
        default=address,
        metavar="tcp://HOST:PORT",
        help=(
            f"scheduler of a running Dask cluster for --runner dask (env {DASK_ADDRESS_ENV}); "
            "without it a temporary local cluster of 2 worker processes is started"
        ),
    )


def tasks_run_on_dask() -> bool:
    """Whether the current flow run's task runner is prefect-dask's DaskTaskRunner."""
    context = FlowRunContext.get()
    dask_module = sys.modules.get("prefect_dask")  # imported whenever a DaskTaskRunner exists
    return (
        context is not None
        and dask_module is not None
        and isinstance(context.task_runner, dask_module.DaskTaskRunner)
    )


def worker_address() -> str:
    """The Dask worker running this task, else host:pid (a task run in the flow's process)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def workers_report_here() -> AbstractContextManager[object]:
    """Around a `.submit`: tasks on Dask workers report to the API this flow run uses. Without a
    configured PREFECT_API_URL each worker process would start a temporary server of its own
    (measured: 31 s instead of 14 s for 16 files on a temporary LocalCluster) and the run's
    task runs would not be recorded with it."""
    context = FlowRunContext.get()
    if PREFECT_API_URL.value() or context is None or context.client is None:
        return nullcontext()
    return temporary_settings({PREFECT_API_URL: str(context.client.api_url)})
