"""Malformed rows: which kinds of breakage a landing file can carry, and breaking the flagged rows of
a wire-record frame (one kind each, recorded with the field it breaks for the malformed truth)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl

from landing.contract import EVENTS
from landing.simulate.wire import RECORD_LAYOUTS, RecordLayout
from landing.writers import FileFormat

EVENT_MALFORMED_KINDS: tuple[str, ...] = (
    "missing_field",
    "wrong_type",
    "unknown_event_type",
    "negative_watch_ms",
    "unparseable_timestamp",
    "far_future_timestamp",
    "oversized_id",
    "not_json",
)
GENERATION_MALFORMED_KINDS: tuple[str, ...] = (
    "missing_field",
    "wrong_type",
    "non_positive_duration",
    "unparseable_timestamp",
    "far_future_timestamp",
    "oversized_id",
    "oversized_prompt",
    "not_json",
)

_UNPARSEABLE_TIMESTAMPS = (
    "2026-13-45T25:61:00Z",
    "yesterday",
    "10/03/2026 14:22",
    "NaN",
    "2026-10-05 at noon",
)
_UNKNOWN_EVENT_TYPES = ("superlike", "hover", "impresion", "long_press")
_FAR_FUTURE_MS = int(datetime(2099, 1, 1, tzinfo=UTC).timestamp() * 1000)


def allowed_malformed_kinds(
    record_kind: str, file_format: FileFormat, epoch_timestamps: bool
) -> tuple[str, ...]:
    """The malformed kinds a file can carry: Parquet has typed columns, only JSON Lines has lines."""
    kinds = EVENT_MALFORMED_KINDS if record_kind == EVENTS else GENERATION_MALFORMED_KINDS
    excluded = set()
    if file_format != "jsonl" and file_format != "jsonl.gz":
        excluded.add("not_json")
    if file_format == "parquet":
        excluded.add("wrong_type")
        if epoch_timestamps:
            excluded.add("unparseable_timestamp")
    return tuple(k for k in kinds if k not in excluded)


def corrupt_records(
    wire: pl.DataFrame,
    record_kind: str,
    kinds: tuple[str, ...],
    malformed: np.ndarray,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Break the rows flagged in `malformed`, one kind each, recording `_malformed` and `_field`.

    Typed breakage is applied to the columns; breakage a typed column cannot hold is left as text
    overrides: `_ts_text` (unparseable timestamp), `_wrong_type` (a number sent as text), `_raw_line`.
    """
    layout = RECORD_LAYOUTS[record_kind]
    frame = _assign_malformed_kinds(wire, layout, kinds, malformed, rng)
    is_kind = _kind_masks()
    frame = frame.with_columns(_field=_broken_field(layout, is_kind))
    updates = _required_field_breakage(layout, is_kind)
    if record_kind == EVENTS:
        updates |= _event_breakage(updates, is_kind)
    else:
        updates |= _generation_breakage(updates, is_kind)
    frame = frame.with_columns(**updates)
    return frame.with_columns(**_text_overrides(record_kind, layout, is_kind)).drop(
        "_missing", "_id_target", "_pick"
    )


