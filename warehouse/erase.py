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

from warehouse.sql_files import sql_text

log = logging.getLogger(__name__)

VIEWER = "viewer"
CREATOR = "creator"
SUBJECT_KINDS: tuple[str, ...] = (VIEWER, CREATOR)
GENERATION = "generation"  # erased_subjects kind of a creator's generation

# every table holding a viewer, creator or generation id -> the statement deleting the subject's rows from it,
# in the order they run (events and generations first: the rest is derived from them)
ERASURE_TABLES: dict[str, str] = {
    "events": "erase/delete_events",
    "generations": "erase/delete_generations",
    "labels": "erase/delete_labels",
    "labels_history": "erase/delete_labels_history",
    "preference_pairs": "erase/delete_preference_pairs",
    "scores": "erase/delete_scores",
    "export_rows": "erase/delete_export_rows",
    "report_truth": "erase/delete_report_truth",
    "label_viewer_activity": "erase/delete_label_viewer_activity",
    "label_abnormal_viewers": "erase/delete_label_abnormal_viewers",
    "label_engagement": "erase/delete_label_engagement",
    "label_engagement_slots": "erase/delete_label_engagement_slots",
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

    @property
    def total_deleted(self) -> int:
        return sum(self.deleted_rows.values())


def check_subject(kind: str, subject_id: str, rules: ErasureRules = ErasureRules()) -> str:
    """The subject id if acceptable, else ValueError with a one-line message."""
    if kind not in SUBJECT_KINDS:
        raise ValueError(
            f"unknown subject kind {kind!r}: expected one of {', '.join(SUBJECT_KINDS)}"
        )
    if not isinstance(subject_id, str) or not subject_id.strip():
        raise ValueError(f"the {kind} id is empty")
    if len(subject_id) > rules.max_id_chars:
        raise ValueError(f"the {kind} id is longer than {rules.max_id_chars} characters")
    if "\x00" in subject_id:
        raise ValueError(f"the {kind} id contains a NUL character")
    return subject_id


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
        "salt": secrets.token_hex(rules.salt_bytes),
        "created_at": requested_at,
        "erased_at": requested_at,
    }
    con.execute("begin transaction")
    try:
        _run(con, "erase/insert_salt", values)
        subject_hash = _scalar(con, "erase/subject_hash", values)
        _run(con, "erase/subject_generations", values)
        _run(con, "erase/touched_generations", values)
        erased_generations = _scalar(con, "erase/count_subject_generations", values)
        affected = tuple(
            AffectedExport(export_id, tuple(paths or ()), int(own), int(touched))
            for export_id, paths, own, touched in _rows(con, "erase/affected_exports", values)
        )
        _run(con, "erase/record_erased_subjects", values)
        redacted = _count(con, "erase/redact_quarantine", values)
        deleted = {table: _count(con, name, values) for table, name in ERASURE_TABLES.items()}
        if any(deleted.values()):
            _run(con, "erase/reset_label_state", values)
        _run(
            con,
            "erase/insert_erasure",
            {
                "erasure_id": erasure_id,
                "subject_kind": kind,
                "subject_hash": subject_hash,
                "requested_at": requested_at,
                "completed_at": datetime.now(UTC),
                "deleted_rows": json.dumps(deleted, sort_keys=True),
                "redacted_quarantine_rows": redacted,
                "affected_exports": json.dumps(
                    [
                        {
                            "export_id": a.export_id,
                            "paths": list(a.paths),
                            "rows_with_subject_generations": a.rows_with_subject_generations,
                            "rows_with_touched_generations": a.rows_with_touched_generations,
                        }
                        for a in affected
                    ],
                    sort_keys=True,
                ),
                "reason": reason,
            },
        )
        for name in ("erase/drop_subject_generations", "erase/drop_touched_generations"):
            _run(con, name, values)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    result = ErasureResult(
        erasure_id=erasure_id,
        subject_kind=kind,
        subject_hash=str(subject_hash),
        requested_at=requested_at,
        deleted_rows=deleted,
        redacted_quarantine_rows=redacted,
        erased_generations=int(erased_generations or 0),
        affected_exports=affected,
    )
    log.info(
        "erasure %s (%s %s...): %d rows deleted, %d quarantine rows redacted",
        erasure_id,
        kind,
        result.subject_hash[:12],
        result.total_deleted,
        redacted,
    )
    return result


def personal_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Base tables of the warehouse with a viewer, creator or generation id column -> those columns."""
    tables: dict[str, list[str]] = {}
    for table, column in con.execute(sql_text("erase/personal_columns")).fetchall():
        tables.setdefault(table, []).append(column)
    return tables


def _bound(name: str, values: dict[str, object]) -> tuple[str, dict[str, object]]:
    """The statement's text and exactly the values it names (DuckDB refuses unused parameters)."""
    text = sql_text(name)
    wanted = set(PARAMETER.findall(text))
    missing = wanted - values.keys()
    if missing:
        raise KeyError(f"{name}.sql needs values for {', '.join(sorted(missing))}")
    return text, {key: values[key] for key in wanted}


def _run(con: duckdb.DuckDBPyConnection, name: str, values: dict[str, object]) -> None:
    text, params = _bound(name, values)
    con.execute(text, params or None)


def _rows(con: duckdb.DuckDBPyConnection, name: str, values: dict[str, object]) -> list[tuple]:
    text, params = _bound(name, values)
    return con.execute(text, params or None).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, name: str, values: dict[str, object]) -> object:
    rows = _rows(con, name, values)
    return rows[0][0] if rows else None


def _count(con: duckdb.DuckDBPyConnection, name: str, values: dict[str, object]) -> int:
    """Rows changed by a delete / update statement."""
    value = _scalar(con, name, values)
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
        con.execute(sql_text("erase/checkpoint"))
        source_catalog = str(_scalar(con, "erase/current_catalog", {}))
        con.execute(sql_text("erase/attach_compact").format(target=target), [str(fresh)])
        try:
            con.execute(
                sql_text("erase/copy_database").format(source=quoted(source_catalog), target=target)
            )
            _check_copy(con, source_catalog, COMPACT_ALIAS)
            tables = len(_rows(con, "erase/catalog_counts", {"catalog": COMPACT_ALIAS}))
        finally:
            con.execute(sql_text("erase/detach_compact").format(target=target))
        con.execute(sql_text("erase/checkpoint"))
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
    relations = _rows(con, "erase/catalog_counts", {"catalog": source})
    copied = _rows(con, "erase/catalog_counts", {"catalog": copy})
    if relations != copied:
        raise RuntimeError("compaction: the rewritten warehouse lacks relations; original kept")
    for table, kind in relations:
        if kind != "BASE TABLE":
            continue
        counts = [
            con.execute(
                sql_text("erase/count_rows").format(relation=f"{quoted(catalog)}.{quoted(table)}")
            ).fetchone()
            for catalog in (source, copy)
        ]
        if counts[0] != counts[1]:
            raise RuntimeError(f"compaction: table {table} differs in the copy; original kept")


def quoted(name: str) -> str:
    """`"name"`, quotes doubled: names come only from constants or the database's own catalog."""
    return '"' + name.replace('"', '""') + '"'


ERASED_STAGED_ROWS: dict[str, str] = {
    "events": "erase/drop_erased_staged_events",
    "generations": "erase/drop_erased_staged_generations",
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
    if not _scalar(con, "erase/erased_subject_count", {}):
        return
    _run(con, ERASED_STAGED_ROWS[kind], {})


def was_labeled(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether labels were ever computed on this warehouse (then an erasure recomputes them)."""
    return bool(con.execute(sql_text("erase/labeled")).fetchone()[0])
