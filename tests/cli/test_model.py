"""End to end on a small simulation: label -> train -> score (+ rank, score-prompt) on a copy of the
session's simulated and ingested world (`reelloop simulate` and `reelloop ingest`, tests/conftest.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cli.main import main
from warehouse.connection import connect

pytestmark = pytest.mark.e2e


def reelloop(db: Path, *args: str) -> None:
    assert main(["--db", str(db), *args]) == 0, f"reelloop {' '.join(args)} failed"


def test_train_then_score_the_simulated_loop(prefect_harness, ingested_world, tmp_path, capsys):
    sim, db = ingested_world.sim, ingested_world.warehouse_copy(tmp_path / "wh")
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
    single = capsys.readouterr().out
    assert "vidgen-2.0" in single

    prompts = tmp_path / "prompts.txt"
    prompts.write_text(
        'a red fox playing in the snow, cinematic\n\na neon sign that says "OPEN"\n',
        encoding="utf-8",
    )
    reelloop(db, "score-prompt", "--file", str(prompts), "--format", "csv")
    batch = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    versions = {row["model_version"] for row in batch}
    assert {row["line"] for row in batch} == {"1", "3"}  # each prompt, by its line in the file
    assert len(batch) == 2 * len(versions) and "vidgen-2.0" in versions
    fox = {r["model_version"]: float(r["predicted_quality"]) for r in batch if r["line"] == "1"}
    for line in single.splitlines()[3:]:  # the single-prompt table: the same predictions
        version, predicted = line.split()[:2]
        assert fox[version] == pytest.approx(float(predicted), abs=1e-4)
    assert main(["--db", str(db), "score-prompt", "--file", str(tmp_path / "missing.txt")]) == 2
    assert "prompt file not found" in capsys.readouterr().err
