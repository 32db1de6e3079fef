"""Map the KuaiRand standard log onto the reelloop event contract and write a landing zone.

KuaiRand: Gao et al., "KuaiRand: An Unbiased Sequential Recommendation Dataset with
Randomly Exposed Videos", CIKM 2022, licensed CC BY-SA 4.0; the files written here are a
derivative and carry that attribution. The mapping is documented in notes/kuairand_mapping.md.
Every step is a lazy polars plan run by the streaming engine; no Python loop touches rows.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from landing.contract import EVENT_TYPES, SURFACES

logger = logging.getLogger(__name__)

# The standard log's columns, as documented by the dataset (all integers).
SOURCE_SCHEMA: Mapping[str, pl.DataType] = {
    "user_id": pl.Int64(),
    "video_id": pl.Int64(),
    "date": pl.Int64(),
    "hourmin": pl.Int64(),
    "time_ms": pl.Int64(),
    "is_click": pl.Int64(),
    "is_like": pl.Int64(),
    "is_follow": pl.Int64(),
    "is_comment": pl.Int64(),
    "is_forward": pl.Int64(),
    "is_hate": pl.Int64(),
    "long_view": pl.Int64(),
    "play_time_ms": pl.Int64(),
    "duration_ms": pl.Int64(),
    "profile_stay_time": pl.Int64(),
    "comment_stay_time": pl.Int64(),
    "is_profile_enter": pl.Int64(),
    "is_rand": pl.Int64(),
    "tab": pl.Int64(),
}
FLAG_COLUMNS: tuple[str, ...] = (
    "is_click",
    "is_like",
    "is_follow",
    "is_comment",
    "is_forward",
    "is_hate",
    "long_view",
    "is_profile_enter",
    "is_rand",
)
NON_NEGATIVE_COLUMNS: tuple[str, ...] = (
    "play_time_ms",
    "duration_ms",
    "profile_stay_time",
    "comment_stay_time",
)
# Source columns with no contract field: kept on the impression as `kr_<column>` extras, so
# that together with the view (play_time_ms) and the reaction events every source row can be
# rebuilt from the landing zone.
IMPRESSION_EXTRA_COLUMNS: tuple[str, ...] = (
    "tab",
    "date",
    "hourmin",
    "is_click",
    "long_view",
    "is_follow",
    "is_profile_enter",
    "profile_stay_time",
    "comment_stay_time",
    "is_rand",
    "duration_ms",
)
MS_PER_DAY = 86_400_000
FILE_PREFIX = "kuairand"


@dataclass(frozen=True)
class KuaiRandConfig:
    """Choices of the KuaiRand -> contract mapping (see notes/kuairand_mapping.md)."""

    id_prefix: str = "kr"
    model_version: str = "kuairand-real"
    creator_id: str = "kr-unknown-creator"
    prompt_template: str = "kuairand video {}"
    # KuaiRand documents tab only as "the scenario, in [0, 14]": no code is known to be a
    # search or profile page, so every tab maps to default_surface unless listed here.
    tab_surfaces: tuple[tuple[int, str], ...] = ()
    default_surface: str = "feed"
    unknown_duration_ms: int = 1
    view_offset_ms: int = 1
    reaction_offset_ms: int = 2
    # (event_type, source flag column): one event per row whose flag is 1.
    reaction_flags: tuple[tuple[str, str], ...] = (
        ("like", "is_like"),
        ("comment", "is_comment"),
        ("share", "is_forward"),
        ("dislike", "is_hate"),
    )
    # Real third-party videos: never exported for training.
    training_consent: bool = False
    attribution: str = "KuaiRand-Pure (Gao et al., CIKM 2022, https://kuairand.com), CC BY-SA 4.0"

    def __post_init__(self) -> None:
        surfaces = {self.default_surface, *(surface for _, surface in self.tab_surfaces)}
        if not surfaces <= set(SURFACES):
            raise ValueError(f"unknown surface(s) {sorted(surfaces - set(SURFACES))}")
        if self.unknown_duration_ms <= 0:
            raise ValueError("unknown_duration_ms must be > 0 (the contract needs duration_ms > 0)")
        if not 0 <= self.view_offset_ms <= self.reaction_offset_ms:
            raise ValueError("need 0 <= view_offset_ms <= reaction_offset_ms")
        if "{}" not in self.prompt_template:
            raise ValueError("prompt_template needs a {} placeholder for the video id")
        for event_type, column in self.reaction_flags:
            if event_type not in EVENT_TYPES or column not in SOURCE_SCHEMA:
                raise ValueError(f"bad reaction flag mapping {event_type!r} <- {column!r}")


@dataclass(frozen=True)
class ImportSummary:
    """What one import wrote: rows read, records per kind, and the files."""

    source_rows: int
    events: dict[str, int]
    generations: int
    files: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "source_rows": self.source_rows,
            "events": dict(self.events),
            "generations": self.generations,
            "files": list(self.files),
        }


def source_columns(csv_path: str | Path) -> list[str]:
    """The header of a KuaiRand log CSV; a clear error if the file or a column is missing."""
    path = Path(csv_path)
    if not path.is_file():
        raise FileNotFoundError(f"KuaiRand CSV not found: {path}")
    try:
        header = pl.read_csv(path, n_rows=0).columns
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ValueError(f"{path} is not a readable CSV: {_first_line(exc)}") from exc
    missing = [column for column in SOURCE_SCHEMA if column not in header]
    if missing:
        raise ValueError(f"{path} is not a KuaiRand log: missing column(s) {', '.join(missing)}")
    return header


def source_rows(csv_path: str | Path) -> pl.LazyFrame:
    """The log as typed rows, with `kr_row` (0-based data row) and `kr_repeat`.

    `kr_repeat` numbers the rows sharing one (user_id, video_id, time_ms) in file order:
    the log repeats such keys and each repeat is a distinct exposure.
    """
    header = source_columns(csv_path)
    ignored = [column for column in header if column not in SOURCE_SCHEMA]
    if ignored:
        logger.warning("KuaiRand CSV %s: ignoring unknown column(s) %s", csv_path, ignored)
    return (
        pl.scan_csv(csv_path, schema_overrides=dict(SOURCE_SCHEMA), row_index_name="kr_row")
        .select("kr_row", *SOURCE_SCHEMA)
        .with_columns(
            pl.col("kr_row").cast(pl.Int64),
            kr_repeat=pl.int_range(pl.len(), dtype=pl.Int64).over(
                ["user_id", "video_id", "time_ms"]
            ),
        )
    )


def source_problems(rows: pl.LazyFrame) -> pl.LazyFrame:
    """One row per broken rule of the log format: rule, rows breaking it, first such row."""
    rules: dict[str, pl.Expr] = {
        f"{column} is empty": pl.col(column).is_null() for column in SOURCE_SCHEMA
    }
    rules |= {f"{column} not 0/1": ~pl.col(column).is_in([0, 1]) for column in FLAG_COLUMNS}
    rules |= {f"{column} < 0": pl.col(column) < 0 for column in NON_NEGATIVE_COLUMNS}
    counts = rows.select(
        *(
            pl.struct(
                rows=condition.fill_null(False).sum(),
                first_row=pl.col("kr_row").filter(condition.fill_null(False)).min(),
            ).alias(rule)
            for rule, condition in rules.items()
        )
    )
    return (
        counts.unpivot(variable_name="rule", value_name="found")
        .unnest("found")
        .filter(pl.col("rows") > 0)
    )


def validated_row_count(csv_path: str | Path) -> int:
    """Rows of a KuaiRand log CSV, after checking every row obeys the format (else ValueError)."""
    rows = source_rows(csv_path)
    try:
        problems, total = pl.collect_all(
            [source_problems(rows), rows.select(pl.len())], engine="streaming"
        )
    except pl.exceptions.PolarsError as exc:
        raise ValueError(
            f"{csv_path} cannot be read as a KuaiRand log: {_first_line(exc)}"
        ) from exc
    if problems.height:
        details = "; ".join(
            f"{rule}: {n} row(s), first at data row {first}"
            for rule, n, first in problems.select("rule", "rows", "first_row").iter_rows()
        )
        raise ValueError(f"{csv_path} breaks the KuaiRand log format: {details}")
    return int(total.item())


def _generation_id(config: KuaiRandConfig) -> pl.Expr:
    return pl.format(f"{config.id_prefix}-v{{}}", "video_id").alias("generation_id")


def _viewer_id(config: KuaiRandConfig) -> pl.Expr:
    return pl.format(f"{config.id_prefix}-u{{}}", "user_id").alias("viewer_id")


def _event_id(config: KuaiRandConfig, event_type: str) -> pl.Expr:
    # Keyed on what the row is, not where it sits in a file, so overlapping KuaiRand slices
    # (the shared week is cut from a longer log) map the same exposure to the same event_id.
    return pl.format(
        f"{config.id_prefix}-u{{}}-v{{}}-t{{}}-n{{}}-{event_type}",
        "user_id",
        "video_id",
        "time_ms",
        "kr_repeat",
    )


def _surface(config: KuaiRandConfig) -> pl.Expr:
    if not config.tab_surfaces:
        return pl.lit(config.default_surface, dtype=pl.String)
    return pl.col("tab").replace_strict(
        dict(config.tab_surfaces), default=config.default_surface, return_dtype=pl.String
    )


def _day() -> pl.Expr:
    """UTC calendar day of the source row's time_ms: all events of one row share a file."""
    return pl.from_epoch(pl.col("time_ms"), time_unit="ms").dt.date().alias("day")


