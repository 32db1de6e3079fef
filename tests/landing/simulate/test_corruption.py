"""Every malformed kind occurs, and the malformed truth says where each broken row is and what broke."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import polars as pl
import pytest

from landing.simulate import EVENT_MALFORMED_KINDS, EVENT_TYPES, GENERATION_MALFORMED_KINDS


def test_every_malformed_kind_occurs_and_is_recorded_where_it_is(
    rows_by_file: dict[str, list[dict | None]],
    malformed: pl.DataFrame,
    parse_timestamp: Callable[[object], datetime],
) -> None:
    for kind, kinds in (
        ("events", EVENT_MALFORMED_KINDS),
        ("generations", GENERATION_MALFORMED_KINDS),
    ):
        recorded = set(malformed.filter(pl.col("record_kind") == kind).get_column("malformed_kind"))
        assert recorded == set(kinds), kind
    for path, row_number, _, malformed_kind, field in malformed.iter_rows():
        row = rows_by_file[path][row_number - 1]
        if malformed_kind == "not_json":
            assert row is None
            continue
        assert row is not None
        value = row.get(field)
        if malformed_kind == "missing_field":
            assert value in (None, ""), (path, row_number, field)
        elif malformed_kind == "oversized_id":
            assert len(value) > 128
        elif malformed_kind == "oversized_prompt":
            assert len(value) > 10_000
        elif malformed_kind == "negative_watch_ms":
            assert int(value) < 0
        elif malformed_kind == "non_positive_duration":
            assert int(value) <= 0
        elif malformed_kind == "wrong_type":
            assert isinstance(value, str) and not value.lstrip("-").isdigit()
        elif malformed_kind == "unknown_event_type":
            assert value not in EVENT_TYPES
        elif malformed_kind == "far_future_timestamp":
            assert parse_timestamp(value).year >= 2099
        elif malformed_kind == "unparseable_timestamp":
            with pytest.raises(ValueError):
                parse_timestamp(value)
