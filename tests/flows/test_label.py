"""End to end: `label` under Prefect and `evaluate-labels` against the simulator's truth, on a copy
of the session's simulated and ingested world (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from cli.main import main
from flows.label import evaluate_labels_flow, label_flow
from warehouse.connection import connect
from warehouse.engagement import naive_rates

if TYPE_CHECKING:
    from tests.conftest import IngestedWorld


@pytest.fixture(scope="module")
def simulated(
    ingested_world: IngestedWorld, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The 300-request simulation, ingested (a copy of its warehouse): (warehouse path, truth path)."""
    db = ingested_world.warehouse_copy(tmp_path_factory.mktemp("label_e2e") / "wh")
    return db, ingested_world.truth


def test_labels_beat_naive_rates_and_a_rerun_changes_nothing(
    prefect_harness: None, simulated: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, truth_path = simulated
    first = label_flow(db_path=str(db))
    assert first.full_rebuild and first.labels_written == first.labels > 800
    assert first.pairs > 300

    evaluation = evaluate_labels_flow(db_path=str(db), truth_path=str(truth_path))
    ranks = {
        (r["score"], r["scope"]): r["spearman"] for r in evaluation.ranks.iter_rows(named=True)
    }
    for scope in ("all generations", ">= 30 feed impressions"):
        best_naive = max(ranks[("naive_like_rate", scope)], ranks[("naive_view_rate", scope)])
        assert ranks[("quality_score", scope)] > best_naive + 0.1, (scope, ranks)
    assert ranks[("quality_score", "all generations")] > 0.75
    confident = evaluation.pairs.filter(
        (pl.col("source") == "all") & (pl.col("band") == "[0.90, 1.00]")
    )
    assert confident["pairs"][0] > 200 and confident["truly_better"][0] > 0.9

    con = connect(db, read_only=True)
    try:
        before = con.sql("select * from labels order by generation_id").pl()
        runs = con.execute("select count(*) from label_runs").fetchall()[0][0]
    finally:
        con.close()
    assert main(["--db", str(db), "label"]) == 0
    assert "0 labels written" in capsys.readouterr().out
    con = connect(db, read_only=True)
    try:
        assert con.sql("select * from labels order by generation_id").pl().equals(before)
        assert con.execute("select count(*) from label_runs").fetchall()[0][0] == runs
    finally:
        con.close()

    assert main(["--db", str(db), "evaluate-labels", "--truth", str(truth_path)]) == 0
    printed = capsys.readouterr().out
    assert "quality_score" in printed and "naive_view_rate" in printed and "[0.90, 1.00]" in printed


def test_evaluate_labels_reports_a_missing_truth_file_as_a_user_error(
    simulated: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, _ = simulated
    assert (
        main(["--db", str(db), "evaluate-labels", "--truth", str(db.parent / "nope.parquet")]) == 2
    )
    assert "truth file" in capsys.readouterr().err


def test_naive_rates_come_straight_from_raw_events(simulated: tuple[Path, Path]) -> None:
    """The baselines count raw events (bots and self-likes included), as a naive pipeline would."""
    db, _ = simulated
    con = connect(db, read_only=True)
    try:
        rates = naive_rates(con)
        raw_likes = con.execute(
            "select count(*) from events semi join generations using (generation_id) "
            "where event_type = 'like' and coalesce(surface <> 'studio', true)"
        ).fetchall()[0][0]
    finally:
        con.close()
    recounted = rates.select(
        (pl.col("naive_like_rate") * pl.max_horizontal("raw_impressions", pl.lit(1))).sum()
    ).item()
    assert recounted == pytest.approx(raw_likes)