def _event_columns(config: KuaiRandConfig, event_type: str, offset_ms: int) -> list[pl.Expr]:
    return [
        _event_id(config, event_type).alias("event_id"),
        pl.lit(event_type, dtype=pl.String).alias("event_type"),
        _generation_id(config),
        _viewer_id(config),
        (pl.col("time_ms") + offset_ms).alias("occurred_at"),
        _surface(config).alias("surface"),
    ]


def impression_events(rows: pl.LazyFrame, config: KuaiRandConfig) -> pl.LazyFrame:
    """One impression per source row, carrying the source columns no event type covers."""
    return rows.select(
        *_event_columns(config, "impression", 0),
        *(pl.col(column).alias(f"kr_{column}") for column in IMPRESSION_EXTRA_COLUMNS),
        pl.col("kr_row"),
        _day(),
    )


def view_events(rows: pl.LazyFrame, config: KuaiRandConfig) -> pl.LazyFrame:
    """One view per source row that played (play_time_ms > 0), watch_ms = play_time_ms."""
    return rows.filter(pl.col("play_time_ms") > 0).select(
        *_event_columns(config, "view", config.view_offset_ms),
        pl.col("play_time_ms").alias("watch_ms"),
        _day(),
    )


def reaction_events(
    rows: pl.LazyFrame, config: KuaiRandConfig, event_type: str, flag_column: str
) -> pl.LazyFrame:
    """One `event_type` event per source row whose `flag_column` is 1, played or not."""
    return rows.filter(pl.col(flag_column) == 1).select(
        *_event_columns(config, event_type, config.reaction_offset_ms),
        _day(),
    )


