"""`reelloop erase` through the CLI and its Prefect flow: the id is erased and never stored by Prefect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main as cli
from landing.simulate import SimulationConfig, simulate_landing_zone
from pipelines.label import label
from warehouse.connection import connect
from warehouse.ingest import IngestRules, ingest_landing_zone
from warehouse.resource import Warehouse
from warehouse.snapshot import publish_snapshot, snapshot_dir


def test_erase_cli_removes_the_viewer_and_prefect_keeps_only_a_masked_id(
    tmp_path: Path, prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    simulate_landing_zone(tmp_path / "sim", SimulationConfig(requests=20, days=1, seed=5))
    db = tmp_path / "reelloop.duckdb"
    con = connect(db)
    ingest_landing_zone(con, tmp_path / "sim" / "landing", IngestRules(memory_limit=None))
    label(Warehouse.in_memory(con))  # on the open connection: publishes no snapshot
    viewer = con.execute(
        "select viewer_id from events group by 1 order by count(*) desc, 1 limit 1"
    ).fetchone()[0]
    events = con.execute("select count(*) from events where viewer_id = ?", [viewer]).fetchone()[0]
    con.close()
    publish_snapshot(db)

    argv = ["--db", str(db), "--prefect", "erase", "--viewer", viewer, "--reason", "ticket 42"]
    code = cli.main(argv)  # a flow run on the harness's API
    out = capsys.readouterr().out
    assert code == 0
    assert f"events {events}" in out
    assert "1 older snapshot(s) deleted" in out
    assert viewer not in out
    assert len(list(snapshot_dir(db).glob("snapshot-*.duckdb"))) == 1
    con = connect(db, read_only=True)
    assert (
        con.execute("select count(*) from events where viewer_id = ?", [viewer]).fetchone()[0] == 0
    )
    assert con.execute("select reason from erasures").fetchall() == [("ticket 42",)]
    con.close()

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["erase"])))
    assert runs, "the erase flow run is recorded"
    stored = json.dumps([run.parameters for run in runs], default=str)
    assert viewer not in stored
    assert "subject_id" in stored


def test_erase_cli_user_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.duckdb"
    assert cli.main(["--db", str(missing), "erase", "--creator", "c1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not found" in err[0]
    assert cli.main(["--db", str(missing), "erase", "--viewer", " "]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "reelloop erase: error: the viewer id is empty or blank (ingest never accepts such an id)"
    ]
    with pytest.raises(SystemExit) as exited:
        cli.main(["--db", str(missing), "erase", "--viewer", "a", "--creator", "b"])
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
