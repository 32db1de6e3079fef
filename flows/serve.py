"""`reelloop serve`: run every stage as a scheduled Prefect deployment from this process.

Needs a Prefect API (`PREFECT_API_URL`, e.g. a `prefect server start`). Each stage
flow becomes a deployment `<flow name>/<stage>` with an interval schedule; the
serving process starts each run in a subprocess. Writers take turns on the
warehouse through the writer lock (`flows.locking`); `--prefect-writer-limit` also
backs it with a Prefect global concurrency limit, created here when missing. Stage flows are
imported lazily from `SERVED_FLOWS`; one that is not importable is skipped with a
warning. For work pools, see `prefect.yaml` at the repository root.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from flows.locking import WRITER_LIMIT_ENV, WRITER_LIMIT_NAME, ensure_writer_limit
from flows.runner import DASK_ADDRESS_ENV, RUNNER_ENV, task_runner_for

log = logging.getLogger(__name__)

SERVED_FLOWS: tuple[tuple[str, str], ...] = (
    ("ingest", "flows.ingest:ingest_flow"),
    ("label", "flows.label:label_flow"),
    ("train", "flows.model:train_flow"),
    ("score", "flows.model:score_flow"),
    ("export", "flows.export:export_flow"),
    ("report", "flows.report:report_flow"),
)

# which serve path fills a flow parameter of that name: "*" for any stage, else per stage
PARAMETER_SOURCES: Mapping[str, Mapping[str, str]] = {
    "*": {"db_path": "db", "db": "db", "warehouse": "db"},
    "ingest": {
        "landing_dir": "landing",
        "landing": "landing",
        "landing_root": "landing",
        "root": "landing",
    },
    "export": {"out_dir": "export_dir", "export_dir": "export_dir", "output_dir": "export_dir"},
    "report": {"out_dir": "report_dir", "report_dir": "report_dir", "output_dir": "report_dir"},
}


@dataclass(frozen=True)
class ServeConfig:
    """The schedules: every stage runs every `<stage>_every_seconds`, shifted by its offset.

    Offsets order the stages: labels after the :00 ingest, scores after labels,
    the daily export an hour after train, the report `report_after_train_seconds` after train.
    """

    ingest_every_seconds: float = 300.0
    label_every_seconds: float = 3600.0
    train_every_seconds: float = 86400.0
    score_every_seconds: float = 3600.0
    export_every_seconds: float = 86400.0
    report_every_seconds: float = 86400.0
    ingest_offset_seconds: float = 0.0
    label_offset_seconds: float = 600.0
    score_offset_seconds: float = 1200.0
    train_offset_seconds: float = 7200.0
    export_offset_seconds: float = 10800.0
    report_after_train_seconds: float = 1800.0
    anchor: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    writer_limit: str = WRITER_LIMIT_NAME
    use_writer_limit: bool = False
    max_concurrent_runs: int | None = None

    def every_seconds(self, stage: str) -> float:
        return float(getattr(self, f"{stage}_every_seconds"))

    def offset_seconds(self, stage: str) -> float:
        if stage == "report":
            return self.train_offset_seconds + self.report_after_train_seconds
        return float(getattr(self, f"{stage}_offset_seconds"))


@dataclass(frozen=True)
class ServePaths:
    """Where the served flows read and write (absolute, as runs start in subprocesses)."""

    db: str
    landing: str
    export_dir: str
    report_dir: str

    @classmethod
    def resolve(
        cls,
        db: str,
        landing: str | None = None,
        export_dir: str | None = None,
        report_dir: str | None = None,
    ) -> ServePaths:
        """Absolute paths; unset folders default to `landing/`, `export/`, `report/` beside the db."""
        db_path = Path(db).resolve()
        base = db_path.parent
        return cls(
            db=str(db_path),
            landing=str(Path(landing).resolve() if landing else base / "landing"),
            export_dir=str(Path(export_dir).resolve() if export_dir else base / "export"),
            report_dir=str(Path(report_dir).resolve() if report_dir else base / "report"),
        )


def load_flow(target: str) -> Any:
    """The flow object at `module:attribute`."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def served_flows(
    table: Iterable[tuple[str, str]] = SERVED_FLOWS, only: Iterable[str] | None = None
) -> list[tuple[str, Any]]:
    """(stage, flow) for every importable entry of `table` (restricted to `only`); warns on the rest."""
    wanted = set(only) if only else None
    known = {stage for stage, _ in table}
    if wanted and wanted - known:
        raise ValueError(
            f"unknown stage(s) {', '.join(sorted(wanted - known))}: choose from {', '.join(sorted(known))}"
        )
    loaded = []
    for stage, target in table:
        if wanted is not None and stage not in wanted:
            continue
        try:
            loaded.append((stage, load_flow(target)))
        except (ImportError, AttributeError) as exc:
            log.warning("not serving %s: %s is not importable (%s)", stage, target, exc)
    return loaded


