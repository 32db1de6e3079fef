"""Reads and writes of the label tables: state watermark, engagement state, fitted model, labels, pairs.

Writes change only what differs: a label row or pair equal to its candidate is left alone (its
labeled_at / created_at stays); a replaced label row is copied to `labels_history` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from warehouse.engagement import IngestMark, query, register, run_statement

APPENDABLE_TABLES: frozenset[str] = frozenset(
    {
        "label_viewer_activity",
        "label_abnormal_viewers",
        "label_engagement",
        "label_engagement_cells",
        "label_engagement_slots",
        "label_model_parameters",
        "label_examination",
        "label_completion_quantiles",
        "label_source_reliability",
        "label_diagnostics",
    }
)
CANDIDATE_RELATIONS: frozenset[str] = frozenset(
    {
        "label_candidates",
        "label_changes",
        "label_pair_candidates",
        "label_pair_changes",
        "label_merged_viewer_activity",
    }
)


@dataclass(frozen=True)
class StateMark:
    """The label version and ingestion watermark some label output reflects."""

    label_version: str
    ingest: IngestMark


@dataclass(frozen=True)
class StoredModel:
    """The fitted label model stored for a label version: its parameters (one row each, as
    `features.label_parameters` writes them) and the completion reference of completion_score."""

    completion_quantiles: pl.DataFrame
    parameters: pl.DataFrame


def append_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    """Insert the frame's rows into `table` (columns matched by name); returns the row count."""
    if table not in APPENDABLE_TABLES:
        raise ValueError(f"not a label table rows are appended to: {table}")
    if frame.is_empty():
        return 0
    columns = con.table(table).columns
    # one contiguous batch: from the many small chunks of a query result the same rows cost DuckDB a
    # far longer checkpoint at commit (the 10M bench's last commit: 0.50 s against 0.29 s)
    con.from_arrow(frame.select(columns).rechunk().to_arrow()).insert_into(table)
    return frame.height


def _mark(row: dict[str, object]) -> StateMark:
    return StateMark(
        label_version=str(row["label_version"]),
        ingest=IngestMark(
            events_through=row["events_through"],  # type: ignore[arg-type]
            events_count=int(row["events_count"]),  # type: ignore[arg-type]
            generations_through=row["generations_through"],  # type: ignore[arg-type]
            generations_count=int(row["generations_count"]),  # type: ignore[arg-type]
        ),
    )


def state_mark(con: duckdb.DuckDBPyConnection) -> StateMark | None:
    """How far the engagement state has read, or None before the first run."""
    frame = query(con, "label/label_state")
    return None if frame.is_empty() else _mark(frame.row(0, named=True))


def set_state_mark(con: duckdb.DuckDBPyConnection, mark: StateMark, now: datetime) -> None:
    """Record how far the engagement state has read."""
    run_statement(con, "label/watermarks", "clear_state")
    run_statement(
        con,
        "label/watermarks",
        "insert_state",
        {
            "label_version": mark.label_version,
            "events_through": mark.ingest.events_through,
            "events_count": mark.ingest.events_count,
            "generations_through": mark.ingest.generations_through,
            "generations_count": mark.ingest.generations_count,
            "updated_at": now,
        },
    )


def last_run_mark(con: duckdb.DuckDBPyConnection) -> StateMark | None:
    """The watermark the current labels and pairs reflect, or None before the first run."""
    frame = query(con, "label/last_label_run")
    return None if frame.is_empty() else _mark(frame.row(0, named=True))


