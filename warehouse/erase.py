"""Erase one person from the warehouse: a viewer's events, or a creator's generations with everything on them.

One transaction deletes the subject's rows from every table that holds a viewer, creator or
generation id (`ERASURE_TABLES`, an allowlist a test checks against the catalog), blanks the raw
record of quarantined rows that hold them, records the subject by salted hash in
`erased_subjects` (ingest drops their rows from any later file) and writes an `erasures` audit
row. Ids are never stored: only sha256(id || salt), the salt kept in `erasure_salt` (never
published). Recomputing labels and republishing the snapshot is the caller's job
(`flows.erase`): the label state is reset so the next label run rebuilds from what remains.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from landing.contract import id_problem
from warehouse.connection import transaction
from warehouse.sql_files import sql_statement, sql_text

log = logging.getLogger(__name__)

VIEWER = "viewer"
CREATOR = "creator"
SUBJECT_KINDS: tuple[str, ...] = (VIEWER, CREATOR)
GENERATION = "generation"  # erased_subjects kind of a creator's generation

# every table holding a viewer, creator or generation id -> its columns holding the subject, each with what it
# holds (VIEWER: the subject's id as a viewer; GENERATION: one of the subject's generations). One delete per
# column is generated from this allowlist, in this order (events and generations first: the rest derives from them)
ERASURE_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "events": (("viewer_id", VIEWER), ("generation_id", GENERATION)),
    "generations": (("generation_id", GENERATION),),
    "labels": (("generation_id", GENERATION),),
    "labels_history": (("generation_id", GENERATION),),
    "preference_pairs": (
        ("chosen_generation_id", GENERATION),
        ("rejected_generation_id", GENERATION),
    ),
    "scores": (("generation_id", GENERATION),),
    "export_rows": (("generation_id", GENERATION),),
    "report_truth": (("generation_id", GENERATION),),
    "label_viewer_activity": (("viewer_id", VIEWER),),
    "label_abnormal_viewers": (("viewer_id", VIEWER),),
    "label_engagement": (("generation_id", GENERATION),),
    "label_engagement_slots": (("generation_id", GENERATION),),
    "label_engagement_cells": (("generation_id", GENERATION),),
}
# the block of erase/erase_subject.sql deleting a column's rows, by what the column holds
DELETE_BLOCKS: dict[str, str] = {
    VIEWER: "delete_viewer_rows",
    GENERATION: "delete_generation_rows",
}
PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class ErasureRules:
    """Which ids are acceptable, and how long the salt is."""

    max_id_chars: int = 128
    salt_bytes: int = 32


@dataclass(frozen=True)
class AffectedExport:
    """An export already written that holds rows reached by the subject's data (its folder is not rewritten)."""

    export_id: str
    paths: tuple[str, ...]
    rows_with_subject_generations: int
    rows_with_touched_generations: int


@dataclass(frozen=True)
class ErasureResult:
    """What one erasure did: rows deleted per table, quarantine rows redacted, exports reached."""

    erasure_id: str
    subject_kind: str
    subject_hash: str
    requested_at: datetime
    deleted_rows: dict[str, int]
    redacted_quarantine_rows: int
    erased_generations: int
    affected_exports: tuple[AffectedExport, ...] = field(default_factory=tuple)
    redacted_extra_rows: int = 0
    """loaded events and generations kept, whose `extra` fields named the subject (dropped)"""

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted_rows.values())


def check_subject(kind: str, subject_id: str, rules: ErasureRules = ErasureRules()) -> str:
    """The subject id if acceptable, else ValueError with a one-line message."""
    if kind not in SUBJECT_KINDS:
        raise ValueError(
            f"unknown subject kind {kind!r}: expected one of {', '.join(SUBJECT_KINDS)}"
        )
    if not isinstance(subject_id, str):
        raise ValueError(f"the {kind} id is not text")
    problem = id_problem(subject_id)
    if problem == "empty":
        raise ValueError(f"the {kind} id is empty or blank (ingest never accepts such an id)")
    if problem == "control":
        raise ValueError(
            f"the {kind} id contains a control character (ingest never accepts such an id)"
        )
    if len(subject_id) > rules.max_id_chars:
        raise ValueError(f"the {kind} id is longer than {rules.max_id_chars} characters")
    return subject_id


