"""Judging a landing file's rows against the contract, set-at-a-time in DuckDB: its carrier relation
is registered and every row goes into the temp table `ingest_staged` with its reason code (null =
valid). Workers (staging) and the coordinator (loading) run the same statements."""

from __future__ import annotations

import contextlib
import logging
from contextlib import ExitStack
from datetime import datetime

import duckdb

from landing.contract import EVENTS, GENERATIONS
from warehouse.ingest.carriers import parquet_carriers, records_carriers_sql
from warehouse.ingest.contract import IngestRules, contract_fields
from warehouse.ingest.discovery import LandingFile
from warehouse.ingest.parquet_source import is_encoding_error, parquet_source
from warehouse.ingest.records import BATCH_VIEW, RECORDS_VIEW, text_records
from warehouse.sql_files import sql_statement

log = logging.getLogger(__name__)

# the statements on `ingest_staged` of each record kind (create, judge, load, ...)
STAGED_SQL: dict[str, str] = {
    EVENTS: "ingest/staged_events",
    GENERATIONS: "ingest/staged_generations",
}
# the statements on `ingest_staged` that are the same for every kind
STAGED_ROWS_SQL = "ingest/staged"
# the name each kind's carrier relation is registered under (session-local, never stored)
CARRIERS_VIEWS: dict[str, str] = {
    EVENTS: "ingest_event_carriers",
    GENERATIONS: "ingest_generation_carriers",
}


def configure_connection(con: duckdb.DuckDBPyConnection, rules: IngestRules) -> None:
    """Bound DuckDB's memory (it spills beyond it) and threads; rows carry row_number: any order."""
    if rules.memory_limit is not None:
        con.execute("set memory_limit = ?", [rules.memory_limit])
    if rules.threads is not None:
        con.execute("set threads = ?", [rules.threads])
    con.execute("set preserve_insertion_order = false")


def judge_file(
    con: duckdb.DuckDBPyConnection, landing: LandingFile, rules: IngestRules, now: datetime
) -> None:
    """Fill temp table `ingest_staged` with every row of the file judged by the per-row rules."""
    kind = landing.kind
    fields = contract_fields(kind)
    con.execute(sql_statement(STAGED_SQL[kind], "create"))
    carriers_view = CARRIERS_VIEWS[kind]
    judge = sql_statement(STAGED_SQL[kind], "judge")
    if landing.file_format == "parquet":
        try:
            _judge_parquet(con, landing, rules, now, via_arrow=False)
        except duckdb.InvalidInputException as exc:
            if not is_encoding_error(exc):
                raise
            # DuckDB refuses the whole file for one string that is not UTF-8: judge it row by row
            con.execute(sql_statement(STAGED_SQL[kind], "create"))
            _judge_parquet(con, landing, rules, now, via_arrow=True)
    else:
        with text_records(con, landing.path, landing.file_format, fields, rules):
            con.register(carriers_view, con.sql(records_carriers_sql(kind)))
            con.execute(judge, judge_params(kind, rules, now))


def _judge_parquet(
    con: duckdb.DuckDBPyConnection,
    landing: LandingFile,
    rules: IngestRules,
    now: datetime,
    *,
    via_arrow: bool,
) -> None:
    """Judge a Parquet file's rows into `ingest_staged` (read by DuckDB or, `via_arrow`, pyarrow)."""
    kind = landing.kind
    with ExitStack() as stack:
        source = parquet_source(
            con, landing.path, stack, via_arrow=via_arrow, batch_rows=rules.batch_rows
        )
        con.register(CARRIERS_VIEWS[kind], parquet_carriers(source, contract_fields(kind)))
        con.execute(sql_statement(STAGED_SQL[kind], "judge"), judge_params(kind, rules, now))


def check_embedding_dims(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Reject staged generations whose embedding length differs from their model_version's (the
    one rule that looks at the warehouse, so it runs where the warehouse is)."""
    if kind == GENERATIONS:
        con.execute(sql_statement(STAGED_SQL[GENERATIONS], "embedding_check"))


def judge_params(kind: str, rules: IngestRules, now: datetime) -> dict[str, object]:
    """The bound parameters of a kind's `judge` statement."""
    common: dict[str, object] = {
        "max_line_bytes": rules.max_line_bytes,
        "raw_preview_chars": rules.raw_preview_chars,
        "max_id_chars": rules.max_id_chars,
        "min_timestamp": rules.min_timestamp,
        "max_timestamp": now + rules.max_future_skew,
    }
    if kind == EVENTS:
        return {
            **common,
            "event_types": list(rules.event_types),
            "surfaces": list(rules.surfaces),
            "watch_ms_required_for": list(rules.watch_ms_required_for),
        }
    return {
        **common,
        "max_prompt_chars": rules.max_prompt_chars,
        "reference_kinds": list(rules.reference_kinds),
    }


def staged_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str | None, int]:
    """Rows of `ingest_staged` per reason code (None: the valid rows)."""
    return {
        code: int(n) for code, n in con.execute(sql_statement(STAGED_ROWS_SQL, "counts")).fetchall()
    }


def unregister_views(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the names the file's relations were registered under (they hold the file open)."""
    for name in (BATCH_VIEW, RECORDS_VIEW, *CARRIERS_VIEWS.values()):
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)


def unreadable_detail(landing: LandingFile, exc: BaseException) -> str:
    """The ingest_files detail of a file that could not be read: the error, on one line."""
    text = str(exc)
    # DuckDB appends the traceback of an error raised while it read a Python stream: keep the error
    head, marker, _ = text.partition("Detail: Python exception: Traceback")
    if marker:
        text = head.rstrip(" .") + "."
    message = " ".join(text.split())[:500] or type(exc).__name__
    log.warning("ingest %s: unreadable file: %s", landing.source_file, message)
    return f"{type(exc).__name__}: {message}"
