"""Read-only snapshots of the public tables, so analysts never block the flows (and vice versa).

DuckDB lets one process write a file while no other process has it open. After
each writing flow the writer checkpoints the warehouse, copies the file to a
temporary name in `<db dir>/<db stem>.snapshot/`, keeps only the public tables and
the `report_*` relations (views materialised) in the copy, renames it
`snapshot-<n>.duckdb` and then atomically replaces the small pointer file `CURRENT`
naming it. Readers
open whatever `CURRENT` names, read-only; a snapshot is never written again once
published, so any number of readers can hold it while newer ones appear. Old
snapshots are deleted once superseded and old enough; a reader still holding one
keeps reading it (on POSIX an unlinked open file stays readable).

`publish_snapshot` must run while the caller holds the warehouse writer lock
(`flows.locking.warehouse_writer`), or on a connection that is the writer.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.connection import MEMORY, connect, schema_version, transaction, use_utc
from warehouse.sql_files import sql_statement, sql_text

log = logging.getLogger(__name__)

PUBLIC_TABLES: tuple[str, ...] = (
    "events",
    "generations",
    "quarantine",
    "ingest_files",
    "labels",
    "preference_pairs",
    "label_diagnostics",
    "model_registry",
    "champion_history",
    "scores",
    "exports",
    "export_rows",
    "erasures",
)
REPORT_PREFIX = "report_"
CURRENT_POINTER = "CURRENT"
PUBLISH_LOCK = ".publish.lock"
SOURCE_STATE = "SOURCE_STATE"  # the warehouse file's size and mtime when CURRENT was taken
SNAPSHOT_FILE = re.compile(r"^snapshot-(\d+)\.duckdb$")
TEMP_MARKER = ".tmp-"
ATTACH_ALIAS = "reelloop_snapshot_new"


@dataclass(frozen=True)
class SnapshotConfig:
    """What a snapshot holds and how long superseded snapshots are kept.

    `method`: "file_copy" checkpoints the warehouse, copies its file and drops what is
    not published (fast: a byte copy); "table_copy" copies table by table into a new
    file (used automatically when a checkpoint is not possible).
    A superseded snapshot is deleted once it is not among the `keep_previous`
    newest superseded ones AND its file is older than `retain_seconds` (so a
    reader that has just read `CURRENT` can still open the file it names).
    """

    public_tables: tuple[str, ...] = PUBLIC_TABLES
    report_prefix: str = REPORT_PREFIX
    keep_previous: int = 1
    retain_seconds: float = 300.0
    open_attempts: int = 3
    method: str = "file_copy"


@dataclass(frozen=True)
class PublishedSnapshot:
    """The outcome of one publish: where the snapshot is and what it holds."""

    path: Path
    number: int
    row_counts: dict[str, int]
    skipped: tuple[str, ...]
    seconds: float
    removed: tuple[Path, ...]


def snapshot_dir(db_path: str | Path) -> Path:
    """`<db dir>/<db file name>.snapshot`: the folder of the snapshots of a warehouse file (the
    whole name, so `w.duckdb` and `w.db` in one folder never share snapshots)."""
    path = Path(db_path)
    return path.with_name(f"{path.name}.snapshot")


def legacy_snapshot_dir(db_path: str | Path) -> Path:
    """`<db stem>.snapshot`: where snapshots were published before the folder took the whole name."""
    path = Path(db_path)
    return path.with_name(f"{path.stem}.snapshot")


def retire_legacy_snapshots(db_path: str | Path) -> bool:
    """Delete the `<db stem>.snapshot` folder of older versions when its snapshot was taken from
    this very warehouse file (another file of the same stem keeps its own); True if deleted. Old
    copies must not outlive a publish, or an erased person would stay in them."""
    legacy = legacy_snapshot_dir(db_path)
    if legacy == snapshot_dir(db_path) or not legacy.is_dir():
        return False
    name = _read_pointer(legacy)
    if name is None:
        return False
    try:
        con = connect(legacy / name, read_only=True)
    except duckdb.Error:
        return False
    try:
        row = con.execute(sql_statement("snapshot/publish", "source_of_info")).fetchone()
    except duckdb.Error:
        return False
    finally:
        con.close()
    if row is None or row[0] is None or Path(row[0]).resolve() != Path(db_path).resolve():
        return False
    shutil.rmtree(legacy, ignore_errors=True)
    log.info(
        "removed %s: snapshots of %s are now published to %s",
        legacy,
        db_path,
        snapshot_dir(db_path),
    )
    return True


def current_snapshot_path(db_path: str | Path) -> Path | None:
    """The snapshot file `CURRENT` names, or None when nothing has been published yet."""
    folder = snapshot_dir(db_path)
    name = _read_pointer(folder)
    return None if name is None else folder / name


def open_snapshot(
    db_path: str | Path, *, config: SnapshotConfig | None = None
) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the current snapshot of the warehouse at `db_path`."""
    config = config or SnapshotConfig()
    last_error: Exception | None = None
    for _ in range(max(1, config.open_attempts)):
        target = current_snapshot_path(db_path)
        if target is None:
            raise FileNotFoundError(
                f"no snapshot of {db_path} yet: it is published after a writing flow "
                "(e.g. `reelloop ingest`)"
            )
        try:
            return connect(target, read_only=True)
        except duckdb.IOException as exc:
            # CURRENT moved on and the file it named was collected between our two reads.
            last_error = exc
            if target.exists():
                raise
    raise FileNotFoundError(f"snapshot of {db_path} kept moving while opening it: {last_error}")


