"""What ingest accepts: its rules, the file statuses and reason codes it records, and the carrier
columns each contract type is judged from (the fields themselves are `landing.contract`'s)."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa

from landing.contract import (
    CONTRACTS,
    EVENT_TYPES,
    RECORD_KINDS,
    REFERENCE_KINDS,
    SURFACES,
    ContractField,
)

KINDS: tuple[str, ...] = RECORD_KINDS

# ingest_files.status values
LOADED = "loaded"
EMPTY = "empty"
DUPLICATE_CONTENT = "duplicate_content"
UNREADABLE = "unreadable"
UNSUPPORTED = "unsupported_format"
NOT_REGULAR = "not_regular_file"  # a FIFO, socket, device, dangling link, link loop, linked folder
OUTSIDE_ROOT = "outside_landing_root"  # a link leading out of the landing root: never read
NO_CSV_HEADER = "no_csv_header"  # a CSV whose header names no contract field: every row quarantined
ALREADY_INGESTED = "already_ingested"  # returned by ingest_file for a no-op; never recorded
STAGED = "staged"  # StagedFile.status: its judged rows are in Parquet, ready to load

# reason codes of whole files (quarantine.row_number = 0)
UNREADABLE_FILE = "unreadable_file"
UNSUPPORTED_FILE = "unsupported_format"
NOT_REGULAR_FILE = NOT_REGULAR
OUTSIDE_ROOT_FILE = OUTSIDE_ROOT

# Row reason codes in precedence order: a row breaking several rules gets the first (fields in
# contract order within a rule). oversized_field comes first for a line over max_line_bytes, and
# again after empty_id for ids and prompts; embedding_dim_mismatch is checked across rows, last.
REASON_CODES: dict[str, str] = {
    "oversized_field": "line over max_line_bytes; id over max_id_chars; prompt over "
    "max_prompt_chars",
    "bad_encoding": "the line / CSV row is not valid UTF-8 (raw keeps it with \\xNN escapes)",
    "malformed_record": "empty line, not JSON, JSON that is not an object; CSV row with the wrong "
    "number of cells or broken quotes; every row of a CSV whose header names no contract field",
    "missing_field": "a required field is absent or null; watch_ms of a view",
    "bad_type": "a field of the wrong type (a number for a string id, 1.5 for an integer, an "
    "integer out of range, a non-finite float, a list of the wrong element type)",
    "empty_id": "a required id (or model_version) is empty or blank",
    "unknown_event_type": "event_type outside the contract's list",
    "bad_enum": "surface or reference_inputs[].kind outside its list",
    "bad_timestamp": "not RFC 3339 with an offset nor integer epoch milliseconds (Parquet: a "
    "timestamp without time zone), or before min_timestamp",
    "future_timestamp": "later than ingest time plus max_future_skew",
    "negative_value": "position or watch_ms < 0; duration_ms, width, height or fps <= 0",
    "embedding_dim_mismatch": "output_embedding length differs from the one its model_version "
    "already has",
}
FILE_REASON_CODES: dict[str, str] = {
    UNREADABLE_FILE: "row 0: the file could not be read (corrupt Parquet or gzip, I/O error)",
    UNSUPPORTED_FILE: "row 0: not .jsonl, .jsonl.gz, .csv, .csv.gz or .parquet",
    NOT_REGULAR_FILE: "row 0: not a regular file (FIFO, socket, device, dangling link, link loop, "
    "link to a folder): never opened",
    OUTSIDE_ROOT_FILE: "row 0: a symbolic link leading outside the landing root: never read",
}
# file status -> the reason code of its quarantine row 0 (the whole-file problems)
FILE_PROBLEMS: dict[str, str] = {
    UNREADABLE: UNREADABLE_FILE,
    UNSUPPORTED: UNSUPPORTED_FILE,
    NOT_REGULAR: NOT_REGULAR_FILE,
    OUTSIDE_ROOT: OUTSIDE_ROOT_FILE,
}
# statuses of files ingest could not load as their producer meant (the command exits non-zero)
FAILED_STATUSES: frozenset[str] = frozenset({*FILE_PROBLEMS, NO_CSV_HEADER})


# Errors meaning "this file cannot be read": it is recorded as unreadable, the run goes on.
FILE_ERRORS: tuple[type[BaseException], ...] = (
    duckdb.IOException,
    duckdb.InvalidInputException,
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
    OSError,
    EOFError,
    zlib.error,
    pa.ArrowException,
)


@dataclass(frozen=True)
class IngestRules:
    """What ingest accepts, and how hard it may push the machine."""

    max_id_chars: int = 128
    max_prompt_chars: int = 10_000
    max_line_bytes: int = 1 << 20
    raw_preview_chars: int = 4096  # raw kept for an oversized line
    max_future_skew: timedelta = timedelta(days=1)
    min_timestamp: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    event_types: tuple[str, ...] = EVENT_TYPES
    surfaces: tuple[str, ...] = SURFACES
    reference_kinds: tuple[str, ...] = REFERENCE_KINDS
    watch_ms_required_for: tuple[str, ...] = ("view",)
    read_chunk_bytes: int = 8 << 20
    batch_rows: int = 16_384  # records per Arrow batch handed to DuckDB (its unit of parallel work)
    # a file with the path, device, inode, size, mtime and ctime of an ingested one is not hashed
    # again (writing a file, even with its mtime restored, changes its ctime)
    skip_unchanged_by_stat: bool = True
    memory_limit: str | None = "1536MB"  # DuckDB spills beyond it; RSS stays well under 3 GB
    threads: int | None = None


DEFAULT_RULES = IngestRules()

# carrier columns (<field>__<suffix>) per contract type: one per accepted representation
CARRIERS: dict[str, tuple[tuple[str, str], ...]] = {
    "string": (("s", "VARCHAR"),),
    "integer": (("i", "BIGINT"),),
    "number": (("d", "DOUBLE"),),
    "boolean": (("b", "BOOLEAN"),),
    "timestamp": (("s", "VARCHAR"), ("i", "BIGINT"), ("t", "TIMESTAMP WITH TIME ZONE")),
    "references": (("l", "STRUCT(kind VARCHAR, uri VARCHAR)[]"),),
    "embedding": (("l", "FLOAT[]"),),
    "string_list": (("l", "VARCHAR[]"),),
}
# Parquet column classes each carrier accepts (see carriers.parquet_column_class)
CARRIER_SOURCES: dict[str, frozenset[str]] = {
    "s": frozenset({"varchar"}),
    "i": frozenset({"integer"}),
    "d": frozenset({"integer", "float"}),
    "b": frozenset({"boolean"}),
    "t": frozenset({"timestamptz"}),
    "l": frozenset({"list"}),
}

# field names go into generated SQL as identifiers and JSON paths: only plain lower-case names
FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def check_kind(kind: str) -> str:
    """The record kind if the contract has it, else a clear error."""
    if kind not in KINDS:
        raise ValueError(f"unknown record kind {kind!r}: expected one of {', '.join(KINDS)}")
    return kind


def contract_fields(kind: str) -> tuple[ContractField, ...]:
    """The contract's fields of a record kind, each checked to be a plain name with known carriers
    (the allowlist of the identifiers ingest writes into SQL)."""
    fields = CONTRACTS[check_kind(kind)]
    for contract_field in fields:
        if not FIELD_NAME.fullmatch(contract_field.name):
            raise ValueError(f"contract field name {contract_field.name!r} is not a plain name")
        if contract_field.value_type not in CARRIERS:
            raise ValueError(f"contract type {contract_field.value_type!r} has no carriers")
    return fields


def carrier_column(field_name: str, suffix: str) -> str:
    """The name of a field's carrier column, e.g. `occurred_at__i`."""
    return f"{field_name}__{suffix}"
