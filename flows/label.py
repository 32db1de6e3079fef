"""`reelloop label` and `reelloop evaluate-labels`: debiased, smoothed quality labels and preference pairs.

The label flow is incremental: it re-aggregates events only for the generations that new events
(or newly arrived generation records, or reclassified viewers) touch, refits the label model from
the clean per-generation state, keeps the stored model unless the refit moved beyond tolerance,
and rewrites only label rows and pairs that changed. A rerun with nothing new does nothing.

The examination curve is refit first, on the exposure slots of a sample of generations; every
impression is then weighted by it as events are summed per generation, so a curve that moves
beyond tolerance re-aggregates every generation.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from features.debias import abnormal_viewers
from features.engagement import generation_engagement
from features.label_config import LabelConfig
from features.label_evaluation import format_table, pair_agreement, rank_agreement
from features.label_pipeline import LabelOutputs, adopted_examination, compute_label_outputs
from features.labels import LabelModel
from flows.artifacts import publish_label_artifacts, publish_label_evaluation_artifacts
from flows.locking import warehouse_at
from flows.runner import tasks_run_on_dask, with_runner, worker_address, workers_report_here
from warehouse import engagement as events_sql
from warehouse import label_store
from warehouse.connection import transaction
from warehouse.engagement import EventAggregation, WarehouseAggregation
from warehouse.label_partitions import (
    EventPartition,
    combined_engagement,
    combined_viewer_activity,
    export_partitions,
    partition_engagement,
    partition_slots,
    partition_viewer_activity,
)
from warehouse.label_store import StateMark, StoredModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshResult:
    """What the state refresh did and whether labels must be recomputed."""

    mark: StateMark
    full_rebuild: bool
    reaggregated: int
    abnormal_viewers: int
    reclassified_viewers: int
    labels_current: bool
    examination_refit: bool = False
    """Whether the examination curve moved and was (re)adopted (every generation re-weighted)."""
    workers: tuple[str, ...] = ()
    """The Dask workers that ran the event-level passes (empty when they ran in the warehouse)."""


@dataclass(frozen=True)
class LabelInputs:
    """The clean engagement of every generation plus what is stored of the model."""

    engagement: pl.DataFrame
    model: LabelModel | None
    reliability: pl.DataFrame | None


@dataclass(frozen=True)
class ScaleOut:
    """How a label run on a Dask task runner spreads its event-level passes."""

    partitions: int = 8
    """Hash partitions of generation_id (several per worker balances uneven ones)."""
    directory: str | None = None
    """Where the coordinator writes the partitions (default `<db>.label-partitions` beside the
    warehouse); on a real cluster, storage every worker reaches."""

    def directory_for(self, db_path: str) -> Path:
        """The partition directory of the warehouse at `db_path`."""
        return Path(self.directory) if self.directory else Path(f"{db_path}.label-partitions")


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def viewer_activity_of_partition(
    partition: EventPartition, since: datetime | None, through: datetime | None
) -> tuple[pl.DataFrame, str]:
    """On a worker: per-viewer counts of one partition's new events (and who computed them)."""
    return partition_viewer_activity(partition, since, through), worker_address()


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
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


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def engagement_of_partition(
    partition: EventPartition,
    abnormal: pl.DataFrame,
    examination: pl.DataFrame,
    through: events_sql.IngestMark,
    max_position: int,
    ratio_cap: float,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """On a worker: clean sums and net likes of one partition's generations."""
    return partition_engagement(
        partition, abnormal, examination, through, max_position=max_position, ratio_cap=ratio_cap
    )


@dataclass
class WorkerAggregation:
    """The event-level passes submitted to the flow's task runner, one task per hash partition.

    The coordinator exports the partitions from the warehouse; on a full rebuild the later passes
    reuse those of the viewer pass (both hold every event ingested by the watermark), otherwise the
    events of the touched generations are exported once per touched set.
    """

    con: duckdb.DuckDBPyConnection
    directory: Path
    partitions: int
    workers: set[str] = field(default_factory=set)
    _all_events: list[EventPartition] | None = None
    _touched: tuple[pl.DataFrame, list[EventPartition]] | None = None

    def viewer_activity(
        self, since: datetime | None, through: events_sql.IngestMark
    ) -> pl.DataFrame:
        """Per-viewer counts of the events ingested in (since, through], summed over partitions."""
        parts = export_partitions(
            self.con, self.directory / "new", self.partitions, since=since, through=through
        )
        self._all_events = parts if since is None else None
        with workers_report_here():
            futures = [
                viewer_activity_of_partition.submit(part, since, through.events_through)
                for part in parts
            ]
        results = [future.result() for future in futures]
        self.workers.update(worker for _, worker in results)
        return combined_viewer_activity([counts for counts, _ in results])

    def _partitions_of(
        self, touched: pl.DataFrame, through: events_sql.IngestMark
    ) -> list[EventPartition]:
        """The partitions holding every event of the touched generations (exported once per touched set)."""
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
        with workers_report_here():
            futures = [
                slots_of_partition.submit(
                    part, abnormal_viewers, through, max_position, sample_buckets
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
        *,
        max_position: int,
        ratio_cap: float,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(clean sums, net likes) of the touched generations, partition by partition."""
        parts = self._partitions_of(touched, through)
        if not parts:
            return WarehouseAggregation(self.con).engagement(
                touched,
                abnormal_viewers,
                examination,
                through,
                max_position=max_position,
                ratio_cap=ratio_cap,
            )
        with workers_report_here():
            futures = [
                engagement_of_partition.submit(
                    part, abnormal_viewers, examination, through, max_position, ratio_cap
                )
                for part in parts
            ]
        return combined_engagement([future.result() for future in futures])


def refresh_state(
    con: duckdb.DuckDBPyConnection,
    config: LabelConfig,
    aggregation: Callable[[duckdb.DuckDBPyConnection], EventAggregation] = WarehouseAggregation,
) -> RefreshResult:
    """Bring the per-generation engagement state up to the ingested events, in one transaction.

    Full rebuild on the first run, on a new label_version, or when the row counts do not add up
    (events ingested behind the watermark); otherwise only the touched generations. The event-level
    passes run where `aggregation` (given the open warehouse) puts them.
    """
    version = config.label_version
    passes = aggregation(con)
    with transaction(con):
        now = datetime.now(UTC)
        current = events_sql.ingest_mark(con)
        previous = label_store.state_mark(con)
        last_run = label_store.last_run_mark(con)
        mark = StateMark(version, current)
        full = previous is None or previous.label_version != version
        if not full and previous.ingest == current:
            return RefreshResult(mark, False, 0, 0, 0, labels_current=last_run == mark)
        if not full and not _counts_add_up(con, previous.ingest, current):
            log.warning(
                "label state: row counts do not match the watermark; rebuilding from all events"
            )
            full = True
        since = None if full else previous.ingest
        if full:
            label_store.clear_viewer_activity(con)
        new_counts = passes.viewer_activity(since.events_through if since else None, current)
        label_store.store_viewer_activity(con, events_sql.merged_viewer_activity(con, new_counts))
        flagged = abnormal_viewers(
            events_sql.viewer_activity(con),
            min_events=config.bot_min_events,
            volume_robust_z=config.bot_volume_robust_z,
            mad_floor=config.bot_mad_floor,
            like_share=config.bot_like_share,
            like_z=config.bot_like_z,
            like_min_impressions=config.bot_like_min_impressions,
        )
        before = label_store.abnormal_viewers(con)
        reclassified = (
            pl.concat([flagged.select("viewer_id"), before.select("viewer_id")])
            .group_by("viewer_id")
            .len()
            .filter(pl.col("len") == 1)
            .select("viewer_id")
        )
        if full or not reclassified.is_empty() or before.height != flagged.height:
            label_store.replace_abnormal_viewers(con, flagged, version, now)
        touched = events_sql.touched_generations(con, since, current, reclassified)
        slots = passes.slots(
            touched,
            flagged,
            current,
            max_position=config.max_position,
            sample_buckets=config.examination_sample_buckets,
        )
        label_store.replace_touched_rows(con, "label_engagement_slots", touched, slots)
        examination, examination_refit = adopted_examination(
            label_store.sampled_slots(con, current.generations_through),
            label_store.stored_examination(con, version),
            config,
        )
        if examination_refit:
            label_store.store_examination(con, examination, version, now)
            if not full:  # every generation's impressions are weighed anew
                touched = events_sql.touched_generations(con, None, current, reclassified)
        sums, net_likes = passes.engagement(
            touched,
            flagged,
            examination,
            current,
            max_position=config.max_position,
            ratio_cap=config.watch_ratio_cap,
        )
        label_store.replace_touched_rows(
            con,
            "label_engagement",
            touched,
            generation_engagement(touched["generation_id"], sums, net_likes),
        )
        label_store.set_state_mark(con, mark, now)
    return RefreshResult(
        mark,
        full,
        touched.height,
        flagged.height,
        0 if full else reclassified.height,
        labels_current=False,
        examination_refit=examination_refit,
    )


def _counts_add_up(
    con: duckdb.DuckDBPyConnection, previous: events_sql.IngestMark, current: events_sql.IngestMark
) -> bool:
    """True when every row beyond the old counts was ingested after the old watermarks."""
    new_events = events_sql.events_ingested_between(
        con, previous.events_through, current.events_through
    )
    new_generations = events_sql.generations_ingested_between(
        con, previous.generations_through, current.generations_through
    )
    return (
        previous.events_count + new_events == current.events_count
        and previous.generations_count + new_generations == current.generations_count
    )


def read_inputs(con: duckdb.DuckDBPyConnection, mark: StateMark) -> LabelInputs:
    """The clean state of every generation known at `mark`, and the stored model and reliability of its version."""
    label_version = mark.label_version
    stored = label_store.stored_model(con, label_version)
    return LabelInputs(
        engagement=label_store.engagement_state(con, mark.ingest.generations_through),
        model=None
        if stored is None
        else LabelModel(completion_quantiles=stored.completion_quantiles, priors=stored.priors),
        reliability=label_store.stored_source_reliability(con, label_version),
    )


def write_outputs(
    con: duckdb.DuckDBPyConnection, outputs: LabelOutputs, mark: StateMark, started_at: datetime
) -> dict[str, int | bool]:
    """Write changed labels and pairs, the (re)adopted model, and the run record, in one transaction."""
    with transaction(con):
        now = datetime.now(UTC)
        if outputs.model_refit and outputs.model is not None:
            model = outputs.model
            label_store.store_model(
                con,
                StoredModel(model.completion_quantiles, model.priors),
                mark.label_version,
                now,
            )
        if outputs.reliability_refit:
            label_store.store_source_reliability(con, outputs.reliability, mark.label_version, now)
        labels_written = label_store.write_labels(con, outputs.labels, now)
        pairs_added, pairs_removed = label_store.write_pairs(con, outputs.pairs, now)
        label_store.record_run(
            con,
            mark,
            model_refit=outputs.model_refit,
            labels_written=labels_written,
            pairs_written=pairs_added,
            pairs_deleted=pairs_removed,
            started_at=started_at,
            finished_at=now,
        )
    return {
        "labels_written": labels_written,
        "pairs_added": pairs_added,
        "pairs_removed": pairs_removed,
        "model_refit": outputs.model_refit,
    }


def label_warehouse(
    con: duckdb.DuckDBPyConnection, config: LabelConfig | None = None
) -> dict[str, object]:
    """The whole label run on one open connection, without Prefect (tests, benchmarks, notebooks)."""
    config = config or LabelConfig()
    started_at = datetime.now(UTC)
    refreshed = refresh_state(con, config)
    if refreshed.labels_current:
        return _summary(refreshed, None, None)
    outputs = compute_label_outputs_of(read_inputs(con, refreshed.mark), config)
    return _summary(refreshed, outputs, write_outputs(con, outputs, refreshed.mark, started_at))


def compute_label_outputs_of(inputs: LabelInputs, config: LabelConfig) -> LabelOutputs:
    """Refit, keep or adopt the model, score every generation and build the pairs (pure)."""
    return compute_label_outputs(inputs.engagement, inputs.model, inputs.reliability, config)


def _summary(
    refreshed: RefreshResult, outputs: LabelOutputs | None, written: dict[str, int | bool] | None
) -> dict[str, object]:
    summary: dict[str, object] = {
        "label_version": refreshed.mark.label_version,
        "up_to_date": refreshed.labels_current,
        "full_rebuild": refreshed.full_rebuild,
        "generations_reaggregated": refreshed.reaggregated,
        "abnormal_viewers": refreshed.abnormal_viewers,
        "labels_written": 0,
        "pairs_added": 0,
        "pairs_removed": 0,
        "model_refit": False,
        "examination_refit": refreshed.examination_refit,
    }
    if refreshed.workers:
        summary["event_pass_workers"] = list(refreshed.workers)
    if written is not None:
        summary.update(written)
    if outputs is not None:
        summary["labels"] = outputs.labels.height
        summary["pairs"] = outputs.pairs.height
        summary["label_counts"] = dict(
            outputs.labels.group_by("label").len().sort("label").iter_rows()
        )
    return summary


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def refresh_engagement_state(
    db_path: str, config: LabelConfig, scale_out: ScaleOut | None = None
) -> RefreshResult:
    """Re-aggregate the generations touched by newly ingested events (all of them on a full rebuild).

    With `scale_out` the event-level passes run as tasks on the flow's task runner (the Dask
    workers), partition by partition; this task, the coordinator, alone writes the warehouse.
    """
    logger = get_run_logger()
    with warehouse_at(db_path).writer(publish=False) as con:
        if scale_out is None:
            refreshed = refresh_state(con, config)
        else:
            directory = scale_out.directory_for(db_path)
            passes = WorkerAggregation(con, directory, scale_out.partitions)
            try:
                refreshed = refresh_state(con, config, lambda _: passes)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            refreshed = replace(refreshed, workers=tuple(sorted(passes.workers)))
            logger.info(
                "label: event passes ran in %d partitions on %d workers (%s)",
                scale_out.partitions,
                len(passes.workers),
                ", ".join(sorted(passes.workers)),
            )
    logger.info(
        "label state: %s, %d generations re-aggregated, %d abnormal viewers (%d reclassified)",
        "full rebuild" if refreshed.full_rebuild else "incremental",
        refreshed.reaggregated,
        refreshed.abnormal_viewers,
        refreshed.reclassified_viewers,
    )
    return refreshed


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_label_inputs(db_path: str, mark: StateMark) -> LabelInputs:
    """The clean state of every generation and the stored model and reliability of this label version."""
    with warehouse_at(db_path).writer(publish=False) as con:
        return read_inputs(con, mark)


@task(cache_policy=NO_CACHE)
def compute_labels(inputs: LabelInputs, config: LabelConfig) -> LabelOutputs:
    """Refit, keep or adopt the model, score every generation and build the pairs (pure)."""
    return compute_label_outputs_of(inputs, config)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def write_label_outputs(
    db_path: str, outputs: LabelOutputs, mark: StateMark, started_at: datetime
) -> dict[str, int | bool]:
    """Write changed labels and pairs, the (re)adopted model, and the run record (publishes the snapshot)."""
    with warehouse_at(db_path).writer() as con:
        return write_outputs(con, outputs, mark, started_at)


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def publish_if_stale(db_path: str) -> None:
    """Publish the snapshot if something committed since it was taken (a run killed before publishing)."""
    warehouse_at(db_path).publish_if_stale()


@flow(name="label")
def label_flow(
    db_path: str = "reelloop.duckdb",
    config: LabelConfig | None = None,
    scale_out: ScaleOut | None = None,
) -> dict:
    """Label every known generation and build preference pairs; returns a small summary.

    On a Dask task runner the event-level passes run partition by partition on the workers
    (`scale_out`, default `ScaleOut()`); on the local runner, as SQL in the warehouse.
    """
    logger = get_run_logger()
    config = config or LabelConfig()
    started_at = datetime.now(UTC)
    if scale_out is None and tasks_run_on_dask():
        scale_out = ScaleOut()
    refreshed = refresh_engagement_state(db_path, config, scale_out)
    if refreshed.labels_current:
        logger.info("labels are current (label_version %s): nothing to do", config.label_version)
        publish_if_stale(db_path)  # rows a killed run committed but did not publish
        return _summary(refreshed, None, None)
    inputs = read_label_inputs(db_path, refreshed.mark)
    outputs = compute_labels(inputs, config)
    written = write_label_outputs(db_path, outputs, refreshed.mark, started_at)
    summary = _summary(refreshed, outputs, written)
    logger.info("label %s: %s", config.label_version, summary)
    publish_label_artifacts(summary)
    return summary


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_evaluation_inputs(db_path: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Current labels, current pairs and the naive rates from raw events."""
    with warehouse_at(db_path).writer(publish=False) as con:
        return (
            events_sql.query(con, "label/current_labels"),
            events_sql.query(con, "label/current_pairs"),
            events_sql.naive_rates(con),
        )


@task(retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def read_truth(truth_path: str) -> pl.DataFrame:
    """generation_id, true_quality from the simulator's truth file."""
    truth = pl.read_parquet(truth_path)
    missing = {"generation_id", "true_quality"} - set(truth.columns)
    if missing:
        raise ValueError(f"truth file {truth_path} lacks columns: {', '.join(sorted(missing))}")
    return truth.select("generation_id", "true_quality")


@flow(name="evaluate-labels")
def evaluate_labels_flow(db_path: str, truth_path: str, min_impressions: int = 30) -> dict:
    """Spearman of scores with the truth and pair agreement by confidence band and source."""
    labels, pairs, naive = read_evaluation_inputs(db_path)
    truth = read_truth(truth_path)
    evaluation = {
        "ranks": rank_agreement(labels, naive, truth, min_impressions=min_impressions),
        "pairs": pair_agreement(pairs, truth),
    }
    publish_label_evaluation_artifacts(evaluation)
    return evaluation


def run_label(args: argparse.Namespace) -> int:
    """Handler of `reelloop label`."""
    if not Path(args.db).is_file():
        raise FileNotFoundError(f"warehouse {args.db} not found (run `reelloop ingest` first)")
    summary = with_runner(label_flow, args)(db_path=args.db)
    if summary["up_to_date"]:
        print(
            f"label_version {summary['label_version']}: labels are current, nothing new since the "
            "last run (0 labels written)"
        )
        return 0
    print(
        f"label_version {summary['label_version']}: "
        f"{summary['generations_reaggregated']} generations re-aggregated"
        f"{' (full rebuild)' if summary['full_rebuild'] else ''}, "
        f"{summary['labels_written']} labels written, "
        f"pairs +{summary['pairs_added']} -{summary['pairs_removed']}, "
        f"model {'refit' if summary['model_refit'] else 'kept'}, "
        f"{summary['abnormal_viewers']} abnormal viewers excluded"
    )
    if "label_counts" in summary:
        counts = ", ".join(f"{k} {v}" for k, v in summary["label_counts"].items())
        print(f"labels: {summary['labels']} ({counts}); pairs: {summary['pairs']}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of `reelloop evaluate-labels`."""
    if not Path(args.db).is_file():
        raise FileNotFoundError(f"warehouse {args.db} not found")
    if not Path(args.truth).is_file():
        raise FileNotFoundError(f"truth file {args.truth} not found")
    result = with_runner(evaluate_labels_flow, args)(
        db_path=args.db, truth_path=str(args.truth), min_impressions=args.min_impressions
    )
    print("Spearman rank correlation with true_quality")
    print(format_table(result["ranks"]))
    print()
    print("pairs whose chosen side is truly better, by source and confidence band")
    print(format_table(result["pairs"]))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `label` and `evaluate-labels` verbs."""
    label = subparsers.add_parser(
        "label",
        help="debiased quality labels and preference pairs from the ingested events",
        description=(
            "Turn ingested events into one quality label per generation (table labels) and "
            "preference pairs between siblings (table preference_pairs): bots and self-engagement "
            "excluded, feed-position and duration biases corrected, rates smoothed by empirical-Bayes "
            "Beta priors. Incremental: only generations touched by new events are re-aggregated and "
            "only changed rows are rewritten; a rerun with nothing new changes nothing."
        ),
    )
    label.set_defaults(handler=run_label)
    evaluate = subparsers.add_parser(
        "evaluate-labels",
        help="compare labels and pairs with a simulation's ground truth",
        description=(
            "Print the Spearman correlation of quality_score with the simulator's true_quality "
            "(all generations and well-shown ones) next to naive like and view rates, and the share "
            "of pairs whose chosen side is truly better, by confidence band and source."
        ),
    )
    evaluate.add_argument(
        "--truth",
        required=True,
        type=Path,
        metavar="PATH",
        help="truth/generations.parquet of a simulation",
    )
    evaluate.add_argument(
        "--min-impressions",
        type=int,
        default=30,
        help="feed impressions a generation needs for the well-shown scope (default 30)",
    )
    evaluate.set_defaults(handler=run_evaluate)
