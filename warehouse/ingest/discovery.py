"""Which landing files there are and which of them are new: paths under the landing root, their
format by name, their content hash, and what `ingest_files` already holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from common.hashing import file_sha256
from warehouse.ingest.contract import DEFAULT_RULES, KINDS, IngestRules, check_kind
from warehouse.sql_files import sql_statement

# file formats by (lower-case) name ending, longest ending first
FORMATS_BY_SUFFIX: tuple[tuple[str, str], ...] = (
    (".jsonl.gz", "jsonl.gz"),
    (".csv.gz", "csv.gz"),
    (".jsonl", "jsonl"),
    (".csv", "csv"),
    (".parquet", "parquet"),
)
UNSUPPORTED_FORMAT = "unsupported"


@dataclass(frozen=True)
class LandingFile:
    """A landing file, identified by its path under the landing root and its content hash."""

    path: Path
    source_file: str
    kind: str
    file_format: str
    sha256: str
    bytes: int
    mtime_ns: int


def file_format_of(path: Path) -> str:
    """The landing format of a file from its name ending, or UNSUPPORTED_FORMAT."""
    name = path.name.lower()
    for suffix, file_format in FORMATS_BY_SUFFIX:
        if name.endswith(suffix):
            return file_format
    return UNSUPPORTED_FORMAT


def landing_file(
    path: Path, kind: str, source_file: str, *, chunk_bytes: int = 8 << 20
) -> LandingFile:
    """Describe one file (hashing its content)."""
    check_kind(kind)
    stat = path.stat()
    return LandingFile(
        path=path,
        source_file=source_file,
        kind=kind,
        file_format=file_format_of(path),
        sha256=file_sha256(path, chunk_bytes),
        bytes=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
    )


def landing_paths(landing_dir: str | Path) -> list[tuple[Path, str, str]]:
    """(path, kind, source_file) of every file under <landing>/events and /generations, sorted.

    Names starting with a dot are skipped: writers write dot-files and rename them when complete.
    """
    root = check_landing_dir(landing_dir)
    found = []
    for kind in KINDS:
        folder = root / kind
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(root)
            if any(part.startswith(".") for part in relative.parts) or not path.is_file():
                continue
            found.append((path, kind, relative.as_posix()))
    return found


def check_landing_dir(landing_dir: str | Path) -> Path:
    """The landing root if it exists with an events/ or generations/ folder, else a clear error."""
    root = Path(landing_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"landing directory not found: {root}")
    if not any((root / kind).is_dir() for kind in KINDS):
        raise ValueError(f"{root} has neither an events/ nor a generations/ folder")
    return root


def discover_new_files(
    con: duckdb.DuckDBPyConnection, landing_dir: str | Path, rules: IngestRules = DEFAULT_RULES
) -> list[LandingFile]:
    """Landing files not ingested yet: (source_file, sha256) unseen in `ingest_files`."""
    ingested = con.execute(sql_statement("ingest/ingested", "files")).fetchall()
    seen_content = {(source, sha) for source, sha, _, _ in ingested}
    seen_stat = {(source, size, mtime) for source, _, size, mtime in ingested if mtime is not None}
    new_files = []
    for path, kind, source_file in landing_paths(landing_dir):
        stat = path.stat()
        if (
            rules.skip_unchanged_by_mtime
            and (source_file, stat.st_size, stat.st_mtime_ns) in seen_stat
        ):
            continue
        described = landing_file(path, kind, source_file, chunk_bytes=rules.read_chunk_bytes)
        if (source_file, described.sha256) not in seen_content:
            new_files.append(described)
    return new_files


def already_ingested(con: duckdb.DuckDBPyConnection, landing: LandingFile) -> bool:
    """Whether this exact file (same source_file, same content) is recorded in `ingest_files`."""
    row = con.execute(
        sql_statement("ingest/ingested", "same_file"),
        {"source_file": landing.source_file, "sha256": landing.sha256},
    ).fetchone()
    return bool(row and row[0])


def first_with_content(
    con: duckdb.DuckDBPyConnection, landing: LandingFile
) -> tuple[str, int] | None:
    """(source_file, rows_read) of the first file ingested with this content and kind, if any."""
    row = con.execute(
        sql_statement("ingest/ingested", "same_content"),
        {"sha256": landing.sha256, "kind": landing.kind},
    ).fetchone()
    return (row[0], row[1]) if row is not None else None
