"""Wire records carry the contract's fields in each format: required fields typed, list fields as JSON
text in CSV, timestamps mixing epoch milliseconds and RFC 3339 with several offsets."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from landing.simulate import (
    EVENT_REQUIRED,
    EVENT_TYPES,
    GENERATION_REQUIRED,
    SimulationConfig,
)


def test_valid_rows_carry_every_required_field_with_the_contract_types(
    valid_events: list[tuple[str, dict]],
    valid_generations: list[tuple[str, dict]],
    parse_timestamp: Callable[[object], datetime],
) -> None:
    assert len(valid_events) > 1000
    for path, row in valid_events:
        assert row is not None, path
        assert all(row.get(name) not in (None, "") for name in EVENT_REQUIRED), (path, row)
        assert row["event_type"] in EVENT_TYPES
        assert 1 <= len(row["event_id"]) <= 128 and len(row["generation_id"]) <= 128
        assert parse_timestamp(row["occurred_at"]).year == 2026
        if row["event_type"] == "view":
            assert int(row["watch_ms"]) >= 0, row
    for path, row in valid_generations:
        assert row is not None, path
        assert all(row.get(name) not in (None, "") for name in GENERATION_REQUIRED), (path, row)
        assert int(row["duration_ms"]) > 0 and len(row["prompt"]) <= 10_000
        assert parse_timestamp(row["created_at"]).year == 2026
        uri = row.get("output_uri")
        assert uri == f"s3://reelloop-sim/videos/{row['generation_id']}.mp4"


def test_csv_list_fields_are_json_text_and_other_formats_hold_lists(
    valid_generations: list[tuple[str, dict]], small_config: SimulationConfig
) -> None:
    seen = Counter()
    for path, row in valid_generations:
        embedding = row.get("output_embedding")
        if embedding is None:
            continue
        if path.endswith(".csv"):
            assert isinstance(embedding, str)
            embedding = json.loads(embedding)
            if "reference_inputs" in row:
                refs = json.loads(row["reference_inputs"])
                assert {r["kind"] for r in refs} <= {"image", "video", "audio"}
        assert isinstance(embedding, list) and len(embedding) == small_config.embedding_dim
        seen[path.rsplit(".", 1)[-1]] += 1
    assert seen["csv"] > 0 and seen["parquet"] > 0 and seen["jsonl"] > 0


def test_timestamps_mix_epoch_millis_and_rfc3339_with_several_offsets(
    valid_events: list[tuple[str, dict]],
) -> None:
    kinds = Counter()
    offsets = set()
    for path, row in valid_events:
        value = row["occurred_at"]
        if isinstance(value, int):
            kinds["epoch"] += 1
        elif path.endswith(".jsonl"):
            kinds["rfc3339"] += 1
            offsets.add(value[23:])
    assert kinds["epoch"] > 100 and kinds["rfc3339"] > 100
    assert "Z" in offsets and len(offsets) >= 5