def publish_snapshot(
    con_or_path: duckdb.DuckDBPyConnection | str | Path,
    db_path: str | Path | None = None,
    *,
    config: SnapshotConfig | None = None,
) -> PublishedSnapshot:
    """Copy the public tables and `report_*` relations into a new snapshot and make it current.

    Give the writer's open connection (its file is the warehouse) or a path, which
    is then opened read-write: the caller must hold the warehouse writer lock.
    """
    config = config or SnapshotConfig()
    if isinstance(con_or_path, duckdb.DuckDBPyConnection):
        source_path = Path(db_path) if db_path is not None else connection_file(con_or_path)
        return _publish_from(con_or_path, source_path, config)
    source_path = Path(con_or_path)
    if not source_path.is_file():
        raise FileNotFoundError(f"no warehouse file {source_path}")
    con = connect(source_path)
    try:
        return _publish_from(con, source_path, config)
    finally:
        con.close()


def connection_file(con: duckdb.DuckDBPyConnection) -> Path:
    """The file behind a connection's default database (an in-memory one has none)."""
    row = con.execute(sql_statement("snapshot/publish", "source_file")).fetchone()
    if row is None or row[0] is None or row[0] == MEMORY:
        raise ValueError("an in-memory warehouse has no snapshot: open the warehouse from a file")
    return Path(row[0])


def quoted_identifier(name: str) -> str:
    """`"name"`, quotes doubled: names come only from the allowlist or the database's own catalog."""
    return '"' + name.replace('"', '""') + '"'


def _publish_from(
    con: duckdb.DuckDBPyConnection, source_path: Path, config: SnapshotConfig
) -> PublishedSnapshot:
    started = time.perf_counter()
    folder = snapshot_dir(source_path)
    folder.mkdir(parents=True, exist_ok=True)
    with _publish_lock(folder):
        _remove_temporaries(folder)
        number = _next_number(folder)
        final = folder / f"snapshot-{number:06d}.duckdb"
        temporary = folder / f"{final.name}{TEMP_MARKER}{os.getpid()}"
        info = _SnapshotInfo(number, _schema_version(con), str(source_path), datetime.now(UTC))
        try:
            if config.method == "file_copy" and _checkpointed(con):
                state = source_file_state(source_path)
                shutil.copyfile(source_path, temporary)
                row_counts, skipped = _trim_copy(temporary, info, config)
            elif config.method in ("file_copy", "table_copy"):
                state = source_file_state(source_path)
                row_counts, skipped = _copy_relations(con, temporary, info, config)
            else:
                raise ValueError(f"unknown snapshot method {config.method!r}")
            os.replace(temporary, final)
        except BaseException:
            _remove_temporaries(folder)
            raise
        _point_current_at(folder, final.name)
        _write_atomically(folder, SOURCE_STATE, json.dumps(state))
        removed = collect_garbage(folder, config=config)
    retire_legacy_snapshots(source_path)
    seconds = time.perf_counter() - started
    log.info(
        "published snapshot %s (%d relations, %d rows) in %.2f s",
        final,
        len(row_counts),
        sum(row_counts.values()),
        seconds,
    )
    return PublishedSnapshot(final, number, row_counts, tuple(skipped), seconds, tuple(removed))


@dataclass(frozen=True)
class _SnapshotInfo:
    number: int
    schema_version: str | None
    source_db: str
    published_at: datetime


