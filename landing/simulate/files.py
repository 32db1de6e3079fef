"""The landing files: generation and event records routed to day files (late and duplicate deliveries
included), written in rotating formats with their malformed rows, each file listed with its counts."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from landing.contract import EVENT_TYPES, EVENTS, GENERATIONS
from landing.simulate.config import DAY_MS, SimulationConfig
from landing.simulate.corruption import allowed_malformed_kinds, corrupt_records
from landing.simulate.draws import STREAM_EVENT_FILES, STREAM_GENERATION_FILES, stream_rng
from landing.simulate.events import build_event_chunk, render_events
from landing.simulate.wire import write_wire
from landing.simulate.world import SimulatedWorld
from landing.writers import FileFormat

logger = logging.getLogger(__name__)

EVENT_FILE_NAME = re.compile(r"events_\d{8}_p\d{3}\.(jsonl|jsonl\.gz|parquet|csv)")
GENERATION_FILE_NAME = re.compile(r"generations_\d{8}_p\d{2}\.(jsonl|jsonl\.gz|parquet|csv)")
"""The names of the landing files this simulator writes (and may so replace)."""


@dataclass(frozen=True)
class LandingFile:
    """One written landing file (path relative to the output directory)."""

    path: str
    kind: str
    file_format: str
    rows: int
    malformed_rows: int
    duplicate_rows: int
    bytes: int


def _day_label(config: SimulationConfig, day: int) -> str:
    """YYYYMMDD of a window day, for file names."""
    return datetime.fromtimestamp((config.base_ms + day * DAY_MS) / 1000, tz=UTC).strftime("%Y%m%d")


class _FormatRotation:
    """Formats in turn; Parquet files alternate between RFC 3339 text and epoch-millisecond timestamps."""

    def __init__(self, formats: tuple[FileFormat, ...]) -> None:
        self.formats = formats
        self.count = 0
        self.parquet_count = 0

    def next(self) -> tuple[FileFormat, bool]:
        file_format = self.formats[self.count % len(self.formats)]
        self.count += 1
        epoch = False
        if file_format == "parquet":
            epoch = self.parquet_count % 2 == 1
            self.parquet_count += 1
        return file_format, epoch


def _malformed_truth(path: str, record_kind: str, corrupted: pl.DataFrame) -> pl.DataFrame:
    """One row per broken row of a written file (row numbers count data rows from 1)."""
    return corrupted.select(
        pl.lit(path).alias("file"),
        (pl.int_range(pl.len()) + 1).alias("row_number"),
        pl.lit(record_kind).alias("record_kind"),
        pl.col("_malformed").alias("malformed_kind"),
        pl.col("_field").alias("field"),
    ).filter(pl.col("malformed_kind").is_not_null())


def generation_records(world: SimulatedWorld) -> pl.DataFrame:
    """Generation wire records (typed; time in `created_ms`) with optional fields omitted on some rows."""
    creator_tz = world.viewer_tz[world.column("creator")]
    return world.generations.select(
        "generation_id",
        "request_id",
        "creator_id",
        "prompt",
        "model_version",
        "created_ms",
        "duration_ms",
        pl.when(~pl.col("settings_omitted")).then(pl.col("width")).alias("width"),
        pl.when(~pl.col("settings_omitted")).then(pl.col("height")).alias("height"),
        pl.when(~pl.col("settings_omitted")).then(pl.col("fps")).alias("fps"),
        pl.when(~pl.col("seed_omitted")).then(pl.col("seed")).alias("seed"),
        "reference_inputs",
        "output_uri",
        pl.when(pl.col("has_embedding")).then(pl.col("output_embedding")).alias("output_embedding"),
        pl.when(~pl.col("consent_omitted")).then(pl.col("consent")).alias("training_consent"),
        "content_flags",
        pl.when(pl.col("ab_test")).then(pl.lit("model-ab")).alias("experiment_arm"),
        "guidance_scale",
        pl.Series("_tz", creator_tz.astype(np.int64)),
        pl.col("created_ms").alias("_arrival"),
    )


class _LandingFileWriter:
    """Writes one record kind's landing files in rotating formats, keeping each file's entry and its
    malformed truth rows."""

    def __init__(
        self, config: SimulationConfig, record_kind: str, folder: Path, out_dir: Path
    ) -> None:
        self.config = config
        self.record_kind = record_kind
        self.folder = folder
        self.out_dir = out_dir
        self.rotation = _FormatRotation(config.formats)
        self.files: list[LandingFile] = []
        self.malformed: list[pl.DataFrame] = []

    def write(
        self,
        records: pl.DataFrame,
        malformed: np.ndarray,
        duplicate_rows: int,
        name: str,
        rng: np.random.Generator,
    ) -> LandingFile:
        """Write `records` as `name` in the next format, breaking the rows flagged in `malformed`."""
        file_format, epoch_file = self.rotation.next()
        kinds = allowed_malformed_kinds(self.record_kind, file_format, epoch_file)
        corrupted = corrupt_records(records, self.record_kind, kinds, malformed, rng)
        path = self.folder / f"{name}.{file_format}"
        relative = path.relative_to(self.out_dir).as_posix()
        size = write_wire(
            corrupted, self.record_kind, file_format, path, self.config, rng, epoch_file
        )
        bad_rows = _malformed_truth(relative, self.record_kind, corrupted)
        self.malformed.append(bad_rows)
        entry = LandingFile(
            relative,
            self.record_kind,
            file_format,
            records.height,
            bad_rows.height,
            duplicate_rows,
            size,
        )
        self.files.append(entry)
        return entry


def _generation_deliveries(
    world: SimulatedWorld, rng: np.random.Generator
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Every generation row to deliver with its file day and arrival: each record once (some late),
    duplicate copies of some, and extra broken copies of some (`_broken`); plus their counts."""
    config = world.config
    records = generation_records(world)
    n = records.height
    last_day = config.days - 1
    day = np.clip(
        (records.get_column("created_ms").to_numpy() - config.base_ms) // DAY_MS, 0, last_day
    )
    late = (rng.random(n) < config.late_generation_share) & (day < last_day)
    file_day = np.where(late, np.minimum(day + rng.integers(1, 3, n), last_day), day)
    arrival = np.where(
        late,
        config.base_ms + file_day * DAY_MS + (rng.random(n) * DAY_MS).astype(np.int64),
        records.get_column("_arrival").to_numpy() + rng.integers(100, 10_000, n),
    )
    records = records.with_columns(
        _file_day=pl.Series(file_day), _arrival=pl.Series(arrival), _duplicate=pl.lit(False)
    )
    dup = np.flatnonzero(rng.random(n) < config.duplicate_generation_share)
    dup_day = np.minimum(file_day[dup] + (rng.random(dup.size) < 0.5), last_day)
    duplicates = records[dup].with_columns(
        _file_day=pl.Series(dup_day),
        _arrival=pl.col("_arrival") + pl.Series(rng.integers(1000, 3_600_000, dup.size)),
        _duplicate=pl.lit(True),
    )
    bad = np.flatnonzero(rng.random(n) < config.malformed_generation_share)
    broken = records[bad].with_columns(
        _arrival=pl.col("_arrival") - pl.Series(rng.integers(1, 60_000, bad.size)),
        _broken=pl.lit(True),
    )
    everything = pl.concat(
        [
            records.with_columns(_broken=pl.lit(False)),
            duplicates.with_columns(_broken=pl.lit(False)),
            broken,
        ]
    )
    counts = {"late": int(late.sum()), "duplicate": int(dup.size), "malformed": int(bad.size)}
    return everything, counts


