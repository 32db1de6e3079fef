"""`reelloop doctor` on a healthy setup and on broken ones: one line per finding, exit 1 on a
problem. (Against a real Prefect server with a served deployment: tests/flows/test_serve.py.)"""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cli.main import main
from pipelines.api_client import ApiRetry
from pipelines.doctor import (
    DoctorConfig,
    pin_findings,
    prefect_findings,
    requirement_findings,
    run_doctor,
    warehouse_findings,
)
from results.doctor import FAIL, OK, WARN
from tests.pipelines.local_http import local_http_server
from warehouse.connection import connect
from warehouse.health import warehouse_facts
from warehouse.locking import warehouse_writer
from warehouse.snapshot import publish_snapshot


@pytest.fixture
def healthy_db(tmp_path: Path) -> Path:
    db = tmp_path / "wh" / "reelloop.duckdb"
    con = connect(db)
    con.execute(
        "insert into scores (generation_id, model_id, score, scored_at) "
        "values ('g1', 'm1', 0.5, current_timestamp)"
    )
    con.close()
    publish_snapshot(db)
    return db


def closed_port_api() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def test_a_healthy_setup_exits_0_with_one_line_per_finding(healthy_db, capsys, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert main(["--db", str(healthy_db), "doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.split()[0] in ("ok", "WARN") for line in lines), lines
    text = "\n".join(lines)
    assert "no Prefect API configured" in text
    assert "writer lock free" in text and "schema 0502_erasures (current)" in text
    assert "last ingest never (0 files)" in text and "last label never (0 labels)" in text


def test_a_file_that_is_not_duckdb_is_a_problem(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 10)
    assert main(["--db", str(notes), "doctor"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert f"FAIL warehouse  {notes} is not a DuckDB database file (check --db)" in lines


def test_an_unreachable_api_is_a_problem(healthy_db, capsys, monkeypatch):
    api = closed_port_api()
    monkeypatch.setenv("PREFECT_API_URL", api)
    assert main(["--db", str(healthy_db), "doctor", "--api-timeout", "2"]) == 1
    (line,) = [line for line in capsys.readouterr().out.splitlines() if "prefect" in line]
    assert line.startswith(f"FAIL prefect    API {api} unreachable or failing")


def test_versions_outside_the_bounds_fail_and_other_pins_warn(tmp_path):
    (problem,) = requirement_findings(["sqlalchemy>=2.1,<2.2", "pytest>=1; extra == 'dev'"])
    assert problem.level == FAIL and "sqlalchemy 2.0." in problem.message
    assert "reelloop needs sqlalchemy<2.2,>=2.1" in problem.message
    assert requirement_findings(["sqlalchemy>=2.0,<2.1", "no-such-package-xyz>=1"]) == [
        requirement_findings(["no-such-package-xyz>=1"])[0]
    ]
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("duckdb==0.0.1\nnot-installed-pkg==1.0\n")
    (pins,) = pin_findings(constraints)
    assert pins.level == WARN and pins.message.startswith("1 differ from constraints.txt: duckdb ")
    assert pins.message.endswith("(pinned 0.0.1)")


def test_the_installed_environment_matches_its_requirements():
    report = run_doctor(":memory:", None, DoctorConfig())
    assert [f for f in report.findings if f.area == "versions" and f.level == FAIL] == []


def test_a_held_lock_a_stale_snapshot_and_an_old_schema_are_reported(healthy_db):
    now = datetime.now(UTC)
    con = connect(healthy_db)
    con.execute("insert into scores values ('g2', 'm1', 0.7, current_timestamp)")
    con.close()  # committed after the snapshot
    with warehouse_writer(healthy_db):
        facts = warehouse_facts(healthy_db)
    findings = warehouse_findings(facts, now + timedelta(days=2), DoctorConfig())
    messages = {f.message: f.level for f in findings}
    held = [m for m in messages if m.startswith("writer lock held by pid")]
    assert held and messages[held[0]] == OK
    stale = [m for m in messages if m.startswith("snapshot snapshot-000001.duckdb published 2.0 d")]
    assert stale and messages[stale[0]] == WARN
    assert messages["the snapshot is behind the warehouse file (a run is writing, or one was killed before publishing)"] == WARN  # fmt: skip
    assert all(level != FAIL for level in messages.values())


def test_no_api_configured_is_fine():
    (finding,) = prefect_findings(None, DoctorConfig())
    assert finding.level == OK and "no Prefect API configured" in finding.message


def test_a_reader_holding_the_warehouse_file_open_is_a_problem(healthy_db, capsys, monkeypatch):
    """An analyst's read-only DuckDB session on the warehouse file makes every writer wait, then
    fail: doctor names it (pid and program) and exits 1."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    holder = "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); print(1, flush=True); sys.stdin.read()"  # fmt: skip
    reader = subprocess.Popen(
        [sys.executable, "-c", holder, str(healthy_db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "1"
        assert main(["--db", str(healthy_db), "doctor"]) == 1
    finally:
        reader.communicate("")
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if "held open by" in ln]
    assert line.startswith("FAIL") and f"pid {reader.pid} (" in line
    assert warehouse_facts(healthy_db).opened_by is None  # closed: nothing to report


def test_a_folder_given_as_the_warehouse_is_a_problem(tmp_path, capsys, monkeypatch):
    """Every writer fails on it ("Is a directory"): not a warehouse still to be made."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert main(["--db", str(tmp_path), "doctor"]) == 1
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if "is a folder" in ln]
    assert line.startswith("FAIL")


def test_a_busy_api_is_asked_again_not_reported_as_failing():
    """A Prefect server on SQLite answers 503 while its database is locked; doctor retries, as
    Prefect's own client does, and reports the deployments it then reads."""
    answers = {"health": [503, 200], "deployments": [503, 503, 200]}

    def server(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/")
        if path == "health":
            return httpx.Response(answers["health"].pop(0), json=True)
        if path == "deployments/filter":
            status = answers["deployments"].pop(0)
            body = [{"id": "d1", "name": "ingest", "schedules": [{"active": True}]}]
            return httpx.Response(status, json=body if status == 200 else {})
        return httpx.Response(200, json=[])  # flow runs: none finished, none late

    config = DoctorConfig(api_retry=ApiRetry(first_wait_seconds=0.0))
    findings = prefect_findings("http://api/api", config, httpx.MockTransport(server))
    assert [(f.level, f.message) for f in findings] == [
        (OK, "API http://api/api answers"),
        (WARN, "deployment ingest: no finished run yet"),
    ]
    assert answers == {"health": [], "deployments": []}


def test_an_api_that_stays_busy_is_reported_in_one_line():
    config = DoctorConfig(api_retry=ApiRetry(attempts=3, first_wait_seconds=0.0))
    transport = httpx.MockTransport(lambda request: httpx.Response(503, json={}))
    (finding,) = prefect_findings("http://api/api", config, transport)
    assert finding.level == FAIL
    assert finding.message.startswith(
        "API http://api/api unreachable or failing: Server error '503"
    )


def test_doctor_sends_a_busy_api_request_as_often_as_asked(healthy_db, capsys, monkeypatch):
    """`--api-attempts 2` against a server that always answers 503: two requests, one FAIL line."""
    seen: list[str] = []

    def busy(path: str) -> tuple[int, bytes]:
        seen.append(path)
        return 503, b""

    with local_http_server(busy) as base:
        api = f"{base}/api"
        monkeypatch.setenv("PREFECT_API_URL", api)
        assert main(["--db", str(healthy_db), "doctor", "--api-attempts", "2"]) == 1
    assert seen == ["/api/health", "/api/health"]
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("FAIL prefect")]
    assert line.endswith(f"API {api} unreachable or failing: Server error '503 Service Unavailable' for url '{api}/health'")  # fmt: skip
