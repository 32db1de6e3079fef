"""Landing files come in every format with the reported row counts, and carry the delivery noise:
duplicate deliveries, late events, generation records arriving after their events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from landing.simulate import SimulationSummary


def test_every_format_is_written_and_read_back_with_the_reported_row_counts(
    landing: tuple[Path, SimulationSummary], rows_by_file: dict[str, list[dict | None]]
) -> None:
    _, summary = landing
    for kind in ("events", "generations"):
        formats = {f.file_format for f in summary.files if f.kind == kind}
        assert formats == {"jsonl", "jsonl.gz", "parquet", "csv"}, kind
    for f in summary.files:
        assert len(rows_by_file[f.path]) == f.rows, f.path
    assert summary.event_rows == sum(f.rows for f in summary.files if f.kind == "events")
    event_days = {f.path.split("_")[1] for f in summary.files if f.kind == "events"}
    assert event_days == {"20261001", "20261002", "20261003"}


def test_duplicate_deliveries_repeat_event_ids_some_in_another_file(
    valid_events: list[tuple[str, dict]],
) -> None:
    files_of: dict[str, set[str]] = {}
    count = Counter()
    for path, row in valid_events:
        count[row["event_id"]] += 1
        files_of.setdefault(row["event_id"], set()).add(path)
    repeated = [event_id for event_id, n in count.items() if n > 1]
    assert 0.005 < len(repeated) / len(count) < 0.05
    assert any(len(files_of[event_id]) > 1 for event_id in repeated)
    assert any(len(files_of[event_id]) == 1 for event_id in repeated)


def test_late_events_and_generation_records_arriving_after_their_events(
    landing: tuple[Path, SimulationSummary],
    valid_events: list[tuple[str, dict]],
    valid_generations: list[tuple[str, dict]],
    parse_timestamp: Callable[[object], datetime],
) -> None:
    _, summary = landing
    late = sum(
        1
        for path, row in valid_events
        if parse_timestamp(row["occurred_at"]).astimezone(UTC).strftime("%Y%m%d")
        < path.split("_")[1]
    )
    assert late >= summary.late_event_rows > 0
    first_file: dict[str, str] = {}
    for path, row in valid_generations:
        day = path.split("_")[1]
        first_file[row["generation_id"]] = min(first_file.get(row["generation_id"], day), day)
    early = sum(
        1 for path, row in valid_events if path.split("_")[1] < first_file[row["generation_id"]]
    )
    assert summary.late_generation_rows > 0 and early > 0
