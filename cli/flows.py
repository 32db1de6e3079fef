"""How a verb runs its stage: the stage's Prefect flow, imported only when the verb runs."""

from __future__ import annotations

import argparse
import importlib
from typing import Any


def flow_at(target: str) -> Any:
    """The flow object at `module:attribute` (imported now, so `--help` never loads Prefect)."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def run_flow(
    target: str, args: argparse.Namespace, *, pick_task_runner: bool = True, **parameters: Any
) -> Any:
    """Run the flow at `target` with `parameters`; with `pick_task_runner` on the task runner the
    global `--runner` / `--dask-address` options pick."""
    flow = flow_at(target)
    if pick_task_runner:
        from flows.runner import with_runner

        flow = with_runner(flow, args)
    return flow(**parameters)
