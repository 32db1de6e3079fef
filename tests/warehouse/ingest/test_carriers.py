"""Carrier relations: the text-record SQL generated from the contract, and Parquet column classes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest

import warehouse.ingest.contract as ingest_contract
from landing.contract import EVENTS, GENERATIONS, ContractField, field_names
from warehouse.ingest.carriers import (
    CARRIER_EXPRESSIONS,
    EXPRESSIONS,
    parquet_column_class,
    records_carriers_sql,
)
from warehouse.ingest.contract import CARRIERS, contract_fields
from warehouse.sql_files import sql_statements

LINE_COLUMNS = ["row_number", "record_bytes", "raw", "src", "line_reason", "line_detail", "extra"]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    yield connection
    connection.close()


def carriers(
    con: duckdb.DuckDBPyConnection, kind: str, records: list[tuple[str, bool]]
) -> list[dict[str, object]]:
    """The carrier rows of (raw record, text_typed) pairs, as dicts in record order."""
    raws = [raw for raw, _ in records]
    con.register(
        "ingest_records",
        pa.table(
            {
                "row_number": pa.array(range(1, len(raws) + 1), pa.int64()),
                "record_bytes": pa.array([len(raw) for raw in raws], pa.int64()),
                "raw": pa.array(raws, pa.string()),
                "text_typed": pa.array([text_typed for _, text_typed in records], pa.bool_()),
                "line_reason": pa.array([None] * len(raws), pa.string()),
                "line_detail": pa.array([None] * len(raws), pa.string()),
            }
        ),
    )
    relation = con.sql(records_carriers_sql(kind))
    result = relation.order("row_number")
    return [dict(zip(relation.columns, row, strict=True)) for row in result.fetchall()]


@pytest.mark.parametrize("kind", [EVENTS, GENERATIONS])
def test_one_present_column_and_one_column_per_carrier_of_each_field_in_contract_order(
    con, kind
) -> None:
    (row,) = carriers(con, kind, [("{}", False)])
    expected = list(LINE_COLUMNS)
    for field in contract_fields(kind):
        expected.append(f"{field.name}__present")
        expected.extend(f"{field.name}__{suffix}" for suffix, _ in CARRIERS[field.value_type])
    assert list(row) == expected
    assert not any(row[f"{name}__present"] for name in field_names(kind))


def test_event_values_land_in_the_carrier_of_their_json_type_and_extra_keys_are_kept(con) -> None:
    record = {
        "event_id": "e1",
        "event_type": "view",
        "occurred_at": 1714564800000,
        "position": 3,
        "watch_ms": "12",
        "surface": None,
        "zzz": [1],
    }
    (row,) = carriers(con, EVENTS, [(json.dumps(record), False)])
    assert (row["event_id__present"], row["event_id__s"]) == (True, "e1")
    assert (row["occurred_at__s"], row["occurred_at__i"], row["occurred_at__t"]) == (
        None,
        1714564800000,
        None,
    )
    assert (row["position__i"], row["watch_ms__present"], row["watch_ms__i"]) == (3, True, None)
    assert (row["surface__present"], row["viewer_id__present"]) == (False, False)
    assert json.loads(row["extra"]) == {"zzz": [1]}


def test_csv_text_is_read_as_integers_timestamps_numbers_booleans_and_json_lists(con) -> None:
    record = {
        "generation_id": "g1",
        "created_at": "1714564800000",
        "duration_ms": "+5000",
        "width": "1.5",
        "fps": "2.5e1",
        "training_consent": "FALSE",
        "reference_inputs": '[{"kind": "image", "uri": "s3://x"}]',
        "output_embedding": "[1, 2.5]",
        "content_flags": '["nsfw", 3]',
    }
    (row,) = carriers(con, GENERATIONS, [(json.dumps(record), True)])
    assert (row["created_at__s"], row["created_at__i"]) == (None, 1714564800000)
    assert (row["duration_ms__i"], row["width__present"], row["width__i"]) == (5000, True, None)
    assert (row["fps__d"], row["training_consent__b"]) == (25.0, False)
    assert row["reference_inputs__l"] == [{"kind": "image", "uri": "s3://x"}]
    assert row["output_embedding__l"] == [1.0, 2.5]
    assert (row["content_flags__present"], row["content_flags__l"]) == (True, None)
    assert row["extra"] is None


def test_json_text_is_not_read_as_numbers_outside_csv(con) -> None:
    record = {"generation_id": "g1", "created_at": "1714564800000", "duration_ms": "5000"}
    (row,) = carriers(con, GENERATIONS, [(json.dumps(record), False)])
    assert (row["created_at__s"], row["created_at__i"]) == ("1714564800000", None)
    assert (row["duration_ms__present"], row["duration_ms__i"]) == (True, None)


def test_every_carrier_has_an_expression_block() -> None:
    pairs = {(kind, suffix) for kind, carriers in CARRIERS.items() for suffix, _ in carriers}
    assert set(CARRIER_EXPRESSIONS) == pairs
    blocks = {statement.name for statement in sql_statements(EXPRESSIONS)}
    assert set(CARRIER_EXPRESSIONS.values()) <= blocks


def test_only_plain_field_names_and_known_types_reach_the_sql(monkeypatch) -> None:
    with pytest.raises(ValueError, match="unknown record kind"):
        contract_fields("views")
    monkeypatch.setattr(
        ingest_contract, "CONTRACTS", {EVENTS: (ContractField('id" or 1=1 --', "string"),)}
    )
    with pytest.raises(ValueError, match="not a plain name"):
        contract_fields(EVENTS)
    monkeypatch.setattr(ingest_contract, "CONTRACTS", {EVENTS: (ContractField("id", "uuid"),)})
    with pytest.raises(ValueError, match="has no carriers"):
        contract_fields(EVENTS)


@pytest.mark.parametrize(
    ("type_name", "expected"),
    [
        ("VARCHAR[]", "list"),
        ("UBIGINT", "integer"),
        ("DECIMAL(18,3)", "float"),
        ("FLOAT", "float"),
        ("TIMESTAMP WITH TIME ZONE", "timestamptz"),
        ("TIMESTAMP_NS", "naive_time"),
        ("DATE", "naive_time"),
        ("BOOLEAN", "boolean"),
        ("VARCHAR", "varchar"),
        ("BLOB", "other"),
    ],
)
def test_parquet_column_classes(type_name: str, expected: str) -> None:
    assert parquet_column_class(type_name) == expected