def _checkpointed(con: duckdb.DuckDBPyConnection) -> bool:
    """Checkpoint the warehouse; False (fall back to copying tables) if another transaction prevents it."""
    try:
        con.execute(sql_statement("snapshot/publish", "checkpoint_source"))
    except duckdb.Error as exc:
        log.warning(
            "cannot checkpoint the warehouse (%s): copying table by table", _first_line(exc)
        )
        return False
    return True


def _published_relations(
    con: duckdb.DuckDBPyConnection, config: SnapshotConfig
) -> tuple[list[tuple[str, str]], list[str]]:
    """(relation, kind) to publish, and the views skipped because they no longer bind."""
    relations = con.execute(
        sql_text("snapshot/relations"),
        {"public_tables": list(config.public_tables), "report_prefix": config.report_prefix},
    ).fetchall()
    published, skipped = [], []
    for relation, kind in relations:
        if kind == "view" and not _binds(con, relation):
            log.warning("snapshot skips view %s: it no longer binds", relation)
            skipped.append(relation)
            continue
        published.append((relation, kind))
    return published, skipped


# the block of snapshot/trim_copy.sql dropping an unpublished relation, by its kind
DROP_BLOCKS: dict[str, str] = {"view": "drop_view", "table": "drop_table"}


def _trim_copy(
    path: Path, info: _SnapshotInfo, config: SnapshotConfig
) -> tuple[dict[str, int], list[str]]:
    """In a byte copy of the warehouse: materialise report views, drop everything unpublished."""
    copy = duckdb.connect(str(path))
    try:
        use_utc(copy)
        published, skipped = _published_relations(copy, config)
        everything = copy.execute(sql_statement("snapshot/trim_copy", "all_relations")).fetchall()
        with transaction(copy):
            for relation, kind in published:
                if kind == "view":
                    _materialise_view(copy, relation)
            _drop_unpublished(copy, everything, {relation for relation, _ in published})
            row_counts = {
                relation: _row_count(copy, quoted_identifier(relation)) for relation, _ in published
            }
            _write_info(copy, "main", published, row_counts, info)
        copy.execute(sql_statement("snapshot/trim_copy", "checkpoint"))
    finally:
        copy.close()
    return row_counts, skipped


def _materialise_view(copy: duckdb.DuckDBPyConnection, view: str) -> None:
    """Replace a view of the private copy by a table of its current rows, under the same name."""
    staging = quoted_identifier(f"{view}__snapshot")
    relation = quoted_identifier(view)
    copy.execute(
        sql_statement("snapshot/trim_copy", "materialise_view").format(table=staging, view=relation)
    )
    copy.execute(sql_statement("snapshot/trim_copy", "drop_view").format(relation=relation))
    copy.execute(
        sql_statement("snapshot/trim_copy", "rename_table").format(
            relation=staging, new_name=relation
        )
    )


def _drop_unpublished(
    copy: duckdb.DuckDBPyConnection, everything: list[tuple[str, str]], kept: set[str]
) -> None:
    """Drop every relation of the private copy not in `kept`: the views first, then the tables."""
    for kind_to_drop in ("view", "table"):
        for relation, kind in everything:
            if kind == kind_to_drop and relation not in kept:
                copy.execute(
                    sql_statement("snapshot/trim_copy", DROP_BLOCKS[kind]).format(
                        relation=quoted_identifier(relation)
                    )
                )


def _copy_relations(
    con: duckdb.DuckDBPyConnection, target: Path, info: _SnapshotInfo, config: SnapshotConfig
) -> tuple[dict[str, int], list[str]]:
    """Copy each published relation into a new attached file (slower; needs no checkpoint)."""
    published, skipped = _published_relations(con, config)
    alias = quoted_identifier(ATTACH_ALIAS)
    row_counts: dict[str, int] = {}
    con.execute(
        sql_statement("snapshot/copy_relations", "attach").format(snapshot=alias), [str(target)]
    )
    try:
        # one transaction: every table comes from the same committed state of the warehouse
        with transaction(con):
            for relation, _ in published:
                copied = con.execute(
                    sql_statement("snapshot/copy_relations", "copy_relation").format(
                        snapshot=alias, relation=quoted_identifier(relation)
                    )
                ).fetchone()
                row_counts[relation] = int(copied[0]) if copied else 0
            _write_info(con, alias, published, row_counts, info)
        con.execute(sql_statement("snapshot/copy_relations", "checkpoint").format(snapshot=alias))
    finally:
        con.execute(sql_statement("snapshot/copy_relations", "detach").format(snapshot=alias))
    return row_counts, skipped


