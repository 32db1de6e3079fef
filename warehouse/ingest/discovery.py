"""Which landing files there are and which of them are new: paths under the landing root, their
format by name, their content hash, and what `ingest_files` already holds."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb

from common.hashing import file_sha256
from warehouse.ingest.contract import (
    DEFAULT_RULES,
    KINDS,
    NOT_REGULAR,
    OUTSIDE_ROOT,
    UNREADABLE,
    IngestRules,
    check_kind,
)
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
    """A landing file, identified by its path under the landing root and its content hash.

    `problem` is a whole-file status found before reading (not a regular file, a link out of the
    landing root, unreadable): such a file is recorded with that status and never opened; its
    sha256 is empty. `identity` (device, inode, size, mtime, ctime) lets a later run skip hashing
    a file it can prove unchanged.
    """

    path: Path
    source_file: str
    kind: str
    file_format: str
    sha256: str
    bytes: int
    mtime_ns: int
    identity: str = ""
    problem: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class LandingEntry:
    """A directory entry under <landing>/events or /generations, before its content is read."""

    path: Path
    kind: str
    source_file: str
    identity: str
    problem: str | None = None
    detail: str | None = None


def file_format_of(path: Path) -> str:
    """The landing format of a file from its name ending, or UNSUPPORTED_FORMAT."""
    name = path.name.lower()
    for suffix, file_format in FORMATS_BY_SUFFIX:
        if name.endswith(suffix):
            return file_format
    return UNSUPPORTED_FORMAT


def display_name(relative: Path) -> str:
    """A path as valid UTF-8 text: bytes of a name that are not UTF-8 become `\\xNN` escapes."""
    return os.fsencode(relative.as_posix()).decode("utf-8", "backslashreplace")


def stat_identity(st: os.stat_result) -> str:
    """What proves a file unchanged without reading it: any write changes its ctime."""
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def landing_file(
    path: Path, kind: str, source_file: str, *, chunk_bytes: int = 8 << 20
) -> LandingFile:
    """Describe one regular file (hashing its content); one that cannot be read is described with
    the UNREADABLE problem instead of raising."""
    check_kind(kind)
    return describe(
        LandingEntry(path, kind, source_file, stat_identity(path.stat())), chunk_bytes=chunk_bytes
    )


def describe(entry: LandingEntry, *, chunk_bytes: int = 8 << 20) -> LandingFile:
    """The LandingFile of an entry: its content hashed, or its problem (nothing is read then)."""
    problem, detail, sha256, size, mtime_ns = entry.problem, entry.detail, "", 0, 0
    if problem is None:
        try:
            st = entry.path.stat()
            size, mtime_ns = st.st_size, st.st_mtime_ns
            sha256 = file_sha256(entry.path, chunk_bytes)
        except OSError as exc:
            problem, detail, sha256 = UNREADABLE, f"{type(exc).__name__}: {exc.strerror or exc}", ""
    return LandingFile(
        path=entry.path,
        source_file=entry.source_file,
        kind=entry.kind,
        file_format=file_format_of(entry.path),
        sha256=sha256,
        bytes=size,
        mtime_ns=mtime_ns,
        identity=entry.identity,
        problem=problem,
        detail=detail,
    )


def landing_entries(landing_dir: str | Path) -> list[LandingEntry]:
    """Every entry under <landing>/events and /generations, in path order, links not followed
    into folders. Names starting with a dot are skipped: writers write dot-files and rename them
    when complete."""
    root = check_landing_dir(landing_dir)
    real_root = root.resolve()
    found: list[LandingEntry] = []
    for kind in KINDS:
        folder = root / kind
        if folder.is_dir():
            found += [
                _entry(path, kind, root, real_root, problem) for path, problem in _walk(folder)
            ]
    return found


def landing_paths(landing_dir: str | Path) -> list[tuple[Path, str, str]]:
    """(path, kind, source_file) of every readable regular file of the landing zone, in order."""
    return [
        (entry.path, entry.kind, entry.source_file)
        for entry in landing_entries(landing_dir)
        if entry.problem is None
    ]


def _walk(folder: Path) -> list[tuple[Path, str | None]]:
    """(path, problem) of every entry under `folder` that is not a folder, depth first in name
    order, never descending into a linked folder; a folder that cannot be listed is a problem."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        return [(folder, f"{type(exc).__name__}: {exc.strerror or exc}")]
    found: list[tuple[Path, str | None]] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            found += _walk(path)
        else:
            found.append((path, None))
    return found


