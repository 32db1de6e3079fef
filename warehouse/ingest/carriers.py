"""Carrier relations: a file's rows with each contract field in typed carrier columns
(`<field>__present` and one `<field>__<suffix>` per representation in `CARRIERS`), what judging
reads. Text records get SQL generated from the contract (identifiers only from it, quoted);
Parquet files get relation expressions built from their schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache

import duckdb

from landing.contract import ContractField
from warehouse.ingest.contract import (
    CARRIER_SOURCES,
    CARRIERS,
    carrier_column,
    contract_fields,
)
from warehouse.ingest.parquet_source import ParquetSource
from warehouse.snapshot import quoted_identifier
from warehouse.sql_files import sql_statement, sql_text

EXPRESSIONS = "ingest/carrier_expressions"
# the block of ingest/carrier_expressions that fills each carrier column of text records
CARRIER_EXPRESSIONS: dict[tuple[str, str], str] = {
    ("string", "s"): "string_text",
    ("integer", "i"): "integer",
    ("number", "d"): "number",
    ("boolean", "b"): "boolean",
    ("timestamp", "s"): "timestamp_text",
    ("timestamp", "i"): "timestamp_epoch_ms",
    ("timestamp", "t"): "timestamp_typed",
    ("references", "l"): "references",
    ("embedding", "l"): "embedding",
    ("string_list", "l"): "string_list",
}
SEPARATOR = ",\n"

INTEGER_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
    }
)


@cache
def records_carriers_sql(kind: str) -> str:
    """The query turning `ingest_records` into the carrier columns of `kind`'s contract fields."""
    fields = contract_fields(kind)
    json_paths = quoted_json_paths(fields)
    null_patch = quoted_null_patch(fields)
    field_values = quoted_field_values(fields)
    carrier_columns = quoted_carrier_columns(fields)
    return sql_text("ingest/carriers_from_records").format(
        json_paths=json_paths,
        null_patch=null_patch,
        field_values=field_values,
        carrier_columns=carrier_columns,
    )


def quoted_literal(text: str) -> str:
    """`'text'`, quotes doubled: a SQL string literal of a constant of ours."""
    return "'" + text.replace("'", "''") + "'"


def quoted_json_paths(fields: Sequence[ContractField]) -> str:
    """The JSON paths of the fields, in contract order, as SQL string literals."""
    return ", ".join(quoted_literal(f"$.{f.name}") for f in fields)


def quoted_null_patch(fields: Sequence[ContractField]) -> str:
    """A JSON object setting every field to null, as a SQL string literal: merged into a record
    it leaves the keys that are not contract fields (the record's `extra`)."""
    return quoted_literal(json.dumps({f.name: None for f in fields}))


def _is_list(contract_field: ContractField) -> bool:
    """List fields arrive as JSON arrays and have one typed-list carrier."""
    return all(suffix == "l" for suffix, _ in CARRIERS[contract_field.value_type])


def quoted_placeholders(contract_field: ContractField, index: int) -> dict[str, str]:
    """The quoted column names (and the integer position) the expression blocks refer to for one
    field: every value is a quoted identifier or a number, never input text."""
    name = contract_field.name
    return {
        "index": str(index),
        "kind": quoted_identifier(carrier_column(name, "kind")),
        "text": quoted_identifier(carrier_column(name, "text")),
        "json": quoted_identifier(carrier_column(name, "json")),
        "present": quoted_identifier(carrier_column(name, "present")),
    }


def quoted_field_values(fields: Sequence[ContractField]) -> str:
    """Per field, its JSON type and text (scalars) or presence and JSON (lists)."""
    blocks = {False: "scalar_field_values", True: "list_field_values"}
    return SEPARATOR.join(
        sql_statement(EXPRESSIONS, blocks[_is_list(f)]).format(**quoted_placeholders(f, index))
        for index, f in enumerate(fields, start=1)
    )


