"""How a verb runs its stage: directly in this process, or as a flow run on a Prefect API.

Without a Prefect API (no PREFECT_API_URL in the environment and no `--prefect`) the verb calls
the stage code (`pipelines.*`) with a step runner (this process, or a Dask cluster with
`--runner dask`): no Prefect import, no server. With one, it runs the stage's flow (imported
only then) on that API, where it shows in the UI with its task runs and artifacts.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable
from typing import Any, TypeVar

from cli.progress import progress_listener
from pipelines.runners import step_runner
from pipelines.steps import DirectRunner, StepRunner

R = TypeVar("R")

API_URL_ENV = "PREFECT_API_URL"


def flow_at(target: str) -> Any:
    """The flow object at `module:attribute` (imported now, so `--help` never loads Prefect)."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def uses_prefect(args: argparse.Namespace) -> bool:
    """Whether this run is a flow run: `--prefect` / `--no-prefect`, else PREFECT_API_URL set."""
    choice = getattr(args, "prefect", None)
    return bool(os.environ.get(API_URL_ENV)) if choice is None else bool(choice)


def require_prefect_api() -> None:
    """With `--prefect`, refuse to run without a configured API: Prefect would otherwise start
    a temporary server of its own, which a killed run can leave behind."""
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ValueError(
            "--prefect needs a Prefect API: start `prefect server start` and set PREFECT_API_URL "
            "(or `prefect config set PREFECT_API_URL=...`); without --prefect the stage runs here"
        )


def run_flow(
    target: str, args: argparse.Namespace, *, pick_task_runner: bool = True, **parameters: Any
) -> Any:
    """Run the flow at `target` with `parameters`; with `pick_task_runner` on the task runner the
    global `--runner` / `--dask-address` options pick."""
    require_prefect_api()
    flow = flow_at(target)
    if pick_task_runner:
        from flows.runner import with_runner

        flow = with_runner(flow, args)
    return flow(**parameters)


def run_stage(
    args: argparse.Namespace,
    flow_target: str,
    direct: Callable[[StepRunner], R],
    *,
    pick_task_runner: bool = True,
    **flow_parameters: Any,
) -> R:
    """The stage's result: `direct(step runner)` here, or the flow at `flow_target` run with
    `flow_parameters` on the Prefect API. `pick_task_runner=False` for stages with no partition
    work (they run in this process whatever `--runner` says)."""
    if uses_prefect(args):
        return run_flow(flow_target, args, pick_task_runner=pick_task_runner, **flow_parameters)
    listener = progress_listener()
    if not pick_task_runner:
        return direct(DirectRunner(listener))
    with step_runner(args.runner, args.dask_address, listener=listener) as runner:
        return direct(runner)