def id_forms(subject_id: str) -> list[str]:
    """The texts a raw landing record can hold the id as: itself, JSON-escaped (ASCII and not),
    CSV-quoted, and the \\xNN escapes a line that is not UTF-8 is kept with (bytes outside
    printable ASCII escaped)."""
    escaped = "".join(
        chr(byte) if 0x20 <= byte < 0x7F and byte != 0x5C else f"\\x{byte:02X}"
        for byte in subject_id.encode("utf-8")
    )
    forms = {
        subject_id,
        json.dumps(subject_id)[1:-1],
        json.dumps(subject_id, ensure_ascii=False)[1:-1],
        subject_id.replace('"', '""'),
        escaped,
    }
    return sorted(form for form in forms if form)


def erase_subject(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    subject_id: str,
    *,
    reason: str | None = None,
    requested_at: datetime | None = None,
    rules: ErasureRules = ErasureRules(),
) -> ErasureResult:
    """Delete a viewer's or creator's rows everywhere, in one transaction, and record the erasure."""
    check_subject(kind, subject_id, rules)
    requested_at = requested_at or datetime.now(UTC)
    erasure_id = uuid.uuid4().hex
    values: dict[str, object] = {
        "subject_kind": kind,
        "subject_id": subject_id,
        "subject_forms": id_forms(subject_id),
        "salt": secrets.token_hex(rules.salt_bytes),
        "created_at": requested_at,
        "erased_at": requested_at,
    }
    with transaction(con):
        result = _erase_rows(con, erasure_id, values, requested_at)
        _run(con, _erasure_step("insert_erasure"), _audit_values(result, reason))
        for block in (
            "drop_subject_matcher",
            "drop_subject_texts",
            "drop_subject_generations",
            "drop_touched_generations",
        ):
            _run(con, _erasure_step(block), values)
    log.info(
        "erasure %s (%s %s...): %d rows deleted, %d quarantine rows redacted",
        erasure_id,
        kind,
        result.subject_hash[:12],
        result.total_deleted,
        result.redacted_quarantine_rows,
    )
    return result


def _erase_rows(
    con: duckdb.DuckDBPyConnection,
    erasure_id: str,
    values: dict[str, object],
    requested_at: datetime,
) -> ErasureResult:
    """The steps of erase/erase_subject.sql up to the audit row: salt, working sets, exports reached,
    erased subjects, quarantine redaction, the generated deletes and the label state reset."""
    _run(con, _erasure_step("insert_salt"), values)
    subject_hash = _scalar(con, _erasure_step("subject_hash"), values)
    _run(con, _erasure_step("subject_generations"), values)
    _run(con, _erasure_step("touched_generations"), values)
    erased_generations = _scalar(con, _erasure_step("count_subject_generations"), values)
    affected = tuple(
        AffectedExport(export_id, tuple(paths or ()), int(own), int(touched))
        for export_id, paths, own, touched in _rows(con, sql_text("erase/affected_exports"), values)
    )
    _run(con, _erasure_step("record_erased_subjects"), values)
    _run(con, _erasure_step("subject_texts"), values)
    _run(con, _erasure_step("subject_matcher"), values)
    redacted = _count(con, _erasure_step("redact_quarantine"), values)
    deleted = {
        table: sum(_count(con, statement, values) for statement in erasure_deletes(table))
        for table in ERASURE_TABLES
    }
    if any(deleted.values()):
        _run(con, _erasure_step("reset_label_state"), values)
    redacted_extra = sum(
        _count(con, _erasure_step(block), values)
        for block in ("redact_event_extra", "redact_generation_extra")
    )
    return ErasureResult(
        erasure_id=erasure_id,
        subject_kind=str(values["subject_kind"]),
        subject_hash=str(subject_hash),
        requested_at=requested_at,
        deleted_rows=deleted,
        redacted_quarantine_rows=redacted,
        erased_generations=int(erased_generations or 0),
        affected_exports=affected,
        redacted_extra_rows=redacted_extra,
    )