def quoted_carrier_columns(fields: Sequence[ContractField]) -> str:
    """Per field, `<field>__present` and its carrier columns, in contract and CARRIERS order."""
    columns = []
    for index, contract_field in enumerate(fields, start=1):
        placeholders = quoted_placeholders(contract_field, index)
        present = "list_present" if _is_list(contract_field) else "scalar_present"
        blocks = [(present, "present")] + [
            (CARRIER_EXPRESSIONS[(contract_field.value_type, suffix)], suffix)
            for suffix, _ in CARRIERS[contract_field.value_type]
        ]
        for block, suffix in blocks:
            expression = sql_statement(EXPRESSIONS, block).format(**placeholders)
            alias = quoted_identifier(carrier_column(contract_field.name, suffix))
            columns.append(f"{expression} as {alias}")
    return SEPARATOR.join(columns)


def parquet_column_class(type_name: str) -> str:
    """The class of a DuckDB column type that decides which carrier may take it."""
    if type_name.endswith("]"):
        return "list"
    if type_name in INTEGER_TYPES:
        return "integer"
    if type_name in ("FLOAT", "DOUBLE") or type_name.startswith("DECIMAL"):
        return "float"
    if type_name == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    if type_name.startswith("TIMESTAMP") or type_name == "DATE":
        return "naive_time"
    return {"VARCHAR": "varchar", "BOOLEAN": "boolean"}.get(type_name, "other")


def parquet_carriers(
    source: ParquetSource, fields: Sequence[ContractField]
) -> duckdb.DuckDBPyRelation:
    """Carrier columns of a Parquet file's rows, built from its schema by relation expressions."""
    column = duckdb.ColumnExpression
    constant = duckdb.ConstantExpression
    function = duckdb.FunctionExpression
    relation = source.relation
    types = {name: str(kind) for name, kind in zip(relation.columns, relation.types, strict=True)}
    data_columns = list(source.data_columns)
    contract_names = {f.name for f in fields}
    extra_columns = [name for name in data_columns if name not in contract_names]

    def as_json(names: Sequence[str]) -> duckdb.Expression:
        return function(
            "to_json", function("struct_pack", *[column(n).alias(n) for n in names])
        ).cast("VARCHAR")

    if source.bad_encoding_column is None:
        line_reason = line_detail = constant(None).cast("VARCHAR")
    else:
        bad = column(source.bad_encoding_column)
        line_reason = duckdb.CaseExpression(bad.isnotnull(), constant("bad_encoding"))
        line_detail = function("concat", bad, constant(": not valid UTF-8"))
    expressions = [
        (column(source.row_column) + constant(1)).alias("row_number"),
        constant(None).cast("BIGINT").alias("record_bytes"),
        constant(None).cast("VARCHAR").alias("raw"),
        # the whole row; judging turns it into JSON text only for rows that need their raw record
        function("struct_pack", *[column(n).alias(n) for n in data_columns]).alias("src"),
        line_reason.alias("line_reason"),
        line_detail.alias("line_detail"),
        (as_json(extra_columns) if extra_columns else constant(None).cast("VARCHAR")).alias(
            "extra"
        ),
    ]
    for contract_field in fields:
        expressions.extend(_parquet_field_carriers(contract_field, types))
    return relation.select(*expressions)


def _parquet_field_carriers(
    contract_field: ContractField, types: dict[str, str]
) -> list[duckdb.Expression]:
    """`<field>__present` and the carrier columns of one field from its Parquet column, if any:
    a column of a class a carrier accepts fills it, cast when its type differs; others are null."""
    column = duckdb.ColumnExpression
    constant = duckdb.ConstantExpression
    name = contract_field.name
    source_class = parquet_column_class(types[name]) if name in types else None
    present = column(name).isnotnull() if source_class else constant(False)
    expressions = [present.alias(carrier_column(name, "present"))]
    for suffix, sql_type in CARRIERS[contract_field.value_type]:
        if source_class in CARRIER_SOURCES[suffix]:
            value = column(name) if types[name] == sql_type else column(name).try_cast(sql_type)
        elif (
            contract_field.value_type == "timestamp"
            and suffix == "s"
            and source_class == "naive_time"
        ):
            value = column(name).cast("VARCHAR")  # no offset: judged bad_timestamp
        else:
            value = constant(None).cast(sql_type)
        expressions.append(value.alias(carrier_column(name, suffix)))
    return expressions