def clear_viewer_activity(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the running per-viewer counts (a full rebuild recounts them)."""
    run_statement(con, "label/replace_state", "clear_viewer_activity")


def store_viewer_activity(
    con: duckdb.DuckDBPyConnection, merged: pl.DataFrame, *, replacing: bool = True
) -> None:
    """Replace the counts of the viewers in `merged` by their merged counts (`replacing=False`: the
    table holds none of them, e.g. just cleared for a rebuild, and they are only added)."""
    if replacing:
        _register_candidates(con, "label_merged_viewer_activity", merged.select("viewer_id"))
        run_statement(con, "label/replace_state", "delete_merged_viewer_activity")
    append_rows(con, "label_viewer_activity", merged)


def abnormal_viewers(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The viewers currently excluded from labels."""
    return query(con, "label/abnormal_viewers")


def replace_abnormal_viewers(
    con: duckdb.DuckDBPyConnection, flagged: pl.DataFrame, label_version: str, now: datetime
) -> None:
    """Make `flagged` (viewer_id, reason, events, like_share) the set of excluded viewers."""
    run_statement(con, "label/replace_state", "clear_abnormal_viewers")
    append_rows(
        con,
        "label_abnormal_viewers",
        flagged.with_columns(label_version=pl.lit(label_version), flagged_at=pl.lit(now)),
    )


TOUCHED_ROW_TABLES: dict[str, str] = {
    "label_engagement_slots": "delete_touched_slots",
    "label_engagement": "delete_touched_engagement",
    "label_engagement_cells": "delete_touched_cells",
}
"""State tables keyed by generation, with the block of `label/replace_state` that drops the touched
generations' rows."""
FIT_TABLES: dict[str, str] = {
    "label_examination": "delete_examination",
    "label_completion_quantiles": "delete_completion_quantiles",
    "label_model_parameters": "delete_model_parameters",
    "label_source_reliability": "delete_source_reliability",
}
"""Tables of the fitted label model, with the block of `label/replace_state` that drops a label version's rows."""


def replace_touched_rows(
    con: duckdb.DuckDBPyConnection, table: str, touched: pl.DataFrame, rows: pl.DataFrame
) -> None:
    """Swap the rows of the touched generations in a state table (exposure slots, engagement) for fresh ones."""
    if table not in TOUCHED_ROW_TABLES:
        raise ValueError(f"not a per-generation label state table: {table}")
    register(
        con, "label_touched_generations", touched.select(pl.col("generation_id").cast(pl.String))
    )
    run_statement(con, "label/replace_state", TOUCHED_ROW_TABLES[table])
    append_rows(con, table, rows)


def sampled_slots(
    con: duckdb.DuckDBPyConnection, generations_through: datetime | None
) -> pl.DataFrame:
    """Organic exposure slots of the sampled generations known by the mark, in a fixed order, with a dense index."""
    return query(con, "label/exposure_slots", {"generations_through": generations_through})


def engagement_state(
    con: duckdb.DuckDBPyConnection, generations_through: datetime | None
) -> pl.DataFrame:
    """The engagement of every generation known by the mark, with its record fields."""
    return query(con, "label/engagement_state", {"generations_through": generations_through})


def engagement_cells(
    con: duckdb.DuckDBPyConnection, generations_through: datetime | None
) -> pl.DataFrame:
    """The engagement cells (viewer half x period) of every generation known by the mark."""
    return query(con, "label/engagement_cells", {"generations_through": generations_through})


def stored_examination(con: duckdb.DuckDBPyConnection, label_version: str) -> pl.DataFrame | None:
    """The examination curve adopted for `label_version` (surface, position, impressions, views, propensity), or None."""
    curve = query(con, "label/adopted_examination", {"label_version": label_version})
    if curve.is_empty():
        return None
    return curve.with_columns(
        pl.col("position").cast(pl.Int64),
        pl.col("impressions").cast(pl.Int64),
        pl.col("views").cast(pl.Int64),
    )


def store_examination(
    con: duckdb.DuckDBPyConnection, curve: pl.DataFrame, label_version: str, now: datetime
) -> None:
    """Replace the examination curve stored for `label_version`."""
    _replace_fit(con, "label_examination", curve, label_version, now)


def stored_model(con: duckdb.DuckDBPyConnection, label_version: str) -> StoredModel | None:
    """The label model adopted for `label_version`, or None if there is none yet."""
    at = {"label_version": label_version}
    parameters = query(con, "label/adopted_model_parameters", at)
    if parameters.is_empty():
        return None
    return StoredModel(
        completion_quantiles=query(con, "label/adopted_completion_quantiles", at),
        parameters=parameters,
    )


def store_model(
    con: duckdb.DuckDBPyConnection, model: StoredModel, label_version: str, now: datetime
) -> None:
    """Replace the model stored for `label_version`."""
    _replace_fit(con, "label_completion_quantiles", model.completion_quantiles, label_version, now)
    _replace_fit(con, "label_model_parameters", model.parameters, label_version, now)


def store_diagnostics(
    con: duckdb.DuckDBPyConnection, diagnostics: pl.DataFrame, label_version: str, now: datetime
) -> int:
    """Append a run's truth-free diagnostics (one row per score) to `label_diagnostics`."""
    stamped = diagnostics.with_columns(computed_at=pl.lit(now), label_version=pl.lit(label_version))
    return append_rows(con, "label_diagnostics", stamped)


def stored_source_reliability(
    con: duckdb.DuckDBPyConnection, label_version: str
) -> pl.DataFrame | None:
    """The studio-source reliability adopted for `label_version`, or None."""
    frame = query(con, "label/adopted_source_reliability", {"label_version": label_version})
    return None if frame.is_empty() else frame


def store_source_reliability(
    con: duckdb.DuckDBPyConnection, reliability: pl.DataFrame, label_version: str, now: datetime
) -> None:
    """Replace the studio-source reliability stored for `label_version`."""
    _replace_fit(con, "label_source_reliability", reliability, label_version, now)


def _replace_fit(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    label_version: str,
    now: datetime,
) -> None:
    """Drop the `table` rows of `label_version` (its block in FIT_TABLES), then insert `frame` stamped with it."""
    run_statement(con, "label/replace_state", FIT_TABLES[table], {"label_version": label_version})
    append_rows(
        con, table, frame.with_columns(label_version=pl.lit(label_version), fitted_at=pl.lit(now))
    )


def _register_candidates(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    if name not in CANDIDATE_RELATIONS:
        raise ValueError(f"not a candidate relation: {name}")
    con.register(name, frame.to_arrow())


def write_labels(con: duckdb.DuckDBPyConnection, candidates: pl.DataFrame, now: datetime) -> int:
    """Make `labels` hold the candidate rows, rewriting only rows that changed (old rows go to labels_history)."""
    _register_candidates(con, "label_candidates", candidates)
    changes = query(con, "label/label_changes")
    if changes.is_empty():
        return 0
    _register_candidates(con, "label_changes", changes)
    run_statement(con, "label/write_labels", "archive_changed", {"superseded_at": now})
    run_statement(con, "label/write_labels", "delete_changed")
    run_statement(con, "label/write_labels", "insert_changed", {"labeled_at": now})
    return changes.height


def write_pairs(
    con: duckdb.DuckDBPyConnection, candidates: pl.DataFrame, now: datetime
) -> tuple[int, int]:
    """Make `preference_pairs` equal the candidates, touching only pairs that differ; returns (added, removed)."""
    _register_candidates(con, "label_pair_candidates", candidates)
    changes = query(con, "label/pair_changes")
    if changes.is_empty():
        return 0, 0
    _register_candidates(con, "label_pair_changes", changes)
    run_statement(con, "label/write_pairs", "delete_removed")
    run_statement(con, "label/write_pairs", "insert_added", {"created_at": now})
    added = changes.filter(pl.col("change") == "add").height
    return added, changes.height - added


def record_run(
    con: duckdb.DuckDBPyConnection,
    mark: StateMark,
    *,
    model_refit: bool,
    labels_written: int,
    pairs_written: int,
    pairs_deleted: int,
    started_at: datetime,
    finished_at: datetime,
) -> None:
    """Record a label run and the watermark its output reflects."""
    run_statement(
        con,
        "label/watermarks",
        "insert_run",
        {
            "label_version": mark.label_version,
            "events_through": mark.ingest.events_through,
            "events_count": mark.ingest.events_count,
            "generations_through": mark.ingest.generations_through,
            "generations_count": mark.ingest.generations_count,
            "model_refit": model_refit,
            "labels_written": labels_written,
            "pairs_written": pairs_written,
            "pairs_deleted": pairs_deleted,
            "started_at": started_at,
            "finished_at": finished_at,
        },
    )
