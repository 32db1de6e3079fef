"""Warehouse side of the dataset export: read pairs and generation facts, record what was exported."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from warehouse.connection import transaction
from warehouse.registry import stage_generations
from warehouse.sql_files import sql_statement, sql_text


@dataclass(frozen=True)
class ChampionModel:
    """The preference model that is champion when the export is taken."""

    model_id: str
    model_kind: str
    label_version: str
    created_at: datetime


@dataclass(frozen=True)
class ExportInputs:
    """Everything an export is built from, read in one transaction so it is one consistent state."""

    pairs: pl.DataFrame
    facts: pl.DataFrame
    latest_label_version: str | None
    as_of: datetime | None
    champion: ChampionModel | None


@dataclass(frozen=True)
class ExportRecord:
    """One export as the `exports` table records it."""

    export_id: str
    as_of: datetime | None
    parameters: dict[str, object]
    label_version: str
    champion_model_id: str | None
    counts: dict[str, dict[str, int]]
    exclusions: dict[str, dict[str, int]]
    path: str
    pair_merging: dict[str, object]


def read_export_inputs(con: duckdb.DuckDBPyConnection) -> ExportInputs:
    """Pairs, generation facts, newest label_version, as-of time and champion, from one snapshot."""
    with transaction(con):
        stage_generations(con)
        pairs = con.sql(sql_text("export/preference_pairs")).pl()
        facts = con.sql(sql_text("export/generation_facts")).pl()
        state = con.execute(sql_text("export/warehouse_state")).fetchone()
        champion_row = con.execute(sql_text("export/champion_model")).fetchone()
    assert state is not None
    latest_label_version, as_of = state[0], state[1]
    champion = ChampionModel(*champion_row) if champion_row else None
    return ExportInputs(
        pairs=pairs,
        facts=facts,
        latest_label_version=latest_label_version,
        as_of=as_of,
        champion=champion,
    )


def record_export(
    con: duckdb.DuckDBPyConnection, record: ExportRecord, membership: pl.DataFrame
) -> bool:
    """Insert the export and its per-row membership; False if this export_id was already recorded at this path."""
    params = {
        "export_id": record.export_id,
        "as_of": record.as_of,
        "parameters": json.dumps(record.parameters, sort_keys=True),
        "label_version": record.label_version,
        "champion_model_id": record.champion_model_id,
        "counts": json.dumps(record.counts, sort_keys=True),
        "exclusions": json.dumps(record.exclusions, sort_keys=True),
        "pair_merging": json.dumps(record.pair_merging, sort_keys=True),
        "path": record.path,
    }
    with transaction(con):
        before = con.execute(
            sql_statement("export/record", "export_recorded"),
            {"export_id": record.export_id, "path": record.path},
        ).fetchone()
        con.execute(sql_statement("export/record", "insert_export"), params)
        con.register("export_membership", membership.to_arrow())
        try:
            con.execute(
                sql_statement("export/record", "insert_export_rows"),
                {"export_id": record.export_id},
            )
        finally:
            con.unregister("export_membership")
    return not (before and before[0])
