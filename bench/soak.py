"""Soak: a stream of small landing files arriving for N minutes while ingest and label run in a loop.

A writer thread splits a simulated landing zone (every format the simulator writes) into small
files and drops them into a fresh landing folder continuously (written under a dot-name, then
renamed, as an app would); the main thread runs ingest and then label over and over until the
time is up, then once more. At the end it checks the accounting of every file
(rows_read = loaded + duplicate + quarantined, every written file and row ingested) and that the
events table holds exactly the distinct event_ids written minus those whose every row was
quarantined, and prints throughput and files per minute. Exits 1 if any check fails.

    python bench/soak.py [--minutes 2] [--requests 1500] [--rows-per-file 400] [--files-per-second 8]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from features.label_config import LabelConfig
from landing.simulate import SimulationConfig, simulate_landing_zone
from pipelines.label import label
from warehouse.ingest import (
    IngestRules,
    file_format_of,
    ingest_landing_zone,
    iter_record_batches,
    landing_paths,
)
from warehouse.resource import Warehouse


@dataclass(frozen=True)
class SoakConfig:
    """How long, how much and how fast."""

    minutes: float = 2.0
    requests: int = 1500
    days: int = 7
    seed: int = 0
    rows_per_file: int = 400
    files_per_second: float = 8.0
    memory_limit: str | None = "1536MB"


@dataclass(frozen=True)
class SmallFile:
    """One small landing file to drop: where it goes, its bytes, and the records it holds."""

    relative: str
    kind: str
    payload: bytes
    # per record: (row number in this file, event_id or None when the record has no string event_id)
    records: tuple[tuple[int, str | None], ...]


@dataclass
class WriterStats:
    written: list[SmallFile] = field(default_factory=list)
    finished: bool = False


def record_event_id(record: bytes, header: list[str] | None) -> str | None:
    """The event_id a JSON Lines or CSV record carries as a string, or None."""
    if header is not None:
        try:
            cells = next(iter(csv.reader([record.decode("utf-8")], strict=True)), [])
        except (UnicodeDecodeError, csv.Error):
            return None
        if "event_id" in header and len(cells) == len(header):
            value = cells[header.index("event_id")]
            return value or None
        return None
    try:
        value = json.loads(record)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(value, dict) and isinstance(value.get("event_id"), str):
        return value["event_id"]
    return None


def split_text(
    path: Path, file_format: str, rows: int
) -> list[tuple[bytes, list[bytes], list[str] | None]]:
    """The records of a text file in chunks of `rows` (a CSV chunk starts with the header record)."""
    opener = gzip.open if file_format.endswith(".gz") else open
    with opener(path, "rb") as stream:
        records = [
            record
            for batch in iter_record_batches(stream, quoted=file_format.startswith("csv"))
            for record in batch.column("record").to_pylist()
        ]
    header_record: bytes | None = None
    header: list[str] | None = None
    if file_format.startswith("csv") and records:
        header_record, records = records[0], records[1:]
        header = next(iter(csv.reader([header_record.decode("utf-8", "replace")])))
    chunks = []
    for start in range(0, len(records), rows):
        chunk = records[start : start + rows]
        lines = ([header_record] if header_record is not None else []) + chunk
        chunks.append((b"\n".join(lines) + b"\n", chunk, header))
    return chunks


def small_files(landing: Path, rows: int) -> list[SmallFile]:
    """Every simulated file cut into files of at most `rows` records, same format, arrival order by day."""
    files: list[SmallFile] = []
    for path, kind, source in landing_paths(landing):
        file_format = file_format_of(path)
        stem = source.replace("/", "_").split(".")[0]
        suffix = path.name[len(path.name.split(".")[0]) :]
        if file_format == "parquet":
            table = pq.read_table(path)
            ids = table.column("event_id").to_pylist() if "event_id" in table.column_names else None
            for part, start in enumerate(range(0, table.num_rows, rows)):
                piece = table.slice(start, rows)
                buffer = io.BytesIO()
                pq.write_table(piece, buffer)
                records = tuple(
                    (i + 1, ids[start + i] if ids and isinstance(ids[start + i], str) else None)
                    for i in range(piece.num_rows)
                )
                files.append(
                    SmallFile(f"{kind}/{stem}_{part:05d}{suffix}", kind, buffer.getvalue(), records)
                )
            continue
        for part, (payload, chunk, header) in enumerate(split_text(path, file_format, rows)):
            line = 2 if header is not None else 1  # physical line where each record starts
            numbered = []
            for record in chunk:
                numbered.append(
                    (line, record_event_id(record, header) if kind == "events" else None)
                )
                line += record.count(b"\n") + 1
            records = tuple(numbered)
            data = gzip.compress(payload, mtime=0) if file_format.endswith(".gz") else payload
            files.append(SmallFile(f"{kind}/{stem}_{part:05d}{suffix}", kind, data, records))
    # interleave by source day so generations and their events arrive close together, as in production
    return sorted(files, key=lambda f: (f.relative.split("_")[1], f.relative))


def write_stream(
    files: list[SmallFile], landing: Path, config: SoakConfig, deadline: float, stats: WriterStats
) -> None:
    """Drop the files at `files_per_second` until all are written or the deadline passes."""
    interval = 1.0 / config.files_per_second
    for small in files:
        if time.monotonic() >= deadline:
            break
        target = landing / small.relative
        target.parent.mkdir(parents=True, exist_ok=True)
        hidden = target.with_name(f".{target.name}.writing")
        hidden.write_bytes(small.payload)
        hidden.rename(target)
        stats.written.append(small)
        time.sleep(interval)
    stats.finished = True


@dataclass
class LoopStats:
    ingest_runs: int = 0
    ingest_seconds: float = 0.0
    rows_read: int = 0
    files_ingested: int = 0
    label_runs: int = 0
    label_seconds: float = 0.0


def run_loop_once(db: str, landing: Path, rules: IngestRules, stats: LoopStats) -> None:
    started = time.perf_counter()
    with Warehouse.at(db).writer() as con:
        accounting = ingest_landing_zone(con, landing, rules)
    stats.ingest_seconds += time.perf_counter() - started
    stats.ingest_runs += 1
    stats.files_ingested += len(accounting)
    stats.rows_read += sum(a.rows_read for a in accounting)
    started = time.perf_counter()
    label(Warehouse.at(db), LabelConfig())
    stats.label_seconds += time.perf_counter() - started
    stats.label_runs += 1


def check_accounting(db: str, written: list[SmallFile]) -> list[str]:
    """Failures of the end-of-soak checks (empty when everything adds up)."""
    failures = []
    with Warehouse.at(db).writer(publish=False) as con:
        files = con.execute(
            "select source_file, rows_read, rows_loaded, rows_duplicate, rows_quarantined from ingest_files"
        ).fetchall()
        quarantined = set(
            con.execute(
                "select source_file, row_number from quarantine where row_number > 0"
            ).fetchall()
        )
        events = con.execute("select count(*), count(distinct event_id) from events").fetchone()
        loaded_ids = {r[0] for r in con.execute("select event_id from events").fetchall()}
    unbalanced = [f for f in files if f[1] != f[2] + f[3] + f[4]]
    if unbalanced:
        failures.append(
            f"{len(unbalanced)} files where rows_read != loaded + duplicate + quarantined"
        )
    by_name = {f[0]: f for f in files}
    missing = [s.relative for s in written if s.relative not in by_name]
    if missing:
        failures.append(f"{len(missing)} written files never ingested, e.g. {missing[0]}")
    wrong_rows = [
        s.relative
        for s in written
        if s.relative in by_name and by_name[s.relative][1] != len(s.records)
    ]
    if wrong_rows:
        failures.append(f"{len(wrong_rows)} files whose rows_read differs from the rows written")
    if events[0] != events[1]:
        failures.append(f"events holds {events[0] - events[1]} duplicate event_ids")
    rows_of: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for small in written:
        if small.kind == "events":
            for row_number, event_id in small.records:
                if event_id is not None:
                    rows_of[event_id].append((small.relative, row_number))
    expected = {
        event_id for event_id, rows in rows_of.items() if any(r not in quarantined for r in rows)
    }
    if expected != loaded_ids:
        failures.append(
            f"events: {len(loaded_ids)} loaded, {len(expected)} expected (distinct event_ids written "
            f"minus those only in quarantined rows); {len(loaded_ids - expected)} unexpected, "
            f"{len(expected - loaded_ids)} missing"
        )
    return failures


def soak(config: SoakConfig, root: Path) -> int:
    logging.basicConfig(level=logging.WARNING)
    simulate_landing_zone(
        root / "sim", SimulationConfig(requests=config.requests, days=config.days, seed=config.seed)
    )
    files = small_files(root / "sim" / "landing", config.rows_per_file)
    landing = root / "landing"
    (landing / "events").mkdir(parents=True)
    (landing / "generations").mkdir(parents=True)
    db = str(root / "reelloop.duckdb")
    rules = IngestRules(memory_limit=config.memory_limit)
    started = time.monotonic()
    deadline = started + config.minutes * 60
    writer_stats = WriterStats()
    writer = threading.Thread(
        target=write_stream, args=(files, landing, config, deadline, writer_stats), daemon=True
    )
    writer.start()
    loop = LoopStats()
    while time.monotonic() < deadline and not writer_stats.finished:
        run_loop_once(db, landing, rules, loop)
    writer.join()
    run_loop_once(db, landing, rules, loop)  # the files that arrived during the last pass
    elapsed = time.monotonic() - started
    written = list(writer_stats.written)
    failures = check_accounting(db, written)
    rows_written = sum(len(s.records) for s in written)
    print(
        f"soak: {elapsed:.0f} s, {len(written)} small files written ({rows_written:,} rows) of {len(files)} available"
    )
    print(
        f"ingest: {loop.ingest_runs} runs, {loop.files_ingested} files, {loop.rows_read:,} rows read in "
        f"{loop.ingest_seconds:.1f} s busy = {loop.rows_read / max(loop.ingest_seconds, 1e-9):,.0f} rows/s; "
        f"{loop.files_ingested / (elapsed / 60):.0f} files/minute over the soak"
    )
    print(
        f"label: {loop.label_runs} runs, {loop.label_seconds:.1f} s busy "
        f"({loop.label_seconds / max(loop.label_runs, 1):.2f} s per run)"
    )
    if failures:
        for failure in failures:
            print(f"FAIL: {failure}")
        return 1
    print(
        "accounting OK: every file rows_read = loaded + duplicate + quarantined; every written file and row "
        "ingested; events = distinct event_ids written minus those only quarantined"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    defaults = SoakConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=defaults.minutes)
    parser.add_argument("--requests", type=int, default=defaults.requests)
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--rows-per-file", type=int, default=defaults.rows_per_file)
    parser.add_argument("--files-per-second", type=float, default=defaults.files_per_second)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    config = SoakConfig(
        minutes=args.minutes,
        requests=args.requests,
        days=args.days,
        seed=args.seed,
        rows_per_file=args.rows_per_file,
        files_per_second=args.files_per_second,
    )
    root = Path(tempfile.mkdtemp(prefix="reelloop-soak-"))
    try:
        return soak(config, root)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
