"""The model's and the export's reads of generation records go through one staging view, stg_generations."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from warehouse.connection import connect
from warehouse.erase import personal_tables
from warehouse.export import read_export_inputs
from warehouse.registry import (
    read_model_inputs,
    read_request_generations,
    read_unscored_generations,
    stage_generations,
)

T0 = datetime(2026, 10, 1, tzinfo=UTC)
MODEL_COLUMNS = [
    "generation_id",
    "request_id",
    "created_at",
    "prompt",
    "model_version",
    "duration_ms",
    "width",
    "height",
    "fps",
    "reference_inputs",
    "output_embedding",
]


def warehouse_with_generations():
    """g2 is created before g1; g3 belongs to another request and names its creator in the prompt."""
    con = connect()
    frame = pl.DataFrame(
        {
            "generation_id": ["g1", "g2", "g3"],
            "request_id": ["r1", "r1", "r2"],
            "creator_id": ["c1", "c1", "c9"],
            "prompt": ["a cat", "a dog", "by c9"],
            "model_version": ["m1", "m2", "m1"],
            "created_at": [datetime(2026, 10, 1, 12, tzinfo=UTC), T0, T0],
            "duration_ms": [4000, 6000, 5000],
            "width": [640, 640, 320],
            "output_embedding": [[0.5, 0.25], [1.0, 0.0], [0.0, 1.0]],
            "source_file": ["test"] * 3,
            "source_row": [0, 1, 2],
            "ingested_at": [T0] * 3,
        },
        schema_overrides={"width": pl.Int32, "output_embedding": pl.List(pl.Float32)},
    )
    con.register("new_generations", frame.to_arrow())
    con.execute("insert into generations by name select * from new_generations").fetchall()
    con.unregister("new_generations")
    con.execute(
        "insert into labels (generation_id, label_version, impressions, views, likes, favorites,"
        " shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates,"
        " quality_score, quality_low, quality_high, label, labeled_at)"
        " values ('g3', 'lv', 10, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.7, 0.6, 0.8, 'good', ?)",
        [T0],
    )
    return con


def test_the_staging_view_is_temporary_and_never_part_of_the_warehouse() -> None:
    con = warehouse_with_generations()
    stage_generations(con)
    stage_generations(con)  # refreshing it is harmless
    catalogs = con.execute(
        "select table_catalog, table_type from information_schema.tables"
        " where table_name = 'stg_generations'"
    ).fetchall()
    assert catalogs == [("temp", "VIEW")]
    assert "stg_generations" not in personal_tables(con)
    assert con.execute("select count(*) from stg_generations").fetchall() == [(3,)]


def test_model_reads_see_the_generation_facts_through_the_staging_view() -> None:
    con = warehouse_with_generations()
    inputs = read_model_inputs(con)
    assert inputs.generations.columns == MODEL_COLUMNS
    assert inputs.generations["generation_id"].to_list() == ["g2", "g3", "g1"]  # by created_at, id
    assert inputs.generations["width"].to_list() == [640, 320, 640]
    assert inputs.labels["generation_id"].to_list() == ["g3"]

    request = read_request_generations(con, "r1")
    assert request.columns == [*MODEL_COLUMNS, "quality_score"]
    assert request["generation_id"].to_list() == ["g1", "g2"]
    assert request["quality_score"].to_list() == [None, None]

    unscored = read_unscored_generations(con, "model-x", 2)
    assert unscored.columns == MODEL_COLUMNS
    assert unscored["generation_id"].to_list() == ["g1", "g2"]


def test_export_facts_come_from_the_same_staging_view() -> None:
    con = warehouse_with_generations()
    facts = read_export_inputs(con).facts
    assert facts["generation_id"].to_list() == ["g3"]
    row = facts.row(0, named=True)
    assert (row["has_generation"], row["request_id"], row["names_creator"]) == (True, "r2", True)
    assert (row["training_consent"], row["content_flag_count"], row["label"]) == (True, 0, "good")
