"""`reelloop serve` against a real Prefect server, plus the pure parts of serving and runners."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.runner import task_runner_for
from flows.serve import (
    SERVED_FLOWS,
    ServeConfig,
    ServePaths,
    build_deployments,
    deployment_parameters,
    served_flows,
)
from pipelines.api_client import ApiRetry, api_client
from pipelines.doctor import DoctorConfig, run_doctor
from results.doctor import FAIL, OK, Finding
from warehouse.snapshot import open_snapshot

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_START_SECONDS = 180  # a server with its services takes over 60 s on a loaded 2-core machine
RUN_SECONDS = 60
# the server's SQLite answers 503 while locked; a loaded CI machine can hold it for a while
PATIENT = ApiRetry(attempts=8, first_wait_seconds=0.5, max_wait_seconds=4.0, budget_seconds=30.0)


# ---------------------------------------------------------------- pure parts


@flow(name="fake-ingest")
def fake_ingest(db_path: str = "x.duckdb", landing_dir: str = "landing", batch: int = 10) -> int:
    return batch


@flow(name="fake-needy")
def fake_needy(db_path: str, secret: str) -> str:
    return secret


def test_schedule_defaults_order_the_stages() -> None:
    config = ServeConfig()
    every = {stage: config.every_seconds(stage) for stage, _ in SERVED_FLOWS}
    assert every == {
        "ingest": 300,
        "label": 3600,
        "train": 86400,
        "score": 3600,
        "export": 86400,
        "report": 86400,
    }
    assert config.offset_seconds("report") == config.offset_seconds("train") + 1800
    assert config.offset_seconds("label") < config.offset_seconds("score")


def test_parameters_are_filled_from_the_serve_paths(tmp_path: Path) -> None:
    paths = ServePaths.resolve(str(tmp_path / "w.duckdb"), landing=str(tmp_path / "in"))
    assert deployment_parameters("ingest", fake_ingest, paths) == {
        "db_path": str(tmp_path / "w.duckdb"),
        "landing_dir": str(tmp_path / "in"),
    }
    assert paths.export_dir == str(tmp_path / "export")
    with pytest.raises(ValueError, match="secret"):
        deployment_parameters("label", fake_needy, paths)


def test_unimportable_stages_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    table = (("ingest", f"{__name__}:fake_ingest"), ("label", "flows.not_written_yet:label_flow"))
    with caplog.at_level("WARNING"):
        loaded = served_flows(table)
    assert [stage for stage, _ in loaded] == (["ingest"] if __name__ in sys.modules else [])
    assert "not serving label" in caplog.text
    with pytest.raises(ValueError, match="unknown stage"):
        served_flows(table, only=["nope"])


def test_deployments_carry_schedule_parameters_and_runner(tmp_path: Path) -> None:
    module = sys.modules.get(__name__)
    if module is None or getattr(module, "fake_ingest", None) is not fake_ingest:
        pytest.skip("test module not importable by name under this import mode")
    paths = ServePaths.resolve(str(tmp_path / "w.duckdb"))
    (deployment,) = build_deployments(
        ServeConfig(ingest_every_seconds=60), paths, table=(("ingest", f"{__name__}:fake_ingest"),)
    )
    assert deployment.name == "ingest"
    assert deployment.parameters == {"db_path": paths.db, "landing_dir": paths.landing}
    (schedule,) = deployment.schedules
    assert schedule.schedule.interval == timedelta(seconds=60)


def test_prefect_yaml_matches_the_served_schedules() -> None:
    config = ServeConfig()
    document = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    deployments = {d["name"]: d for d in document["deployments"]}
    assert set(deployments) == {stage for stage, _ in SERVED_FLOWS}
    for stage, target in SERVED_FLOWS:
        deployment = deployments[stage]
        assert deployment["entrypoint"] == target
        (schedule,) = deployment["schedules"]
        assert schedule["interval"] == config.every_seconds(stage)
        anchor = datetime.fromisoformat(schedule["anchor_date"])
        assert anchor == config.anchor + timedelta(seconds=config.offset_seconds(stage))
        assert deployment["parameters"]["db_path"] == "reelloop.duckdb"


def test_task_runner_for_local_and_dask() -> None:
    from prefect_dask import DaskTaskRunner

    assert isinstance(task_runner_for("local"), ThreadPoolTaskRunner)
    remote = task_runner_for("dask", "tcp://127.0.0.1:8786")
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://127.0.0.1:8786"
    temporary = task_runner_for("dask", None)
    assert temporary.cluster_kwargs == {"n_workers": 2, "threads_per_worker": 1, "processes": True}
    with pytest.raises(ValueError, match="unknown runner"):
        task_runner_for("spark")


# ---------------------------------------------------------------- real server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any Prefect or reelloop setting of the test session, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REELLOOP_"))}
    env.update(extra)
    return env


def stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group we started, then SIGKILL it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=grace)


def wait_until(check: Callable[[], bool], timeout: float, what: str, *logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}:\n{p.read_text()[-3000:]}" for p in logs if p.exists())
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{tails}")
        time.sleep(0.25)


def responds(client: httpx.Client, path: str) -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def running_prefect_server(
    tmp_path: Path, *, scheduler: bool, **settings: str
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """A real `prefect server start` on a free loopback port, SQLite under a temporary
    PREFECT_HOME; yields (api url, environment for clients, server log). Stopped by its pid."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = clean_env(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        **settings,
    )
    log_path = tmp_path / "server.log"
    prefect_cli = Path(sys.executable).with_name("prefect")
    services = [] if scheduler else ["--no-scheduler"]
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(prefect_cli), "server", "start", "--host", "127.0.0.1", "--port", str(port),
             "--no-ui", *services, "--no-late-runs"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        with api_client(api, 5, PATIENT) as client:
            wait_until(
                lambda: responds(client, "/health"), SERVER_START_SECONDS, "the server", log_path
            )
        yield api, env, log_path
    finally:
        stop(server)


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real Prefect server without its scheduler (runs are triggered by hand)."""
    with running_prefect_server(tmp_path, scheduler=False) as (api, env, _):
        yield api, env


def write_landing_zone(root: Path) -> None:
    """Two generations and four event lines (one a duplicate delivery) in the event contract."""
    (root / "generations").mkdir(parents=True)
    (root / "events").mkdir(parents=True)
    generations = [
        {"generation_id": f"g{n}", "request_id": "r1", "creator_id": "c1", "prompt": "a cat surfing",
         "model_version": "m1", "created_at": "2025-03-01T10:00:00Z", "duration_ms": 4000}
        for n in (1, 2)
    ]  # fmt: skip
    events = [
        {"event_id": "e1", "event_type": "impression", "generation_id": "g1", "viewer_id": "v1",
         "occurred_at": "2025-03-01T10:05:00Z", "surface": "feed", "position": 0},
        {"event_id": "e2", "event_type": "view", "generation_id": "g1", "viewer_id": "v1",
         "occurred_at": "2025-03-01T10:05:02Z", "surface": "feed", "position": 0, "watch_ms": 3500},
        {"event_id": "e3", "event_type": "like", "generation_id": "g2", "viewer_id": "v2",
         "occurred_at": "2025-03-01T10:06:00Z"},
        {"event_id": "e3", "event_type": "like", "generation_id": "g2", "viewer_id": "v2",
         "occurred_at": "2025-03-01T10:06:00Z"},
    ]  # fmt: skip
    (root / "generations" / "part-0.jsonl").write_text(
        "".join(json.dumps(g) + "\n" for g in generations), encoding="utf-8"
    )
    (root / "events" / "part-0.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events), encoding="utf-8"
    )


def ingest_available() -> bool:
    if importlib.util.find_spec("flows.ingest") is None:
        return False
    module = importlib.import_module("flows.ingest")
    return hasattr(module, "ingest_flow") and inspect.isfunction(module.ingest_flow.fn)


@pytest.mark.e2e
@pytest.mark.skipif(not ingest_available(), reason="flows.ingest:ingest_flow is not written yet")
def test_serve_runs_a_triggered_ingest_against_a_real_server(
    prefect_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    api, env = prefect_server
    started = time.monotonic()
    db = tmp_path / "wh" / "reelloop.duckdb"
    landing = tmp_path / "landing"
    write_landing_zone(landing)
    serve_log = tmp_path / "serve.log"
    serve_env = {**env, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "REELLOOP_DB": str(db)}
    with open(serve_log, "w") as log:
        serving = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "serve",
                "--only",
                "ingest",
                "--landing",
                str(landing),
                "--prefect-writer-limit",
            ],  # fmt: skip
            env=serve_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with api_client(api, 10, PATIENT) as client:
            wait_until(
                lambda: (
                    serving.poll() is None and responds(client, "/deployments/name/ingest/ingest")
                ),
                RUN_SECONDS,
                "the ingest deployment",
                serve_log,
            )
            assert serving.poll() is None, serve_log.read_text()
            deployment = client.get("/deployments/name/ingest/ingest").json()
            assert deployment["parameters"]["db_path"] == str(db)
            (schedule,) = deployment["schedules"]
            assert schedule["schedule"]["interval"] == 300
            writer_limit = client.get("/v2/concurrency_limits/reelloop-warehouse-writer").json()
            assert writer_limit["limit"] == 1  # created by serve

            response = client.post(f"/deployments/{deployment['id']}/create_flow_run", json={})
            response.raise_for_status()
            run_id = response.json()["id"]

            def finished() -> bool:
                state = client.get(f"/flow_runs/{run_id}").json()["state"]
                return state["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}

            wait_until(finished, RUN_SECONDS, "the ingest run", serve_log)
            state = client.get(f"/flow_runs/{run_id}").json()["state"]
            assert state["type"] == "COMPLETED", f"{state}\n{serve_log.read_text()[-3000:]}"
            writer_limit = client.get("/v2/concurrency_limits/reelloop-warehouse-writer").json()
            assert writer_limit["active_slots"] == 0  # taken by the writes and given back
    finally:
        stop(serving)
    snapshot = open_snapshot(db)
    try:
        loaded = dict(
            snapshot.execute(
                "select 'events', count(*) from events union all "
                "select 'generations', count(*) from generations union all "
                "select 'quarantine', count(*) from quarantine"
            ).fetchall()
        )
    finally:
        snapshot.close()
    assert loaded == {"events": 3, "generations": 2, "quarantine": 0}, serve_log.read_text()[-4000:]
    print(f"serve + triggered ingest took {time.monotonic() - started:.1f} s after server start")


SCHEDULE_SECONDS = 180  # generous on a loaded 2-core machine; a healthy run takes ~20-40 s


def completed_auto_scheduled_runs(client: httpx.Client, deployment_id: str) -> list[dict]:
    """The deployment's completed flow runs that the server's scheduler created (not triggered
    by hand)."""
    response = client.post(
        "/flow_runs/filter",
        json={
            "flow_runs": {
                "deployment_id": {"any_": [deployment_id]},
                "state": {"type": {"any_": ["COMPLETED"]}},
            },
            "limit": 50,
        },
    )
    response.raise_for_status()
    return [run for run in response.json() if run["auto_scheduled"]]


def snapshot_counts(db: Path) -> dict[str, int]:
    snapshot = open_snapshot(db)
    try:
        return dict(
            snapshot.execute(
                "select 'events', count(*) from events union all "
                "select 'generations', count(*) from generations"
            ).fetchall()
        )
    finally:
        snapshot.close()


@pytest.mark.e2e
def test_a_scheduled_ingest_fires_by_itself_on_a_real_server(tmp_path: Path) -> None:
    """The server's own scheduler creates the run (auto_scheduled), `serve` runs it, rows land,
    and the server log holds no traceback (prefect 3.8.8's scheduler fails on SQLAlchemy 2.1)."""
    db = tmp_path / "wh" / "reelloop.duckdb"
    landing = tmp_path / "landing"
    write_landing_zone(landing)
    serve_log = tmp_path / "serve.log"
    scheduler_settings = {
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "2",
        # a few runs ahead, not an hour of 10-second runs
        "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "1",
        "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "3",
        "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME": "0:00:20",
    }
    with running_prefect_server(tmp_path, scheduler=True, **scheduler_settings) as (
        api,
        env,
        server_log,
    ):
        serve_env = {**env, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "REELLOOP_DB": str(db)}
        command = [sys.executable, "-m", "cli.main", "serve", "--only", "ingest",
                   "--landing", str(landing), "--ingest-every", "10", "--max-concurrent-runs", "1"]  # fmt: skip
        with open(serve_log, "w") as log:
            serving = subprocess.Popen(
                command, env=serve_env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            with api_client(api, 10, PATIENT) as client:
                wait_until(
                    lambda: responds(client, "/deployments/name/ingest/ingest"),
                    SCHEDULE_SECONDS,
                    "serve to create the ingest deployment",
                    serve_log,
                    server_log,
                )
                deployment_id = client.get("/deployments/name/ingest/ingest").json()["id"]

                def a_scheduled_run_completed() -> bool:
                    assert serving.poll() is None, f"serve exited\n{serve_log.read_text()[-3000:]}"
                    return bool(completed_auto_scheduled_runs(client, deployment_id))

                wait_until(
                    a_scheduled_run_completed,
                    SCHEDULE_SECONDS,
                    "an auto-scheduled ingest run to complete",
                    serve_log,
                    server_log,
                )
                (first, *_) = completed_auto_scheduled_runs(client, deployment_id)
            doctor = run_doctor(
                str(db), api, DoctorConfig(api_timeout_seconds=30, api_retry=PATIENT)
            )
        finally:
            stop(serving)
    assert first["auto_scheduled"] and first["state"]["type"] == "COMPLETED"
    assert snapshot_counts(db) == {"events": 3, "generations": 2}, serve_log.read_text()[-3000:]
    server_text = server_log.read_text()
    assert "Traceback" not in server_text, server_text[-4000:]
    # `reelloop doctor` sees the served deployment, its active schedule and its completed runs
    prefect = [f for f in doctor.findings if f.area == "prefect"]
    assert prefect[0] == Finding("prefect", OK, f"API {api} answers"), prefect
    assert any(
        f.level == OK and f.message.startswith("deployment ingest: last run Completed")
        for f in prefect
    ), prefect
    assert all(f.level != FAIL for f in doctor.findings), doctor.findings
