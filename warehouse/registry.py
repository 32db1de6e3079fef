"""Warehouse side of the preference model: read its inputs, register models, crown champions, store scores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from warehouse.connection import transaction
from warehouse.sql_files import sql_statement, sql_text


@dataclass(frozen=True)
class ModelInputs:
    """Generations (facts known at generation time), current labels and preference pairs, read together."""

    generations: pl.DataFrame
    labels: pl.DataFrame
    pairs: pl.DataFrame


@dataclass(frozen=True)
class RegisteredModel:
    """One `model_registry` row."""

    model_id: str
    created_at: datetime
    model_kind: str
    label_version: str
    feature_spec_hash: str
    train_start: datetime | None
    train_end: datetime | None
    test_start: datetime | None
    test_end: datetime | None
    metrics: dict[str, Any]
    artifact_path: str
    artifact_sha256: str


@dataclass(frozen=True)
class ChampionDecisionRecord:
    """One `champion_history` row: the decision taken on a challenger."""

    model_id: str
    decided_at: datetime
    promoted: bool
    previous_champion_id: str | None
    challenger_metric: float | None
    champion_metric: float | None
    reason: str


def stage_generations(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or refresh) the connection's temporary view `stg_generations`: the generation facts the
    model and export SQL read (`sql/model/stg_generations.sql`)."""
    con.execute(sql_text("model/stg_generations"))


def read_model_inputs(con: duckdb.DuckDBPyConnection) -> ModelInputs:
    """Generations, labels and pairs from one consistent snapshot of the warehouse."""
    with transaction(con):
        stage_generations(con)
        generations = con.sql(sql_text("model/generations")).pl()
        labels = con.sql(sql_text("model/labels")).pl()
        pairs = con.sql(sql_text("model/preference_pairs")).pl()
    return ModelInputs(generations, labels, pairs)


def read_champion(con: duckdb.DuckDBPyConnection) -> RegisteredModel | None:
    """The current champion, or None before the first promotion."""
    rows = con.sql(sql_text("model/champion")).pl()
    if rows.height == 0:
        return None
    values = rows.row(0, named=True)
    values["metrics"] = json.loads(values["metrics"]) if values["metrics"] else {}
    return RegisteredModel(**values)


def register_model_and_decision(
    con: duckdb.DuckDBPyConnection, model: RegisteredModel, decision: ChampionDecisionRecord
) -> None:
    """Insert the model and its promotion decision; crown it if promoted, all in one transaction."""
    params = {
        "model_id": model.model_id,
        "created_at": model.created_at,
        "model_kind": model.model_kind,
        "label_version": model.label_version,
        "feature_spec_hash": model.feature_spec_hash,
        "train_start": model.train_start,
        "train_end": model.train_end,
        "test_start": model.test_start,
        "test_end": model.test_end,
        "metrics": json.dumps(model.metrics, sort_keys=True, allow_nan=False),
        "artifact_path": model.artifact_path,
        "artifact_sha256": model.artifact_sha256,
    }
    with transaction(con):
        con.execute(sql_statement("model/register_model", "insert_model"), params)
        con.execute(
            sql_statement("model/register_model", "insert_champion_history"),
            {
                "model_id": decision.model_id,
                "decided_at": decision.decided_at,
                "promoted": decision.promoted,
                "previous_champion_id": decision.previous_champion_id,
                "challenger_metric": decision.challenger_metric,
                "champion_metric": decision.champion_metric,
                "reason": decision.reason,
            },
        )
        if decision.promoted:
            con.execute(sql_statement("model/register_model", "clear_champion"))
            con.execute(
                sql_statement("model/register_model", "crown_champion"),
                {"model_id": model.model_id},
            )


def read_unscored_generations(
    con: duckdb.DuckDBPyConnection, model_id: str, batch_size: int
) -> pl.DataFrame:
    """Up to `batch_size` generations that `model_id` has not scored yet."""
    stage_generations(con)
    return con.sql(
        sql_text("model/unscored_generations"),
        params={"model_id": model_id, "batch_size": batch_size},
    ).pl()


def insert_scores(con: duckdb.DuckDBPyConnection, scores: pl.DataFrame, scored_at: datetime) -> int:
    """Append (generation_id, model_id, score) rows not already stored; returns rows inserted."""
    con.register("new_scores", scores.select("generation_id", "model_id", "score"))
    try:
        inserted = con.execute(
            sql_statement("model/store_scores", "insert_new_scores"), {"scored_at": scored_at}
        ).fetchall()
    finally:
        con.unregister("new_scores")
    return int(inserted[0][0]) if inserted else 0


def read_request_generations(con: duckdb.DuckDBPyConnection, request_id: str) -> pl.DataFrame:
    """A request's candidates with the features' columns and their current quality_score (or null)."""
    stage_generations(con)
    return con.sql(sql_text("model/request_generations"), params={"request_id": request_id}).pl()


def model_trained_on(con: duckdb.DuckDBPyConnection, kind: str, fingerprint: str) -> str | None:
    """The model_id of a registered `kind` model trained on inputs with this fingerprint, or None."""
    row = con.execute(
        sql_text("model/trained_on"), {"model_kind": kind, "fingerprint": fingerprint}
    ).fetchone()
    return row[0] if row else None
