"""Label's event-level passes on a distributed runner: one step per hash partition of generation_id.

This process exports the partitions from the warehouse; the workers run the same SQL on their
partitions (`warehouse.label_partitions`); this process combines the results and alone writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.steps import IO_RETRY, StepRunner, step, worker_address
from warehouse import engagement as events_sql
from warehouse.engagement import WarehouseAggregation
from warehouse.label_partitions import (
    EventPartition,
    combined_engagement,
    combined_viewer_activity,
    export_partitions,
    partition_engagement,
    partition_slots,
    partition_viewer_activity,
)


@dataclass(frozen=True)
class ScaleOut:
    """How a label run on a distributed runner spreads its event-level passes."""

    partitions: int = 8
    """Hash partitions of generation_id (several per worker balances uneven ones)."""
    directory: str | None = None
    """Where this process writes the partitions (default `<db>.label-partitions` beside the
    warehouse); on a real cluster, storage every worker reaches."""

    def directory_for(self, db_path: str) -> Path:
        """The partition directory of the warehouse at `db_path`."""
        return Path(self.directory) if self.directory else Path(f"{db_path}.label-partitions")


@step(IO_RETRY)
def viewer_activity_of_partition(
    partition: EventPartition, since: datetime | None, through: datetime | None, position_bands: int
) -> tuple[pl.DataFrame, str]:
    """On a worker: counts per viewer and position band of one partition's new events (and who
    computed them)."""
    return partition_viewer_activity(partition, since, through, position_bands), worker_address()


@step(IO_RETRY)
def slots_of_partition(
    partition: EventPartition,
    abnormal: pl.DataFrame,
    through: events_sql.IngestMark,
    max_position: int,
    sample_buckets: int,
) -> pl.DataFrame:
    """On a worker: exposure slots of one partition's generations in the examination sample."""
    return partition_slots(
        partition, abnormal, through, max_position=max_position, sample_buckets=sample_buckets
    )


@step(IO_RETRY)
def engagement_of_partition(
    partition: EventPartition,
    abnormal: pl.DataFrame,
    examination: pl.DataFrame,
    through: events_sql.IngestMark,
    rules: events_sql.EngagementRules,
    temporal_sample: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """On a worker: clean sums and net likes per cell of one partition's generations (those in
    `temporal_sample` also per period)."""
    return partition_engagement(partition, abnormal, examination, through, rules, temporal_sample)


@dataclass
class WorkerAggregation:
    """The event-level passes submitted to the runner, one step per hash partition.

    This process exports the partitions from the warehouse; on a full rebuild the later passes
    reuse those of the viewer pass (both hold every event ingested by the watermark), otherwise the
    events of the touched generations are exported once per touched set.
    """

    con: duckdb.DuckDBPyConnection
    directory: Path
    partitions: int
    runner: StepRunner
    workers: set[str] = field(default_factory=set)
    _all_events: list[EventPartition] | None = None
    _touched: tuple[pl.DataFrame, list[EventPartition]] | None = None

    def viewer_activity(
        self, since: datetime | None, through: events_sql.IngestMark, position_bands: int
    ) -> pl.DataFrame:
        """Counts per viewer and position band of the events ingested in (since, through], summed
        over partitions."""
        parts = export_partitions(
            self.con, self.directory / "new", self.partitions, since=since, through=through
        )
        self._all_events = parts if since is None else None
        futures = [
            self.runner.submit(
                viewer_activity_of_partition, part, since, through.events_through, position_bands
            )
            for part in parts
        ]
        results = [future.result() for future in futures]
        self.workers.update(worker for _, worker in results)
        return combined_viewer_activity([counts for counts, _ in results])

    def _partitions_of(
        self, touched: pl.DataFrame, through: events_sql.IngestMark
    ) -> list[EventPartition]:
        """The partitions holding every event of the touched generations (exported once per
        touched set)."""
        if self._all_events is not None:
            return self._all_events
        if self._touched is not None and self._touched[0].equals(touched):
            return self._touched[1]
        parts = export_partitions(
            self.con,
            self.directory / "touched",
            self.partitions,
            since=None,
            through=through,
            touched=touched,
        )
        self._touched = (touched, parts)
        return parts

    def slots(
        self,
        touched: pl.DataFrame,
        abnormal_viewers: pl.DataFrame,
        through: events_sql.IngestMark,
        *,
        max_position: int,
        sample_buckets: int,
    ) -> pl.DataFrame:
        """Sampled exposure slots of the touched generations, partition by partition."""
        parts = self._partitions_of(touched, through)
        if not parts:  # no events at all: nothing to spread
            return WarehouseAggregation(self.con).slots(
                touched,
                abnormal_viewers,
                through,
                max_position=max_position,
                sample_buckets=sample_buckets,
            )
        futures = [
            self.runner.submit(
                slots_of_partition, part, abnormal_viewers, through, max_position, sample_buckets
            )
            for part in parts
        ]
        return pl.concat([future.result() for future in futures], how="vertical_relaxed")

    def engagement(
        self,
        touched: pl.DataFrame,
        abnormal_viewers: pl.DataFrame,
        examination: pl.DataFrame,
        through: events_sql.IngestMark,
        rules: events_sql.EngagementRules,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(clean sums, net likes) per cell of the touched generations (generation_id,
        temporal_sample), partition by partition."""
        parts = self._partitions_of(touched, through)
        if not parts:
            return WarehouseAggregation(self.con).engagement(
                touched, abnormal_viewers, examination, through, rules
            )
        sampled = touched.filter(pl.col("temporal_sample")).select("generation_id")
        futures = [
            self.runner.submit(
                engagement_of_partition,
                part,
                abnormal_viewers,
                examination,
                through,
                rules,
                sampled,
            )
            for part in parts
        ]
        return combined_engagement([future.result() for future in futures])