def event_frames(rows: pl.LazyFrame, config: KuaiRandConfig) -> dict[str, pl.LazyFrame]:
    """Every event type's frame (with a `day` partition column), keyed by event_type."""
    frames = {
        "impression": impression_events(rows, config),
        "view": view_events(rows, config),
    }
    for event_type, flag_column in config.reaction_flags:
        frames[event_type] = reaction_events(rows, config, event_type, flag_column)
    return frames


def generation_records(rows: pl.LazyFrame, config: KuaiRandConfig) -> pl.LazyFrame:
    """One generation record per video_id, sorted by video_id.

    duration_ms: the most frequent positive duration of the video's rows (ties: the longest);
    a video with none gets config.unknown_duration_ms and kr_duration_known = false.
    """
    durations = (
        rows.filter(pl.col("duration_ms") > 0)
        .group_by("video_id", "duration_ms")
        .agg(pl.len().alias("rows"))
        .group_by("video_id")
        .agg(
            pl.col("duration_ms")
            .sort_by(["rows", "duration_ms"], descending=[True, True])
            .first()
            .alias("known_duration_ms")
        )
    )
    first_seen = rows.group_by("video_id").agg(pl.col("time_ms").min().alias("created_at"))
    return (
        first_seen.join(durations, on="video_id", how="left")
        .sort("video_id")
        .select(
            _generation_id(config),
            pl.format(f"{config.id_prefix}-r{{}}", "video_id").alias("request_id"),
            pl.lit(config.creator_id, dtype=pl.String).alias("creator_id"),
            pl.format(config.prompt_template, "video_id").alias("prompt"),
            pl.lit(config.model_version, dtype=pl.String).alias("model_version"),
            pl.col("created_at"),
            pl.col("known_duration_ms")
            .fill_null(config.unknown_duration_ms)
            .cast(pl.Int64)
            .alias("duration_ms"),
            pl.lit(config.training_consent, dtype=pl.Boolean).alias("training_consent"),
            pl.col("known_duration_ms").is_not_null().alias("kr_duration_known"),
            pl.lit(config.attribution, dtype=pl.String).alias("kr_source"),
        )
    )


def source_tag(csv_path: str | Path) -> str:
    """The name that keeps one CSV's output files apart from another's: its sanitized stem."""
    tag = re.sub(r"[^A-Za-z0-9-]+", "-", Path(csv_path).stem).strip("-")
    return tag or "log"


