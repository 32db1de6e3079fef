"""End to end on a small simulation: simulate -> ingest -> label -> train -> score (+ rank, score-prompt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from warehouse.connection import connect

pytestmark = pytest.mark.e2e


def reelloop(db: Path, *args: str) -> None:
    assert main(["--db", str(db), *args]) == 0, f"reelloop {' '.join(args)} failed"


def test_train_then_score_the_simulated_loop(prefect_harness, tmp_path, capsys):
    sim, db = tmp_path / "sim", tmp_path / "wh" / "reelloop.duckdb"
    reelloop(db, "simulate", "--out", str(sim), "--requests", "300", "--seed", "0")
    reelloop(db, "ingest", str(sim / "landing"))
    reelloop(db, "label")
    capsys.readouterr()

    reelloop(db, "train", "--truth", str(sim / "truth" / "generations.parquet"))
    printed = capsys.readouterr().out
    assert "baseline: model_version mean" in printed and "PROMOTED to champion" in printed

    con = connect(db, read_only=True)
    try:
        (model_id, kind, artifact, metrics) = con.execute(
            "select model_id, model_kind, artifact_path, metrics from model_registry where is_champion"
        ).fetchall()[0]
        history = con.execute("select model_id, promoted, reason from champion_history").fetchall()
        n_generations = con.execute("select count(*) from generations").fetchall()[0][0]
    finally:
        con.close()
    assert kind == "pairwise"
    assert Path(artifact).parent == db.parent / "artifacts" and Path(artifact).is_file()
    assert history == [(model_id, True, "no champion yet")]
    assert '"truth_sibling_accuracy"' in metrics

    reelloop(db, "score")
    reelloop(db, "score")  # idempotent: nothing left to score
    assert (
        capsys.readouterr().out.splitlines()[-1] == f"model {model_id} scored 0 new generation(s)"
    )
    con = connect(db, read_only=True)
    try:
        scored = con.execute(
            "select count(*), count(distinct generation_id) from scores where model_id = ?",
            [model_id],
        ).fetchall()[0]
        request_id = con.execute("select min(request_id) from generations").fetchall()[0][0]
    finally:
        con.close()
    assert scored == (n_generations, n_generations)

    reelloop(db, "rank", request_id)
    ranked = capsys.readouterr().out.splitlines()
    assert ranked[0] == f"request {request_id} ranked by champion {model_id}"
    assert ranked[3].split()[0] == "1"
    reelloop(db, "score-prompt", "a red fox playing in the snow, cinematic")
    assert "vidgen-2.0" in capsys.readouterr().out
