"""A simulation's hidden truth: true quality per generation (only to measure, never to train)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.steps import IO_RETRY, step


@step(IO_RETRY)
def read_truth(truth_path: str) -> pl.DataFrame:
    """generation_id, true_quality from the simulator's truth file."""
    path = Path(truth_path)
    if not path.is_file():
        raise FileNotFoundError(f"truth file not found: {path}")
    truth = pl.read_parquet(path)
    missing = {"generation_id", "true_quality"} - set(truth.columns)
    if missing:
        raise ValueError(f"truth file {path} lacks column(s): {', '.join(sorted(missing))}")
    return truth.select("generation_id", "true_quality")