def _audit_values(result: ErasureResult, reason: str | None) -> dict[str, object]:
    """The values of the `erasures` audit row (the subject by salted hash only)."""
    return {
        "erasure_id": result.erasure_id,
        "subject_kind": result.subject_kind,
        "subject_hash": result.subject_hash,
        "requested_at": result.requested_at,
        "completed_at": datetime.now(UTC),
        "deleted_rows": json.dumps(result.deleted_rows, sort_keys=True),
        "redacted_quarantine_rows": result.redacted_quarantine_rows,
        "affected_exports": json.dumps(
            [
                {
                    "export_id": a.export_id,
                    "paths": list(a.paths),
                    "rows_with_subject_generations": a.rows_with_subject_generations,
                    "rows_with_touched_generations": a.rows_with_touched_generations,
                }
                for a in result.affected_exports
            ],
            sort_keys=True,
        ),
        "reason": reason,
    }


def erasure_deletes(table: str) -> list[str]:
    """The deletes of the subject's rows of one table of ERASURE_TABLES, one per column it lists
    (identifiers from that allowlist only, quoted)."""
    return [
        sql_statement("erase/erase_subject", DELETE_BLOCKS[holds]).format(
            table=quoted(table), column=quoted(column)
        )
        for column, holds in ERASURE_TABLES[table]
    ]


def _erasure_step(block: str) -> str:
    """The statement `block` of erase/erase_subject.sql."""
    return sql_statement("erase/erase_subject", block)


def personal_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Base tables of the warehouse with a viewer, creator or generation id column -> those columns."""
    tables: dict[str, list[str]] = {}
    for table, column in con.execute(sql_text("erase/personal_columns")).fetchall():
        tables.setdefault(table, []).append(column)
    return tables


def _bound(text: str, values: dict[str, object]) -> dict[str, object] | None:
    """Exactly the values the statement names (DuckDB refuses unused parameters), or None for none."""
    wanted = set(PARAMETER.findall(text))
    missing = wanted - values.keys()
    if missing:
        raise KeyError(f"an erasure statement needs values for {', '.join(sorted(missing))}")
    return {key: values[key] for key in wanted} or None


def _run(con: duckdb.DuckDBPyConnection, text: str, values: dict[str, object]) -> None:
    con.execute(text, _bound(text, values))


def _rows(con: duckdb.DuckDBPyConnection, text: str, values: dict[str, object]) -> list[tuple]:
    return con.execute(text, _bound(text, values)).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, text: str, values: dict[str, object]) -> object:
    rows = _rows(con, text, values)
    return rows[0][0] if rows else None


def _count(con: duckdb.DuckDBPyConnection, text: str, values: dict[str, object]) -> int:
    """Rows changed by a delete / update statement."""
    value = _scalar(con, text, values)
    return int(value) if isinstance(value, int) else 0


@dataclass(frozen=True)
class Compaction:
    """A rewrite of the warehouse file into a fresh one: deleted rows no longer sit in its freed pages."""

    bytes_before: int
    bytes_after: int
    tables: int


COMPACT_ALIAS = "reelloop_compact"
COMPACT_MARKER = ".compact-"


def compact_database(db_path: str | Path) -> Compaction:
    """Rewrite the warehouse file into a fresh file and swap it in atomically.

    DuckDB reuses but never clears the pages of deleted rows, so after an erasure the person's
    bytes stay in the file (and in any byte copy of it) until this rewrite. The copy is checked
    (same relations, same row counts) before it replaces the original; a crash leaves the original.
    The caller holds the writer lock and has no connection open on the file.
    """
    path = Path(db_path)
    for leftover in path.parent.glob(f".{path.name}{COMPACT_MARKER}*"):
        leftover.unlink(missing_ok=True)
    fresh = path.with_name(f".{path.name}{COMPACT_MARKER}{os.getpid()}")
    before = path.stat().st_size
    target = quoted(COMPACT_ALIAS)
    con = duckdb.connect(str(path))
    try:
        con.execute(sql_statement("erase/compact", "checkpoint"))
        source_catalog = str(_scalar(con, sql_statement("erase/compact", "current_catalog"), {}))
        con.execute(
            sql_statement("erase/compact", "attach_fresh").format(target=target), [str(fresh)]
        )
        try:
            con.execute(
                sql_statement("erase/compact", "copy_database").format(
                    source=quoted(source_catalog), target=target
                )
            )
            _check_copy(con, source_catalog, COMPACT_ALIAS)
            tables = len(_catalog_relations(con, COMPACT_ALIAS))
        finally:
            con.execute(sql_statement("erase/compact", "detach_fresh").format(target=target))
        con.execute(sql_statement("erase/compact", "checkpoint"))
    except BaseException:
        con.close()
        fresh.unlink(missing_ok=True)
        raise
    con.close()
    with open(fresh, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(fresh, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return Compaction(before, path.stat().st_size, tables)


def _check_copy(con: duckdb.DuckDBPyConnection, source: str, copy: str) -> None:
    """Raise unless the copy has the source's relations and, table by table, its row counts."""
    relations = _catalog_relations(con, source)
    if relations != _catalog_relations(con, copy):
        raise RuntimeError("compaction: the rewritten warehouse lacks relations; original kept")
    for table, kind in relations:
        if kind != "BASE TABLE":
            continue
        counts = [
            con.execute(
                sql_statement("erase/compact", "count_rows").format(
                    relation=f"{quoted(catalog)}.{quoted(table)}"
                )
            ).fetchone()
            for catalog in (source, copy)
        ]
        if counts[0] != counts[1]:
            raise RuntimeError(f"compaction: table {table} differs in the copy; original kept")


