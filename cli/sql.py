"""`reelloop sql "QUERY"`: query the read-only snapshot of the warehouse and print the result.

This verb is a read, so it is not a Prefect flow: it opens the snapshot that the
last writing flow published (`warehouse.snapshot`), never the warehouse file, so it
neither waits for a running flow nor makes one wait. The connection is read-only
and cannot reach other files: a write statement fails with a clear error.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

import duckdb

from warehouse.snapshot import current_snapshot_path, open_snapshot

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("table", "csv", "json")
READ_STATEMENTS = frozenset(
    {
        duckdb.StatementType.SELECT,
        duckdb.StatementType.EXPLAIN,
        duckdb.StatementType.PRAGMA,
        duckdb.StatementType.CALL,
    }
)
ELLIPSIS = "…"


@dataclass(frozen=True)
class SqlOutputConfig:
    """How results print: the table shows at most `max_rows` rows of at most `max_width` characters."""

    output_format: str = "table"
    max_rows: int = 100
    max_width: int = 40
    float_digits: int = 6
    batch_rows: int = 10_000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `sql` verb."""
    parser = subparsers.add_parser(
        "sql",
        help="query the read-only snapshot of the warehouse",
        description=(
            "Run one read-only SQL query against the latest published snapshot of the "
            "warehouse (public tables and report_* views) and print the result. Reads "
            "never wait for a running flow and never block one; this verb is not a "
            "Prefect flow. A write statement is refused."
        ),
    )
    parser.add_argument(
        "query",
        help='one SQL statement, e.g. "select label, count(*) from labels group by 1"; "-" reads it from stdin',
    )
    defaults = SqlOutputConfig()
    parser.add_argument(
        "--format",
        dest="output_format",
        choices=FORMATS,
        default=defaults.output_format,
        help="table (fixed width, long values cut), csv (all rows), json (JSON Lines, all rows)",
    )
    parser.add_argument(
        "--max-rows",
        type=int,
        default=defaults.max_rows,
        help=f"rows shown by --format table (default {defaults.max_rows})",
    )
    parser.add_argument(
        "--max-width",
        type=int,
        default=defaults.max_width,
        help=f"characters per column in --format table (default {defaults.max_width})",
    )
    parser.set_defaults(handler=run_sql_command)


def run_sql_command(args: argparse.Namespace) -> int:
    """Handler of `reelloop sql`."""
    query = sys.stdin.read() if args.query == "-" else args.query
    output_format = "json" if getattr(args, "json", False) else args.output_format
    config = SqlOutputConfig(
        output_format=output_format, max_rows=args.max_rows, max_width=args.max_width
    )
    if config.max_rows < 1 or config.max_width < 4:
        raise ValueError("--max-rows must be >= 1 and --max-width >= 4")
    ensure_snapshot(args.db)
    con = open_snapshot(args.db)
    try:
        run_query(con, query, sys.stdout, config)
    finally:
        con.close()
    return 0


def ensure_snapshot(db_path: str) -> None:
    """Publish a first snapshot of a warehouse that has none yet (e.g. made before snapshots existed)."""
    if current_snapshot_path(db_path) is not None:
        return
    if not Path(db_path).is_file():
        raise FileNotFoundError(
            f"no warehouse at {db_path}: run a flow first (e.g. reelloop ingest) or pass --db"
        )
    from warehouse.resource import Warehouse

    log.info("no snapshot of %s yet: publishing one", db_path)
    Warehouse.at(db_path).publish()


def read_only_statement(query: str) -> None:
    """Refuse anything but one read statement, before it reaches the database."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise ValueError(first_line(exc)) from None
    if len(statements) != 1:
        raise ValueError(f"give exactly one SQL statement (got {len(statements)})")
    kind = statements[0].type
    if kind not in READ_STATEMENTS:
        raise ValueError(
            f"reelloop sql is read-only: {kind.name} statements are refused "
            "(the snapshot is a copy; the flows write the warehouse)"
        )


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No reaching other files or changing settings from the query (the file itself is read-only)."""
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")


def run_query(
    con: duckdb.DuckDBPyConnection, query: str, out: TextIO, config: SqlOutputConfig | None = None
) -> int:
    """Run one read-only query on `con` and print it to `out`; returns the number of rows printed."""
    config = config or SqlOutputConfig()
    read_only_statement(query)
    lock_down(con)
    try:
        cursor = con.execute(query)
        columns = [d[0] for d in cursor.description or []]
        if config.output_format == "table":
            rows = cursor.fetchmany(config.max_rows + 1)
            return write_table(columns, rows, out, config)
        return write_stream(columns, fetch_batches(cursor, config.batch_rows), out, config)
    except duckdb.Error as exc:
        raise ValueError(first_line(exc)) from None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def fetch_batches(cursor: duckdb.DuckDBPyConnection, size: int) -> Iterable[list[tuple]]:
    while batch := cursor.fetchmany(size):
        yield batch


def write_table(
    columns: Sequence[str], rows: list[tuple], out: TextIO, config: SqlOutputConfig
) -> int:
    """Fixed-width table: values cut to `max_width`, numbers right-aligned, a row-count footer."""
    shown = rows[: config.max_rows]
    cells = [[cell_text(v, config) for v in row] for row in shown]
    numeric = [
        all(
            isinstance(row[i], int | float | Decimal) and not isinstance(row[i], bool)
            for row in shown
            if row[i] is not None
        )
        and any(row[i] is not None for row in shown)
        for i in range(len(columns))
    ]
    headers = [truncate(c, config.max_width) for c in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    out.write(" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    out.write("-+-".join("-" * w for w in widths) + "\n")
    for row in cells:
        parts = [
            text.rjust(w) if numeric[i] else text.ljust(w)
            for i, (text, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.write(" | ".join(parts).rstrip() + "\n")
    if len(rows) > config.max_rows:
        out.write(f"(first {config.max_rows} rows shown; --max-rows N or --format csv for more)\n")
    else:
        out.write(f"({len(shown)} row{'' if len(shown) == 1 else 's'})\n")
    return len(shown)


def write_stream(
    columns: Sequence[str], batches: Iterable[list[tuple]], out: TextIO, config: SqlOutputConfig
) -> int:
    """Every row as CSV (header first) or JSON Lines, batch by batch (bounded memory)."""
    count = 0
    writer = csv.writer(out, lineterminator="\n") if config.output_format == "csv" else None
    if writer is not None:
        writer.writerow(columns)
    for batch in batches:
        for row in batch:
            if writer is not None:
                writer.writerow([csv_value(v) for v in row])
            else:
                record = {c: json_value(v) for c, v in zip(columns, row, strict=True)}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += len(batch)
    return count


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def cell_text(value: Any, config: SqlOutputConfig) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, float):
        text = f"{value:.{config.float_digits}g}"
    elif isinstance(value, list | dict):
        text = json.dumps(json_value(value), ensure_ascii=False)
    else:
        text = str(value)
    return truncate(
        text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " "), config.max_width
    )


def json_value(value: Any) -> Any:
    """A JSON-ready value: timestamps ISO 8601, decimals as numbers, non-finite floats as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)


def csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(json_value(value), ensure_ascii=False)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value