def _write_info(
    con: duckdb.DuckDBPyConnection,
    snapshot: str,
    published: list[tuple[str, str]],
    row_counts: dict[str, int],
    info: _SnapshotInfo,
) -> None:
    con.execute(sql_statement("snapshot/publish", "create_info").format(snapshot=snapshot))
    con.executemany(
        sql_statement("snapshot/publish", "insert_info").format(snapshot=snapshot),
        [
            [relation, kind, row_counts[relation], info.number, info.schema_version,
             info.source_db, info.published_at]
            for relation, kind in published
        ],
    )  # fmt: skip


def _row_count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    row = con.execute(
        sql_statement("snapshot/trim_copy", "count_rows").format(relation=relation)
    ).fetchone()
    return int(row[0]) if row else 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _binds(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    try:
        con.execute(
            sql_statement("snapshot/publish", "relation_binds").format(
                relation=quoted_identifier(relation)
            )
        )
    except duckdb.Error:
        return False
    return True


def _schema_version(con: duckdb.DuckDBPyConnection) -> str | None:
    return schema_version(con) if _has_migrations(con) else None


def _has_migrations(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(sql_statement("snapshot/publish", "has_migrations")).fetchone()
    return bool(row and row[0])


def _point_current_at(folder: Path, name: str) -> None:
    """Atomically replace `CURRENT`: a reader sees the old name or the new one, never a partial file."""
    _write_atomically(folder, CURRENT_POINTER, name + "\n")


def _write_atomically(folder: Path, file_name: str, text: str) -> None:
    temporary = folder / f"{file_name}{TEMP_MARKER}{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / file_name)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def source_file_state(db_path: str | Path) -> list[int | None]:
    """Size and mtime of the warehouse file and of its write-ahead log: every commit changes them, a read does not."""
    path = Path(db_path)
    wal = Path(f"{path}.wal")
    main = path.stat()
    log_stat = wal.stat() if wal.exists() else None
    return [
        main.st_size,
        main.st_mtime_ns,
        None if log_stat is None else log_stat.st_size,
        None if log_stat is None else log_stat.st_mtime_ns,
    ]


def snapshot_is_current(db_path: str | Path) -> bool:
    """Whether the current snapshot was taken from the warehouse file as it is now.

    False when nothing was published, or when something committed since (e.g. a run killed
    between its commit and its publish): then the snapshot must be published again. Call it
    holding the writer lock. A false alarm only costs one extra publish.
    """
    folder = snapshot_dir(db_path)
    if not folder.is_dir() or _read_pointer(folder) is None:
        return False
    try:
        recorded = json.loads((folder / SOURCE_STATE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    return recorded == source_file_state(db_path)


def _snapshot_numbers(folder: Path) -> dict[int, Path]:
    numbered = {}
    for path in folder.iterdir():
        match = SNAPSHOT_FILE.match(path.name)
        if match:
            numbered[int(match.group(1))] = path
    return numbered


def _read_pointer(folder: Path) -> str | None:
    try:
        name = (folder / CURRENT_POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not SNAPSHOT_FILE.match(name):
        raise ValueError(f"corrupt snapshot pointer {folder / CURRENT_POINTER}: {name!r}")
    return name


def _next_number(folder: Path) -> int:
    """One past the highest number ever used here, so a name is never reused while a reader may hold it."""
    numbers = set(_snapshot_numbers(folder))
    current = _read_pointer(folder)
    if current is not None:
        numbers.add(int(SNAPSHOT_FILE.match(current).group(1)))
    return max(numbers, default=0) + 1


def collect_garbage(
    folder: Path, *, config: SnapshotConfig | None = None, now: float | None = None
) -> list[Path]:
    """Delete superseded snapshots beyond `keep_previous` that are older than `retain_seconds`."""
    config = config or SnapshotConfig()
    now = time.time() if now is None else now
    current = _read_pointer(folder)
    superseded = sorted(
        (number, path) for number, path in _snapshot_numbers(folder).items() if path.name != current
    )
    candidates = superseded[: max(0, len(superseded) - config.keep_previous)]
    removed = []
    for _, path in candidates:
        try:
            if now - path.stat().st_mtime < config.retain_seconds:
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
        log.debug("removed superseded snapshot %s", path)
    return removed


def _remove_temporaries(folder: Path) -> None:
    """Leftovers of a publish that crashed (we hold the publish lock, so none is in progress)."""
    for path in folder.iterdir():
        if TEMP_MARKER in path.name:
            path.unlink(missing_ok=True)


@contextmanager
def _publish_lock(folder: Path) -> Iterator[None]:
    """Serialises publishers of one warehouse even if a caller forgot the writer lock."""
    with open(folder / PUBLISH_LOCK, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
