"""Wire records: the fields each record kind carries (the contract's, then the simulator's extra unknown
fields), and the frame a file format holds for typed records: JSON value text, CSV text or typed columns,
timestamps as RFC 3339 text with a UTC offset or as epoch milliseconds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from landing.contract import EVENTS, GENERATIONS, field_names, required_field_names
from landing.simulate.config import SimulationConfig
from landing.writers import (
    FileFormat,
    json_lines,
    json_value_columns,
    text_columns,
    write_jsonl,
    write_records,
)

EVENT_EXTRA_FIELDS: tuple[str, ...] = ("experiment_arm",)
GENERATION_EXTRA_FIELDS: tuple[str, ...] = ("experiment_arm", "guidance_scale")
"""Fields outside the contract that some simulated rows carry, written after the contract's fields."""
EVENT_WIRE_FIELDS: tuple[str, ...] = (*field_names(EVENTS), *EVENT_EXTRA_FIELDS)
GENERATION_WIRE_FIELDS: tuple[str, ...] = (*field_names(GENERATIONS), *GENERATION_EXTRA_FIELDS)
EVENT_REQUIRED: tuple[str, ...] = required_field_names(EVENTS)
GENERATION_REQUIRED: tuple[str, ...] = required_field_names(GENERATIONS)


@dataclass(frozen=True)
class RecordLayout:
    """A record kind's written fields and required fields, its timestamp field (and the typed epoch-ms
    column it is written from), the numeric field that `wrong_type` rows break, and its id fields."""

    fields: tuple[str, ...]
    required: tuple[str, ...]
    timestamp: str
    timestamp_ms: str
    wrong_type_field: str
    id_fields: tuple[str, ...]


RECORD_LAYOUTS: dict[str, RecordLayout] = {
    EVENTS: RecordLayout(
        EVENT_WIRE_FIELDS,
        EVENT_REQUIRED,
        "occurred_at",
        "occurred_ms",
        "watch_ms",
        ("event_id", "generation_id", "viewer_id"),
    ),
    GENERATIONS: RecordLayout(
        GENERATION_WIRE_FIELDS,
        GENERATION_REQUIRED,
        "created_at",
        "created_ms",
        "duration_ms",
        ("generation_id",),
    ),
}


def _utc_offsets(config: SimulationConfig) -> tuple[pl.Series, pl.Series]:
    """Offset suffix texts and their minutes east of UTC."""
    minutes = []
    for text in config.utc_offsets:
        match = re.fullmatch(r"Z|([+-])(\d\d):(\d\d)", text)
        if match is None:
            raise ValueError(f"bad UTC offset {text!r}; use Z or +HH:MM")
        sign = -1 if match.group(1) == "-" else 1
        minutes.append(
            0 if text == "Z" else sign * (int(match.group(2)) * 60 + int(match.group(3)))
        )
    return pl.Series(config.utc_offsets), pl.Series(minutes, dtype=pl.Int64)


def rfc3339_expr(ms: pl.Expr, tz: pl.Expr, config: SimulationConfig) -> pl.Expr:
    """RFC 3339 text of epoch milliseconds in the local time of UTC offset number `tz`."""
    texts, minutes = _utc_offsets(config)
    offset_min = tz.replace_strict(
        list(range(len(texts))), minutes.to_list(), return_dtype=pl.Int64
    )
    offset_text = tz.replace_strict(
        list(range(len(texts))), texts.to_list(), return_dtype=pl.String
    )
    local = pl.from_epoch(ms + offset_min * 60_000, time_unit="ms")
    return local.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f") + offset_text


def wire_frame(
    records: pl.DataFrame,
    record_kind: str,
    file_format: FileFormat,
    config: SimulationConfig,
    epoch: pl.Series,
) -> tuple[pl.DataFrame, pl.Series | None]:
    """The frame to write for `file_format` (JSON value text, CSV text or typed), plus JSON raw-line overrides.

    `epoch` says per row whether the timestamp is written as epoch milliseconds (else RFC 3339).
    """
    layout = RECORD_LAYOUTS[record_kind]
    ts_ms = layout.timestamp_ms
    frame = records.with_columns(_epoch=epoch)
    rfc = rfc3339_expr(pl.col(ts_ms), pl.col("_tz"), config)
    has = set(frame.columns)
    ts_text = pl.col("_ts_text") if "_ts_text" in has else pl.lit(None, dtype=pl.String)
    wrong = pl.col("_wrong_type") if "_wrong_type" in has else pl.lit(None, dtype=pl.String)
    fields = [name for name in layout.fields if name == layout.timestamp or name in has]
    typed = [pl.col(name) for name in fields if name != layout.timestamp]
    if file_format == "parquet":
        ts = pl.col(ts_ms) if bool(epoch.all()) else pl.coalesce(ts_text, rfc)
        out = frame.select(
            [
                ts.alias(layout.timestamp) if name == layout.timestamp else pl.col(name)
                for name in fields
            ]
        )
        return out, None
    if file_format == "csv":
        text = text_columns(frame.select(typed))
        ts = pl.coalesce(
            ts_text, pl.when(pl.col("_epoch")).then(pl.col(ts_ms).cast(pl.String)).otherwise(rfc)
        )
        extra = frame.select(ts.alias(layout.timestamp), wrong.alias("_wrong"))
        out = pl.concat([text, extra], how="horizontal").with_columns(
            pl.coalesce(pl.col("_wrong"), pl.col(layout.wrong_type_field)).alias(
                layout.wrong_type_field
            )
        )
        return out.select(fields), None
    values = json_value_columns(frame.select(typed))
    quoted_ts = pl.lit('"') + pl.coalesce(ts_text, rfc) + pl.lit('"')
    ts = (
        pl.when(ts_text.is_null() & pl.col("_epoch"))
        .then(pl.col(ts_ms).cast(pl.String))
        .otherwise(quoted_ts)
    )
    extra = frame.select(
        ts.alias(layout.timestamp), (pl.lit('"') + wrong + pl.lit('"')).alias("_wrong")
    )
    out = pl.concat([values, extra], how="horizontal").with_columns(
        pl.coalesce(pl.col("_wrong"), pl.col(layout.wrong_type_field)).alias(
            layout.wrong_type_field
        )
    )
    raw = frame.get_column("_raw_line") if "_raw_line" in has else None
    return out.select(fields), raw


def write_wire(
    records: pl.DataFrame,
    record_kind: str,
    file_format: FileFormat,
    path: Path,
    config: SimulationConfig,
    rng: np.random.Generator,
    epoch_file: bool,
) -> int:
    """Write records as a `file_format` file; returns its size in bytes. Parquet files hold one
    timestamp representation (`epoch_file`), other formats mix them row by row."""
    n = records.height
    if file_format == "parquet":
        epoch = pl.Series(np.full(n, epoch_file))
    else:
        epoch = pl.Series(rng.random(n) < config.epoch_share)
    frame, raw = wire_frame(records, record_kind, file_format, config, epoch)
    if file_format in ("jsonl", "jsonl.gz"):
        return write_jsonl(json_lines(frame, raw), path, compress=file_format == "jsonl.gz")
    return write_records(frame, path, file_format)
