"""Reading landing files back as the raw values a reader sees, for the landing tests."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest


def _read_rows(path: Path) -> list[dict | None]:
    """Every data row of a landing file as a dict of raw values (None for a line that is not JSON)."""
    name = path.name
    if name.endswith(".parquet"):
        return pl.read_parquet(path).to_dicts()
    if name.endswith(".csv"):
        return [
            {k: v for k, v in row.items() if v is not None}
            for row in pl.read_csv(path, infer_schema=False).to_dicts()
        ]
    text = gzip.decompress(path.read_bytes()).decode() if name.endswith(".gz") else path.read_text()
    rows: list[dict | None] = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            rows.append(None)
    return rows


@pytest.fixture(scope="session")
def read_rows() -> Callable[[Path], list[dict | None]]:
    """The reader of a landing file's data rows."""
    return _read_rows
