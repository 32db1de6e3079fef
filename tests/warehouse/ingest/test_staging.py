"""Staging directories: only the ones staging names, untouched for the threshold, are removed."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warehouse.ingest.staging import remove_stale_staging, staging_dir_for

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def test_the_staging_directory_sits_beside_the_warehouse(tmp_path: Path) -> None:
    assert staging_dir_for(tmp_path / "w.duckdb") == tmp_path / "w.staging"


def test_only_staged_directories_untouched_for_the_threshold_are_removed(tmp_path: Path) -> None:
    def staged(name: str, age_hours: float, fresh_file_inside: bool = False) -> Path:
        directory = tmp_path / name
        (directory / "day=2024-05-01").mkdir(parents=True)
        part = directory / "day=2024-05-01" / "part-0.parquet"
        part.write_bytes(b"rows")
        then = NOW.timestamp() - age_hours * 3600
        for path in (part, part.parent, directory):
            os.utime(path, (then, then))
        if fresh_file_inside:
            os.utime(part, (NOW.timestamp(), NOW.timestamp()))
        return directory

    abandoned = staged("0123456789abcdef-0123456789ab", 30)
    abandoned_spill = staged("0123456789abcdef-0123456789ab.spill", 30)
    in_progress = staged("fedcba9876543210-ba9876543210", 30, fresh_file_inside=True)
    recent = staged("1111111111111111-222222222222", 2)
    not_staging = staged("notes", 30)

    removed = remove_stale_staging(tmp_path, timedelta(hours=24), NOW)

    assert removed == [abandoned, abandoned_spill]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (in_progress, recent, not_staging)
    )
    assert remove_stale_staging(tmp_path / "missing", timedelta(hours=24), NOW) == []
