"""`reelloop simulate` writes the landing zone and truth through the Prefect flow; bad options exit 2."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cli.main import main


def test_simulate_verb_writes_landing_zone_and_truth(
    tmp_path: Path, prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    argv = [
        "--db",
        str(tmp_path / "w.duckdb"),
        "simulate",
        "--out",
        str(out),
        "--requests",
        "30",
        "--days",
        "2",
    ]
    assert main(argv) == 0
    assert "simulated 30 requests" in capsys.readouterr().out
    truth = pl.read_parquet(out / "truth" / "generations.parquet")
    assert 60 <= truth.height <= 120
    assert len(list((out / "landing" / "events").iterdir())) == 6
    assert len(list((out / "landing" / "generations").iterdir())) == 2
    before = (out / "truth" / "generations.parquet").read_bytes()
    assert main([*argv, "--seed", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds a simulation" in err[0] and "--force" in err[0]
    assert (out / "truth" / "generations.parquet").read_bytes() == before
    assert main([*argv, "--seed", "1", "--force"]) == 0
    assert (out / "truth" / "generations.parquet").read_bytes() != before


def test_simulate_verb_rejects_bad_options_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "w.duckdb")
    assert main(["--db", db, "simulate", "--out", str(tmp_path / "o"), "--requests", "0"]) == 2
    assert "requests must be at least 1" in capsys.readouterr().err
    assert (
        main(["--db", db, "simulate", "--out", str(tmp_path / "o"), "--base-time", "2026-10-01"])
        == 2
    )
    assert "UTC offset" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["--db", db, "simulate", "--out", str(tmp_path / "file")]) == 2
    assert not (tmp_path / "o").exists()
