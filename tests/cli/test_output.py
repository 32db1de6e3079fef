"""`--json`: the typed result as plain JSON (dataclasses, frames, timestamps, paths, NaN)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from cli.output import as_json
from results.ingest import IngestSummary, RowCounts
from results.model import PromptScores


def test_a_result_with_a_frame_timestamps_paths_and_nan_is_plain_json() -> None:
    scores = PromptScores(
        model_id="m1",
        rows=pl.DataFrame({"model_version": ["v1", "v2"], "score": [0.5, float("nan")]}),
    )
    assert json.loads(as_json(scores)) == {
        "model_id": "m1",
        "rows": [{"model_version": "v1", "score": 0.5}, {"model_version": "v2", "score": None}],
    }
    moment = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert json.loads(as_json({"at": moment, "path": Path("/a/b"), "kinds": ("x",)})) == {
        "at": "2026-01-02T03:04:00+00:00",
        "path": "/a/b",
        "kinds": ["x"],
    }


def test_an_ingest_summary_keeps_its_nesting() -> None:
    counts = RowCounts(files=1, rows_read=3, rows_loaded=2, rows_duplicate=1)
    summary = IngestSummary(counts, {"events": counts}, {}, {"loaded": 1}, 0.5, 6)
    document = json.loads(as_json(summary))
    assert document["by_kind"]["events"]["rows_loaded"] == 2
    assert document["total"]["rows_read"] == 3 and document["files_by_status"] == {"loaded": 1}


def test_quiet_by_default_silences_a_local_dask_clusters_info_lines() -> None:
    """`--runner dask` without an address starts a LocalCluster: its scheduler and nannies log
    every start and stop at INFO, which only `-v` shows."""
    probe = (
        "import logging, sys; from cli.main import configure_logging; "
        "configure_logging(sys.argv[1] == 'v'); import distributed; "
        "print(logging.getLogger('distributed.scheduler').getEffectiveLevel())"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    levels = [
        subprocess.run(
            [sys.executable, "-c", probe, mode], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for mode in ("quiet", "v")
    ]
    assert levels == [["30"], ["20"]]
