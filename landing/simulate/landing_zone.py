"""A whole simulated landing zone under one output directory: the landing files, the hidden truth
files, and the summary of what was written."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from landing.simulate.config import SimulationConfig
from landing.simulate.expected import expected_rates
from landing.simulate.files import (
    EVENT_FILE_NAME,
    GENERATION_FILE_NAME,
    LandingFile,
    write_event_files,
    write_generation_files,
)
from landing.simulate.world import SimulatedWorld, build_world
from landing.writers import write_parquet

_TRUTH_FILES = (
    "generations.parquet",
    "viewers.parquet",
    "malformed.parquet",
    "landing_files.parquet",
)
_MALFORMED_SCHEMA = {
    "file": pl.String,
    "row_number": pl.Int64,
    "record_kind": pl.String,
    "malformed_kind": pl.String,
    "field": pl.String,
}
_LANDING_FILES_SCHEMA = {
    "path": pl.String,
    "kind": pl.String,
    "file_format": pl.String,
    "rows": pl.Int64,
    "malformed_rows": pl.Int64,
    "duplicate_rows": pl.Int64,
    "bytes": pl.Int64,
}


@dataclass(frozen=True)
class SimulationSummary:
    """What a simulation wrote: world sizes, row counts by kind and noise type, and every file."""

    out_dir: str
    requests: int
    generations: int
    creators: int
    viewers: int
    bots: int
    generation_rows: int
    event_rows: int
    events_by_type: tuple[tuple[str, int], ...]
    duplicate_event_rows: int
    late_event_rows: int
    malformed_event_rows: int
    malformed_generation_rows: int
    late_generation_rows: int
    duplicate_generation_rows: int
    files: tuple[LandingFile, ...] = field(repr=False)

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly summary (files counted per kind and format rather than listed)."""
        summary = {k: v for k, v in asdict(self).items() if k != "files"}
        summary["events_by_type"] = dict(self.events_by_type)
        per_kind: dict[str, dict[str, int]] = {}
        for f in self.files:
            per_kind.setdefault(f.kind, {}).setdefault(f.file_format, 0)
            per_kind[f.kind][f.file_format] += 1
        summary["files"] = per_kind
        return summary


def previous_simulation_files(out_dir: Path) -> list[Path]:
    """The files a previous simulation wrote under `out_dir` (only names this simulator writes)."""
    found = [out_dir / "truth" / name for name in _TRUTH_FILES]
    found = [path for path in found if path.is_file()]
    for folder, pattern in (
        (out_dir / "landing" / "events", EVENT_FILE_NAME),
        (out_dir / "landing" / "generations", GENERATION_FILE_NAME),
    ):
        if folder.is_dir():
            found += [p for p in sorted(folder.iterdir()) if pattern.fullmatch(p.name)]
    return found


def _remove_previous_output(out_dir: Path) -> None:
    """Delete files a previous simulation wrote here."""
    for path in previous_simulation_files(out_dir):
        path.unlink(missing_ok=True)


def truth_generations(world: SimulatedWorld) -> pl.DataFrame:
    """The hidden truth per generation (what labels and models are judged against): true quality,
    the record's context, and each signal's long-run rate (`rate_<signal>`, see
    `landing.simulate.expected`)."""
    promoted = np.zeros(world.n_generations, dtype=bool)
    promoted[world.bot_targets] = world.config.bot_target_share > 0
    facts = world.generations.select(
        "generation_id",
        "request_id",
        "creator_id",
        "true_quality",
        "true_logit",
        "latent_z",
        "category",
        "model_version",
        "prompt",
        "modifiers",
        "candidate_index",
        "duration_ms",
        pl.from_epoch("created_ms", time_unit="ms").dt.replace_time_zone("UTC").alias("created_at"),
        pl.Series("planned_feed_impressions", world.feed_plan.sum(axis=1).astype(np.int64)),
        pl.col("selected").alias("studio_selected"),
        pl.col("regenerated").alias("studio_regenerated"),
        "self_engaged",
        "feed_boost",
        pl.col("consent").alias("training_consent"),
        "content_flags",
        pl.col("in_studio").alias("studio_session"),
        pl.Series("bot_promoted", promoted),
    )
    return pl.concat([facts, expected_rates(world.config, world.generations)], how="horizontal")


def simulate_landing_zone(out_dir: str | Path, config: SimulationConfig) -> SimulationSummary:
    """Write a landing zone and its ground truth under `out_dir` (replacing a previous simulation's files)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output path is a file, not a directory: {out}")
    _remove_previous_output(out)
    world = build_world(config)
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    write_parquet(truth_generations(world), truth / "generations.parquet")
    write_parquet(
        world.viewers.select("viewer_id", "is_bot", "is_creator"), truth / "viewers.parquet"
    )
    gen_files, gen_malformed, gen_counts = write_generation_files(
        world, out / "landing" / "generations", out
    )
    ev_files, ev_malformed, ev_counts, by_type = write_event_files(
        world, out / "landing" / "events", out
    )
    write_parquet(
        pl.concat(
            [pl.DataFrame(schema=_MALFORMED_SCHEMA), *gen_malformed, *ev_malformed],
            how="vertical_relaxed",
        ),
        truth / "malformed.parquet",
    )
    files = tuple(gen_files + ev_files)
    write_parquet(
        pl.DataFrame([asdict(f) for f in files], schema=_LANDING_FILES_SCHEMA),
        truth / "landing_files.parquet",
    )
    return _summary(out, world, files, gen_counts, ev_counts, by_type)


def _summary(
    out: Path,
    world: SimulatedWorld,
    files: tuple[LandingFile, ...],
    gen_counts: dict[str, int],
    ev_counts: dict[str, int],
    by_type: dict[str, int],
) -> SimulationSummary:
    """What the simulation wrote, from the world and the writers' counts."""
    return SimulationSummary(
        out_dir=str(out),
        requests=world.config.requests,
        generations=world.n_generations,
        creators=int(world.viewers.get_column("is_creator").sum()),
        viewers=world.viewers.height,
        bots=int(world.viewers.get_column("is_bot").sum()),
        generation_rows=gen_counts["rows"],
        event_rows=ev_counts["rows"],
        events_by_type=tuple(by_type.items()),
        duplicate_event_rows=ev_counts["duplicate"],
        late_event_rows=ev_counts["late"],
        malformed_event_rows=ev_counts["malformed"],
        malformed_generation_rows=gen_counts["malformed"],
        late_generation_rows=gen_counts["late"],
        duplicate_generation_rows=gen_counts["duplicate"],
        files=files,
    )