def _assign_malformed_kinds(
    wire: pl.DataFrame,
    layout: RecordLayout,
    kinds: tuple[str, ...],
    malformed: np.ndarray,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Each flagged row's kind (`_malformed`), and per row the required field a `missing_field` row
    drops, the id an `oversized_id` row pads, and a number picking among variants (`_pick`)."""
    n = wire.height
    kind_code = np.where(malformed, rng.integers(0, len(kinds), n), len(kinds))
    return wire.with_columns(
        _malformed=pl.Series([*kinds, None], dtype=pl.String).gather(kind_code),
        _missing=pl.Series(layout.required).gather(rng.integers(0, len(layout.required), n)),
        _id_target=pl.Series(layout.id_fields).gather(rng.integers(0, len(layout.id_fields), n)),
        _pick=pl.Series(rng.integers(0, 1 << 30, n)),
    )


def _kind_masks() -> dict[str, pl.Expr]:
    """Per malformed kind: is the row broken that way (false for valid rows)."""
    k = pl.col("_malformed")
    return {
        name: (k == name).fill_null(False)
        for name in (*EVENT_MALFORMED_KINDS, *GENERATION_MALFORMED_KINDS)
    }


def _broken_field(layout: RecordLayout, is_kind: dict[str, pl.Expr]) -> pl.Expr:
    """The field a broken row breaks (null for valid rows and for `not_json`)."""
    return (
        pl.when(is_kind["missing_field"])
        .then(pl.col("_missing"))
        .when(is_kind["oversized_id"])
        .then(pl.col("_id_target"))
        .when(is_kind["oversized_prompt"])
        .then(pl.lit("prompt"))
        .when(is_kind["wrong_type"] | is_kind["negative_watch_ms"])
        .then(pl.lit(layout.wrong_type_field))
        .when(is_kind["non_positive_duration"])
        .then(pl.lit("duration_ms"))
        .when(is_kind["unknown_event_type"])
        .then(pl.lit("event_type"))
        .when(is_kind["unparseable_timestamp"] | is_kind["far_future_timestamp"])
        .then(pl.lit(layout.timestamp))
    )


def _required_field_breakage(
    layout: RecordLayout, is_kind: dict[str, pl.Expr]
) -> dict[str, pl.Expr]:
    """New values of the required columns: a dropped field, an oversized id, a far-future time."""
    updates: dict[str, pl.Expr] = {}
    missing = is_kind["missing_field"]
    for name in layout.required:
        column = layout.timestamp_ms if name == layout.timestamp else name
        base = pl.col(column)
        if name in layout.id_fields:
            base = (
                pl.when(is_kind["oversized_id"] & (pl.col("_id_target") == name))
                .then(pl.col(column) + pl.lit("-" + "f" * 130))
                .otherwise(base)
            )
        if name == layout.timestamp:
            base = (
                pl.when(is_kind["far_future_timestamp"])
                .then(pl.lit(_FAR_FUTURE_MS) + pl.col("_pick") * 97)
                .otherwise(base)
            )
        updates[column] = pl.when(missing & (pl.col("_missing") == name)).then(None).otherwise(base)
    return updates


def _event_breakage(updates: dict[str, pl.Expr], is_kind: dict[str, pl.Expr]) -> dict[str, pl.Expr]:
    """Events: an unknown event type, or a view with a negative or mistyped watch time."""
    event_type = (
        pl.when(is_kind["unknown_event_type"])
        .then(
            pl.lit(pl.Series(_UNKNOWN_EVENT_TYPES)).gather(
                pl.col("_pick") % len(_UNKNOWN_EVENT_TYPES)
            )
        )
        .when(is_kind["negative_watch_ms"] | is_kind["wrong_type"])
        .then(pl.lit("view"))
        .otherwise(updates["event_type"])
    )
    watch_ms = (
        pl.when(is_kind["negative_watch_ms"])
        .then(-(pl.col("_pick") % 5000) - 1)
        .when(is_kind["wrong_type"])
        .then(pl.col("watch_ms").fill_null(4213))
        .otherwise(pl.col("watch_ms"))
    )
    return {"event_type": event_type, "watch_ms": watch_ms}


def _generation_breakage(
    updates: dict[str, pl.Expr], is_kind: dict[str, pl.Expr]
) -> dict[str, pl.Expr]:
    """Generations: a duration of zero or less, or a prompt over the contract's length."""
    duration_ms = (
        pl.when(is_kind["non_positive_duration"])
        .then(-(pl.col("_pick") % 3) * 1000)
        .otherwise(updates["duration_ms"])
    )
    prompt = (
        pl.when(is_kind["oversized_prompt"])
        .then(pl.col("prompt") + pl.lit(", very" * 2100))
        .otherwise(updates["prompt"])
    )
    return {"duration_ms": duration_ms, "prompt": prompt}


def _text_overrides(
    record_kind: str, layout: RecordLayout, is_kind: dict[str, pl.Expr]
) -> dict[str, pl.Expr]:
    """Breakage a typed column cannot hold, as text: `_ts_text`, `_wrong_type`, `_raw_line`."""
    wrong_value = pl.col(layout.wrong_type_field).cast(pl.String) + pl.lit(
        "ms" if record_kind == EVENTS else " ms"
    )
    raw_line = (
        pl.when((pl.col("_pick") % 2) == 0)
        .then(
            pl.lit('{"' + layout.id_fields[0] + '": "')
            + pl.col(layout.id_fields[0]).str.slice(0, 12)
        )
        .otherwise(pl.lit("<html><body>502 Bad Gateway</body></html>"))
    )
    return {
        "_ts_text": pl.when(is_kind["unparseable_timestamp"]).then(
            pl.lit(pl.Series(_UNPARSEABLE_TIMESTAMPS)).gather(
                pl.col("_pick") % len(_UNPARSEABLE_TIMESTAMPS)
            )
        ),
        "_wrong_type": pl.when(is_kind["wrong_type"]).then(wrong_value),
        "_raw_line": pl.when(is_kind["not_json"]).then(raw_line),
    }