def _catalog_relations(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple]:
    """(name, table_type) of every base table and view of an attached database."""
    return _rows(con, sql_statement("erase/compact", "catalog_relations"), {"catalog": catalog})


def quoted(name: str) -> str:
    """`"name"`, quotes doubled: names come only from constants or the database's own catalog."""
    return '"' + name.replace('"', '""') + '"'


# the staged column holding a person, and the erased_subjects kind it holds, by staged kind
ERASED_STAGED_ROWS: dict[str, tuple[str, str]] = {
    "events": ("viewer_id", VIEWER),
    "generations": ("creator_id", CREATOR),
}
# the quarantine reason of a row whose viewer, creator or generation was erased (raw never kept); not in
# warehouse.ingest.REASON_CODES, which lists contract violations only
ERASED_SUBJECT_REASON = "erased_subject"
ERASED_SUBJECT_DETAIL = "erased subject"


def drop_erased_staged_rows(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Ingest hook: quarantine staged rows of erased people as `erased_subject`, raw record dropped.

    Runs inside the file's transaction, after judging and before loading; costs one count
    when nobody was ever erased.
    """
    if not _scalar(con, sql_statement("erase/drop_erased_staged_rows", "erased_subject_count"), {}):
        return
    person_column, person_kind = ERASED_STAGED_ROWS[kind]
    con.execute(
        sql_statement("erase/drop_erased_staged_rows", "quarantine_erased").format(
            person_column=quoted(person_column)
        ),
        {"person_kind": person_kind},
    )
    con.execute(sql_statement("erase/drop_erased_staged_rows", "redact_raw_naming_erased"))
    con.execute(sql_statement("erase/drop_erased_staged_rows", "redact_extra_naming_erased"))


def was_labeled(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether labels were ever computed on this warehouse (then an erasure recomputes them)."""
    return bool(con.execute(sql_text("erase/labeled")).fetchone()[0])
