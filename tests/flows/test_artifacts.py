"""Run-summary artifacts published by the flows: nothing outside a flow run, and ingest's artifacts read
back from Prefect (their content is tested in tests/report/test_artifacts.py)."""

from __future__ import annotations

import json
from pathlib import Path

from flows.artifacts import create_artifacts


def test_creating_artifacts_outside_a_flow_run_is_a_no_op() -> None:
    assert create_artifacts([("ingest-summary", "d", "# x")]) == 0


def write_tiny_landing_zone(root: Path) -> None:
    """events: 2 loaded, 1 duplicate, 2 malformed lines, 1 unknown event type; generations: 1 loaded."""
    event = {
        "event_type": "like",
        "generation_id": "g1",
        "viewer_id": "v1",
        "occurred_at": "2024-05-01T12:00:00Z",
    }
    events = [
        {**event, "event_id": "e1"},
        {**event, "event_id": "e2"},
        {**event, "event_id": "e2"},
        {**event, "event_id": "e3", "event_type": "teleport"},
    ]
    (root / "events").mkdir(parents=True)
    (root / "events" / "a.jsonl").write_text(
        "\n".join([*map(json.dumps, events), "not json", "[1, 2]"]) + "\n"
    )
    (root / "generations").mkdir()
    (root / "generations" / "g.csv").write_text(
        "generation_id,request_id,creator_id,prompt,model_version,created_at,duration_ms\n"
        "g1,r1,c1,a fox,m1,1714561200000,5000\n"
    )


def test_the_ingest_flow_publishes_its_accounting_as_artifacts(
    tmp_path: Path, prefect_harness: None
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    from flows.ingest import ingest_flow

    landing = tmp_path / "landing"
    write_tiny_landing_zone(landing)
    state = ingest_flow(
        landing_dir=str(landing), db_path=str(tmp_path / "w.duckdb"), return_state=True
    )
    summary = state.result()
    run_id = state.state_details.flow_run_id

    with get_client(sync_client=True) as client:
        artifacts = {
            a.key: a
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
                    key=ArtifactFilterKey(
                        any_=["ingest-summary", "ingest-rows", "ingest-quarantine"]
                    ),
                )
            )
        }
    assert {k: a.type for k, a in artifacts.items()} == {
        "ingest-summary": "markdown",
        "ingest-rows": "table",
        "ingest-quarantine": "table",
    }
    rows = json.loads(artifacts["ingest-rows"].data)
    assert rows == [
        {
            "kind": "events",
            "files": 1,
            "rows_read": 6,
            "rows_loaded": 2,
            "rows_duplicate": 1,
            "rows_quarantined": 3,
        },
        {
            "kind": "generations",
            "files": 1,
            "rows_read": 1,
            "rows_loaded": 1,
            "rows_duplicate": 0,
            "rows_quarantined": 0,
        },
    ]
    for column in ("rows_read", "rows_loaded", "rows_duplicate", "rows_quarantined"):
        assert sum(r[column] for r in rows) == getattr(summary.total, column)
    assert json.loads(artifacts["ingest-quarantine"].data) == [
        {"reason": "malformed_record", "rows": 2, "share": 0.6667},
        {"reason": "unknown_event_type", "rows": 1, "share": 0.3333},
    ]
    assert summary.quarantined_by_reason == {"malformed_record": 2, "unknown_event_type": 1}
    assert "| **total** | 2 | 7 | 3 | 1 | 3 |" in artifacts["ingest-summary"].data
