"""`reelloop doctor`: installed versions against the pins, the Prefect API, the warehouse.

Each check turns facts into findings (ok / warn / fail). Nothing here changes anything: the
Prefect API is only read (plain HTTP, no Prefect import) and the warehouse is read through its
snapshot, so a check never makes a running flow wait.
"""

from __future__ import annotations

import importlib.metadata as metadata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from packaging.requirements import InvalidRequirement, Requirement

from pipelines.api_client import ApiRetry, api_client
from results.doctor import FAIL, OK, WARN, DoctorReport, Finding
from warehouse.health import WarehouseFacts, warehouse_facts

DISTRIBUTION = "reelloop"
CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"
BAD_RUN_STATES = frozenset({"FAILED", "CRASHED"})
FINISHED_STATES = BAD_RUN_STATES | {"COMPLETED", "CANCELLED"}


@dataclass(frozen=True)
class DoctorConfig:
    """How long the API may take to answer, how a busy API is retried, and when a snapshot
    counts as old."""

    api_timeout_seconds: float = 5.0
    api_retry: ApiRetry = ApiRetry()
    snapshot_stale_after: timedelta = timedelta(days=1)
    constraints_path: Path = CONSTRAINTS


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def requirement_findings(requirements: Iterable[str]) -> list[Finding]:
    """A problem per declared dependency that is missing or outside its bounds."""
    findings = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an optional (extra) dependency
        version = installed_version(requirement.name)
        if version is None:
            findings.append(
                Finding("versions", FAIL, f"{requirement.name} is not installed ({requirement})")
            )
        elif not requirement.specifier.contains(version, prereleases=True):
            findings.append(
                Finding("versions", FAIL, f"{requirement.name} {version} is installed, reelloop needs {requirement}")
            )  # fmt: skip
    return findings


def pin_findings(constraints: Path) -> list[Finding]:
    """One warning naming the installed versions that differ from constraints.txt (when present)."""
    if not constraints.is_file():
        return []
    differing = []
    for line in constraints.read_text(encoding="utf-8").splitlines():
        name, _, pinned = line.split("#")[0].strip().partition("==")
        installed = installed_version(name) if name and pinned else None
        if installed is not None and installed != pinned:
            differing.append(f"{name} {installed} (pinned {pinned})")
    if not differing:
        return [Finding("versions", OK, f"installed versions match {constraints.name}")]
    return [
        Finding(
            "versions",
            WARN,
            f"{len(differing)} differ from {constraints.name}: {', '.join(differing)}",
        )
    ]


def version_findings(config: DoctorConfig) -> list[Finding]:
    """Declared dependencies within their bounds (problems) and the pins of constraints.txt."""
    declared = metadata.requires(DISTRIBUTION) or []
    problems = requirement_findings(declared)
    return problems + pin_findings(config.constraints_path)