def own_files(out_dir: Path, tag: str) -> list[Path]:
    """Files a previous import of the CSV with this tag wrote under out_dir."""
    event_name = re.compile(
        rf"{FILE_PREFIX}_{re.escape(tag)}_\d{{4}}-\d{{2}}-\d{{2}}_[a-z]+_\d+\.parquet"
    )
    generation_name = f"{FILE_PREFIX}_{tag}.parquet"
    events = out_dir / "events"
    found = [p for p in events.glob("*.parquet") if event_name.fullmatch(p.name)]
    generation_file = out_dir / "generations" / generation_name
    return sorted(found + ([generation_file] if generation_file.is_file() else []))


def _event_file_name(
    tag: str, event_type: str
) -> Callable[[pl.io.partition.FileProviderArgs], str]:
    def name(args: pl.io.partition.FileProviderArgs) -> str:
        day = args.partition_keys.get_column("day")[0]
        return f"{FILE_PREFIX}_{tag}_{day}_{event_type}_{args.index_in_partition:03d}.parquet"

    return name


def write_landing_zone(
    csv_path: str | Path, out_dir: str | Path, config: KuaiRandConfig | None = None
) -> ImportSummary:
    """Validate a KuaiRand log CSV and write it as events/ (per UTC day and type) and generations/.

    Files are built in a staging folder and moved into place, replacing what an earlier import
    of the same CSV wrote, so readers never see half a file and reruns give identical bytes.
    """
    config = config or KuaiRandConfig()
    out = Path(out_dir)
    source_count = validated_row_count(csv_path)
    tag = source_tag(csv_path)
    staging = out / f".{FILE_PREFIX}-staging-{tag}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "events").mkdir(parents=True)
    (staging / "generations").mkdir(parents=True)
    metadata = {"source": config.attribution, "source_file": Path(csv_path).name}

    rows = source_rows(csv_path)
    frames = event_frames(rows, config)
    written: dict[str, list[pl.io.partition.SinkedPath]] = {t: [] for t in frames}
    sinks = [
        frame.sink_parquet(
            pl.PartitionBy(
                staging / "events",
                key="day",
                include_key=False,
                file_path_provider=_event_file_name(tag, event_type),
                approximate_bytes_per_file=None,
            ),
            metadata=metadata,
            sinked_paths_callback=lambda args, sink=written[event_type]: sink.extend(args.paths),
            lazy=True,
        )
        for event_type, frame in frames.items()
    ]
    generations_file = staging / "generations" / f"{FILE_PREFIX}_{tag}.parquet"
    sinks.append(
        generation_records(rows, config).sink_parquet(
            generations_file, metadata=metadata, lazy=True
        )
    )
    pl.collect_all(sinks, engine="streaming")
    generation_count = pl.scan_parquet(generations_file).select(pl.len()).collect().item()

    for stale in own_files(out, tag):
        stale.unlink()
    final_files: list[str] = []
    for staged in sorted((staging / "events").glob("*.parquet")) + [generations_file]:
        target = out / staged.parent.name / staged.name
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.replace(target)
        final_files.append(str(target))
    shutil.rmtree(staging)
    _write_attribution(out, csv_path, config)

    events = {t: sum(p.num_rows for p in paths) for t, paths in written.items()}
    return ImportSummary(
        source_rows=source_count,
        events=events,
        generations=generation_count,
        files=tuple(final_files),
    )


def _write_attribution(out: Path, csv_path: str | Path, config: KuaiRandConfig) -> None:
    """CC BY-SA 4.0 asks that attribution travel with derivatives: a notice, and the licence."""
    notice = (
        "# KuaiRand-derived data\n\n"
        "The files named `kuairand_*` under events/ and generations/ are derived from the\n"
        'KuaiRand dataset (Gao et al., "KuaiRand: An Unbiased Sequential Recommendation\n'
        'Dataset with Randomly Exposed Videos", CIKM 2022, https://kuairand.com),\n'
        "licensed CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/).\n"
        "Changes: the log rows were mapped onto the reelloop event contract by\n"
        f"`reelloop import-kuairand` (source file: {Path(csv_path).name}).\n"
        "These derivatives are shared under the same licence.\n"
        f"Generation records carry training_consent = {str(config.training_consent).lower()}.\n"
    )
    (out / "KUAIRAND_NOTICE.md").write_text(notice, encoding="utf-8")
    licence = Path(csv_path).with_name("LICENSE")
    if licence.is_file():
        shutil.copyfile(licence, out / "KUAIRAND_LICENSE")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
