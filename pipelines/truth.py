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
    try:
        truth = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"truth file {path} is not a readable Parquet file: {reason}") from None
    missing = {"generation_id", "true_quality"} - set(truth.columns)
    if missing:
        raise ValueError(f"truth file {path} lacks column(s): {', '.join(sorted(missing))}")
    return truth.select("generation_id", "true_quality")