def api_post(client: httpx.Client, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(path, json=body)
    response.raise_for_status()
    return response.json()


def deployment_findings(client: httpx.Client, deployment: dict[str, Any]) -> list[Finding]:
    """Whether a deployment's schedules are active, and the state of its last finished run."""
    name = deployment["name"]
    active = [s for s in deployment.get("schedules", []) if s.get("active", True)]
    findings = []
    if deployment.get("paused") or not active:
        findings.append(
            Finding("prefect", WARN, f"deployment {name}: no active schedule (paused or none)")
        )
    runs = api_post(client, "/flow_runs/filter", {
        "flow_runs": {"deployment_id": {"any_": [deployment["id"]]},
                      "state": {"type": {"any_": sorted(FINISHED_STATES)}}},
        "sort": "EXPECTED_START_TIME_DESC", "limit": 1,
    })  # fmt: skip
    if not runs:
        findings.append(Finding("prefect", WARN, f"deployment {name}: no finished run yet"))
        return findings
    state = runs[0].get("state") or {}
    level = FAIL if state.get("type") in BAD_RUN_STATES else OK
    when = runs[0].get("start_time") or runs[0].get("expected_start_time")
    findings.append(
        Finding("prefect", level, f"deployment {name}: last run {state.get('name')} ({when})")
    )
    return findings


def prefect_findings(
    api_url: str | None, config: DoctorConfig, transport: httpx.BaseTransport | None = None
) -> list[Finding]:
    """The API answers, its deployments have active schedules, last runs did not fail, none late.
    `transport` replaces the network (tests)."""
    if not api_url:
        return [Finding("prefect", OK, "no Prefect API configured: verbs run here, directly; for "
                        "schedules start `prefect server start`, set PREFECT_API_URL, run `reelloop serve`")]  # fmt: skip
    try:
        with api_client(api_url, config.api_timeout_seconds, config.api_retry, transport) as client:
            client.get("/health").raise_for_status()
            findings = [Finding("prefect", OK, f"API {api_url} answers")]
            deployments = api_post(client, "/deployments/filter", {"limit": 200})
            if not deployments:
                return [*findings, Finding("prefect", WARN, "no deployments: run `reelloop serve`")]
            for deployment in deployments:
                findings += deployment_findings(client, deployment)
            late = api_post(client, "/flow_runs/filter", {"flow_runs": {"state": {"name": {"any_": ["Late"]}}}, "limit": 200})  # fmt: skip
            if late:
                findings.append(Finding("prefect", WARN, f"{len(late)} late run(s): is `reelloop serve` (or a worker) running?"))  # fmt: skip
            return findings
    except (httpx.HTTPError, ValueError) as exc:
        return [Finding("prefect", FAIL, f"API {api_url} unreachable or failing: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")]  # fmt: skip


def age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0.0, (now - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


def warehouse_findings(facts: WarehouseFacts, now: datetime, config: DoctorConfig) -> list[Finding]:
    """The file is DuckDB, its schema current, its snapshot published, fresh and current."""
    where = str(facts.path)
    if not facts.exists and facts.path.is_dir():
        return [Finding("warehouse", FAIL, f"{where} is a folder, not a DuckDB database file (check --db)")]  # fmt: skip
    if not facts.exists:
        return [Finding("warehouse", WARN, f"no warehouse at {where} yet: run `reelloop ingest`")]
    if not facts.is_duckdb:
        return [Finding("warehouse", FAIL, f"{where} is not a DuckDB database file (check --db)")]
    findings = [Finding("warehouse", OK, f"writer lock held by {facts.lock_holder}" if facts.lock_holder else "writer lock free")]  # fmt: skip
    if facts.opened_by:
        findings.append(Finding("warehouse", FAIL, f"the warehouse file is held open by {facts.opened_by}: every writer waits for it, then fails; close it (analysts query the snapshot)"))  # fmt: skip
    snapshot = facts.snapshot
    if facts.snapshot_error:
        return [
            *findings,
            Finding("warehouse", FAIL, f"snapshot unreadable: {facts.snapshot_error}"),
        ]
    if snapshot is None:
        return [*findings, Finding("warehouse", WARN, "no snapshot published yet: `reelloop sql` publishes one")]  # fmt: skip
    if snapshot.schema_version != facts.latest_schema:
        findings.append(Finding("warehouse", WARN, f"schema {snapshot.schema_version}; the next write migrates it to {facts.latest_schema}"))  # fmt: skip
    else:
        findings.append(Finding("warehouse", OK, f"schema {snapshot.schema_version} (current)"))
    stale = (
        snapshot.published_at is None or now - snapshot.published_at > config.snapshot_stale_after
    )
    findings.append(Finding("warehouse", WARN if stale else OK, f"snapshot {snapshot.path.name} published {age(snapshot.published_at, now)}"))  # fmt: skip
    if not snapshot.current:
        findings.append(Finding("warehouse", WARN, "the snapshot is behind the warehouse file (a run is writing, or one was killed before publishing)"))  # fmt: skip
    findings.append(Finding("warehouse", OK, f"last ingest {age(snapshot.last_ingested_at, now)} ({snapshot.files_ingested} files)"))  # fmt: skip
    findings.append(Finding("warehouse", OK, f"last label {age(snapshot.last_labeled_at, now)} ({snapshot.labels} labels)"))  # fmt: skip
    return findings


def run_doctor(
    db_path: str, api_url: str | None, config: DoctorConfig | None = None
) -> DoctorReport:
    """Every check, in order: versions, the Prefect API, the warehouse."""
    config = config or DoctorConfig()
    now = datetime.now(UTC)
    findings = version_findings(config) + prefect_findings(api_url, config)
    findings += warehouse_findings(warehouse_facts(db_path), now, config)
    return DoctorReport(tuple(findings))