def deployment_parameters(stage: str, flow: Any, paths: ServePaths) -> dict[str, str]:
    """The path parameters of `flow` that serve fills; raises if a required one has no source."""
    sources = {**PARAMETER_SOURCES["*"], **PARAMETER_SOURCES.get(stage, {})}
    values = {f.name: getattr(paths, f.name) for f in fields(paths)}
    parameters: dict[str, str] = {}
    for name, parameter in inspect.signature(flow.fn).parameters.items():
        if name in sources:
            parameters[name] = values[sources[name]]
        elif parameter.default is inspect.Parameter.empty:
            raise ValueError(f"flow {flow.name} needs parameter {name!r}, which serve cannot fill")
    return parameters


def build_deployments(
    config: ServeConfig,
    paths: ServePaths,
    *,
    runner: str = "local",
    dask_address: str | None = None,
    only: Iterable[str] | None = None,
    table: Iterable[tuple[str, str]] = SERVED_FLOWS,
) -> list[Any]:
    """One deployment per importable stage flow, named after the stage, on its interval schedule."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Interval

    deployments = []
    for stage, flow in served_flows(table, only):
        try:
            parameters = deployment_parameters(stage, flow, paths)
            deployment = flow.with_options(
                task_runner=task_runner_for(runner, dask_address)
            ).to_deployment(
                name=stage,
                schedules=[
                    Interval(
                        timedelta(seconds=config.every_seconds(stage)),
                        anchor_date=config.anchor + timedelta(seconds=config.offset_seconds(stage)),
                        timezone="UTC",
                    )
                ],
                parameters=parameters,
                description=f"reelloop {stage}, every {config.every_seconds(stage):g} s",
                tags=["reelloop", stage],
                # load the flow as a module (flows.ingest), not as a script: a script's folder goes on
                # sys.path, where flows/report.py would shadow the report package
                entrypoint_type=EntrypointType.MODULE_PATH,
            )
        except Exception as exc:  # one broken stage must not stop the others being served
            log.warning("not serving %s: %s", stage, str(exc).splitlines()[0] if str(exc) else exc)
            continue
        deployments.append(deployment)
    return deployments


def _check_api() -> None:
    """Fail early and clearly when the Prefect API does not answer."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
    if error is not None:
        raise httpx.ConnectError(str(error) or type(error).__name__)


def serve_stages(
    config: ServeConfig,
    paths: ServePaths,
    *,
    runner: str = "local",
    dask_address: str | None = None,
    only: Iterable[str] | None = None,
) -> None:
    """Serve the stage flows as scheduled deployments; blocks, running scheduled and triggered
    runs, until interrupted."""
    from prefect import serve
    from prefect.settings import PREFECT_API_URL

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per API request otherwise
    deployments = build_deployments(
        config, paths, runner=runner, dask_address=dask_address, only=only
    )
    if not deployments:
        raise ValueError("no stage flow is importable: nothing to serve")
    api_url = PREFECT_API_URL.value()
    if not api_url:
        log.warning(
            "PREFECT_API_URL is not set: serving against a temporary local API that ends with "
            "this process; start `prefect server start` and set PREFECT_API_URL to keep run history"
        )
    try:
        if config.use_writer_limit:
            ensure_writer_limit(config.writer_limit)
        else:
            _check_api()
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot reach the Prefect API at {api_url}: {exc}") from exc
    # the runs start in subprocesses of this one: they inherit these
    if config.use_writer_limit:
        os.environ[WRITER_LIMIT_ENV] = config.writer_limit
    else:
        os.environ.pop(WRITER_LIMIT_ENV, None)
    os.environ[RUNNER_ENV] = runner
    if dask_address:
        os.environ[DASK_ADDRESS_ENV] = dask_address
    log.info(
        "serving %s on %s (db %s, landing %s)",
        ", ".join(d.name for d in deployments),
        api_url or "a temporary local API",
        paths.db,
        paths.landing,
    )
    serve(*deployments, limit=config.max_concurrent_runs)