def write_generation_files(
    world: SimulatedWorld, root: Path, out_dir: Path
) -> tuple[list[LandingFile], list[pl.DataFrame], dict[str, int]]:
    """The generation files, `generation_files_per_day` per day of arrival, rows in arrival order;
    returns the files, their malformed truth rows and counts (late, duplicate, malformed, rows)."""
    config = world.config
    rng = stream_rng(config, STREAM_GENERATION_FILES)
    everything, counts = _generation_deliveries(world, rng)
    counts["rows"] = 0
    writer = _LandingFileWriter(config, GENERATIONS, root, out_dir)
    for d in range(config.days):
        rows_today = everything.filter(pl.col("_file_day") == d)
        if rows_today.height == 0:
            continue
        split = np.arange(rows_today.height) % config.generation_files_per_day
        for part in range(config.generation_files_per_day):
            rows = rows_today.filter(pl.Series(split == part)).sort(["_arrival", "generation_id"])
            if rows.height == 0:
                continue
            writer.write(
                rows,
                rows.get_column("_broken").to_numpy(),
                int(rows.get_column("_duplicate").sum()),
                f"generations_{_day_label(config, d)}_p{part:02d}",
                rng,
            )
            counts["rows"] += rows.height
    return writer.files, writer.malformed, counts


def write_event_files(
    world: SimulatedWorld, root: Path, out_dir: Path
) -> tuple[list[LandingFile], list[pl.DataFrame], dict[str, int], dict[str, int]]:
    """The event files: each (day, part) chunk's events of that day plus a share of the late ones
    landing that day, rows in arrival order; returns the files, their malformed truth rows, counts
    (rows, duplicate, late, malformed) and rows per event type."""
    config = world.config
    writer = _LandingFileWriter(config, EVENTS, root, out_dir)
    by_type = np.zeros(len(EVENT_TYPES), dtype=np.int64)
    counts = {"rows": 0, "duplicate": 0, "late": 0, "malformed": 0}
    pending: pl.DataFrame | None = None
    for day in range(config.days):
        parts = int(world.parts_per_day[day])
        incoming = None
        if pending is not None:
            incoming = pending.filter(pl.col("file_day") == day)
            pending = pending.filter(pl.col("file_day") != day)
        for part in range(parts):
            chunk = build_event_chunk(world, day, part)
            later = chunk.filter(pl.col("file_day") > day)
            pending = later if pending is None else pl.concat([pending, later])
            rows = chunk.filter(pl.col("file_day") == day)
            if incoming is not None and incoming.height:
                share = incoming.filter(pl.Series(np.arange(incoming.height) % parts == part))
                rows = pl.concat([rows, share])
            rows = rows.sort(["arrival", "event_key", "duplicate"])
            if rows.height == 0:
                continue
            rng = stream_rng(config, STREAM_EVENT_FILES, day, part)
            malformed = rng.random(rows.height) < config.malformed_share
            n_dup = int(rows.get_column("duplicate").sum())
            file_name = f"events_{_day_label(config, day)}_p{part:03d}"
            entry = writer.write(render_events(world, rows), malformed, n_dup, file_name, rng)
            by_type += np.bincount(rows.get_column("etype").to_numpy(), minlength=len(EVENT_TYPES))
            counts["rows"] += rows.height
            counts["duplicate"] += n_dup
            counts["late"] += int((rows.get_column("late") & ~rows.get_column("duplicate")).sum())
            counts["malformed"] += entry.malformed_rows
        logger.debug("simulated events of day %d in %d parts", day, parts)
    return (
        writer.files,
        writer.malformed,
        counts,
        {name: int(by_type[i]) for i, name in enumerate(EVENT_TYPES)},
    )