def _entry(
    path: Path, kind: str, root: Path, real_root: Path, listing_problem: str | None
) -> LandingEntry:
    """A walked path with what can be known without opening it: its identity, and whether it is a
    regular file inside the landing root."""
    source_file = display_name(path.relative_to(root))
    if listing_problem is not None:
        return LandingEntry(path, kind, source_file, "", UNREADABLE, listing_problem)
    try:
        own = os.lstat(path)
    except OSError as exc:
        return LandingEntry(path, kind, source_file, "", UNREADABLE, str(exc.strerror or exc))
    if stat.S_ISLNK(own.st_mode):
        return _link_entry(path, kind, source_file, own, real_root)
    if not stat.S_ISREG(own.st_mode):
        detail = f"not a regular file ({_file_type(own.st_mode)}): never opened"
        return LandingEntry(path, kind, source_file, stat_identity(own), NOT_REGULAR, detail)
    return LandingEntry(path, kind, source_file, stat_identity(own))


def _link_entry(
    path: Path, kind: str, source_file: str, own: os.stat_result, real_root: Path
) -> LandingEntry:
    """A symbolic link: read only when it leads to a regular file inside the landing root."""
    identity = f"link:{stat_identity(own)}:{os.fsencode(os.readlink(path)).hex()}"
    try:
        target = path.resolve(strict=True)
        target_stat = os.stat(path)
    except (OSError, RuntimeError) as exc:
        why = "a symbolic link loop" if _is_loop(exc) else "a dangling symbolic link"
        return LandingEntry(path, kind, source_file, identity, NOT_REGULAR, f"{why}: never read")
    if not target.is_relative_to(real_root):
        detail = "a symbolic link to a file outside the landing root: never read"
        return LandingEntry(path, kind, source_file, identity, OUTSIDE_ROOT, detail)
    if not stat.S_ISREG(target_stat.st_mode):
        detail = f"a symbolic link to a {_file_type(target_stat.st_mode)}: never opened"
        return LandingEntry(path, kind, source_file, identity, NOT_REGULAR, detail)
    return LandingEntry(path, kind, source_file, stat_identity(target_stat))


def _is_loop(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP


def _file_type(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


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
    """Landing files not recorded yet: neither their (source_file, identity) nor, once hashed,
    their (source_file, sha256) is in `ingest_files`. A file with a problem is described without
    being read (and, its identity unchanged, recorded once)."""
    ingested = con.execute(sql_statement("ingest/ingested", "files")).fetchall()
    seen_content = {(source, sha) for source, sha, _ in ingested if sha}
    seen_identity = {(source, identity) for source, _, identity in ingested if identity}
    new_files = []
    for entry in landing_entries(landing_dir):
        known = (entry.source_file, entry.identity) in seen_identity
        if known and (rules.skip_unchanged_by_stat or entry.problem is not None):
            continue
        described = describe(entry, chunk_bytes=rules.read_chunk_bytes)
        if described.sha256 and (described.source_file, described.sha256) in seen_content:
            con.execute(
                sql_statement("ingest/record_file", "refresh_identity"),
                {
                    "source_file": described.source_file,
                    "sha256": described.sha256,
                    "identity": described.identity,
                },
            )
            continue
        new_files.append(described)
    return new_files


def already_ingested(con: duckdb.DuckDBPyConnection, landing: LandingFile) -> bool:
    """Whether this exact file is recorded in `ingest_files` (same source_file and content, or
    for a file with a problem the same identity): checked under the writer lock, so two runs
    that discovered the same file record it once."""
    row = con.execute(
        sql_statement("ingest/ingested", "same_file"),
        {
            "source_file": landing.source_file,
            "sha256": landing.sha256,
            "identity": landing.identity,
        },
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
