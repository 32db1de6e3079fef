"""Label: debiased, smoothed quality labels and preference pairs from the ingested events.

refresh the per-generation engagement state -> read the clean state and the stored model ->
compute labels and pairs (pure, features/) -> write what changed, in one transaction.

Incremental: the refresh re-aggregates events only for the generations that new events (or newly
arrived generation records, or reclassified viewers) touch; the label model is refit from the
clean per-generation state and the stored model kept unless the refit moved beyond tolerance; only
label rows and pairs that changed are rewritten. A rerun with nothing new does nothing.

The examination curve is refit first, on the exposure slots of a sample of generations; every
impression is then weighted by it as events are summed per generation, so a curve that moves
beyond tolerance re-aggregates every generation. On a distributed runner the event-level passes
run per hash partition of generation_id on the workers (`pipelines.label_partitions`); this
process alone writes the warehouse.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from features.label_config import LabelConfig
from pipelines.label_partitions import ScaleOut, WorkerAggregation
from pipelines.publish import publish_if_stale
from pipelines.steps import DIRECT, IO_RETRY, StepRunner, step
from results.label import LabelSummary
from warehouse import engagement as events_sql
from warehouse import label_store
from warehouse.connection import transaction
from warehouse.engagement import EngagementRules, EventAggregation, WarehouseAggregation
from warehouse.label_store import StateMark, StoredModel
from warehouse.resource import Warehouse

if TYPE_CHECKING:  # the label math (scipy, scikit-learn) is imported when there is work to do
    from features.label_pipeline import LabelOutputs
    from features.labels import LabelFit

LABEL_PASSES = 4  # refresh the engagement state, read, compute, write

log = logging.getLogger(__name__)

HOUR_MS: int = 3_600_000


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
    """The clean engagement of every generation (whole and per cell) plus what is stored of the model."""

    engagement: pl.DataFrame
    cells: pl.DataFrame
    fit: LabelFit | None
    reliability: pl.DataFrame | None


@dataclass(frozen=True)
class Written:
    """What one label run wrote."""

    labels_written: int
    pairs_added: int
    pairs_removed: int
    model_refit: bool


def engagement_rules(config: LabelConfig) -> EngagementRules:
    """How the config has events summed per generation cell."""
    return EngagementRules(
        max_position=config.max_position,
        ratio_cap=config.watch_ratio_cap,
        long_view_ms=config.long_view_ms,
        min_known_duration_ms=config.min_known_duration_ms,
        period_split_ms=int(round(config.temporal_split_hours * HOUR_MS)),
    )


def flagged_viewers(
    con: duckdb.DuckDBPyConnection, config: LabelConfig, activity: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The abnormal viewers (bots) among everyone's activity (`activity`, else the stored counts), by
    the config's rules."""
    from features.abnormal_viewers import abnormal_viewers

    everyone = events_sql.viewer_activity(con) if activity is None else activity
    return abnormal_viewers(everyone, config)


def reclassified_viewers(flagged: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """Viewers flagged now but not before, or before but not now."""
    return (
        pl.concat([flagged.select("viewer_id"), before.select("viewer_id")])
        .group_by("viewer_id")
        .len()
        .filter(pl.col("len") == 1)
        .select("viewer_id")
    )


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
        mark = StateMark(version, current)
        full = previous is None or previous.label_version != version
        if not full and previous.ingest == current:
            current_run = label_store.last_run_mark(con) == mark
            return RefreshResult(mark, False, 0, 0, 0, labels_current=current_run)
        if not full and not _counts_add_up(con, previous.ingest, current):
            log.warning(
                "label state: row counts do not match the watermark; rebuilding from all events"
            )
            full = True
        since = None if full else previous.ingest
        if full:
            label_store.clear_viewer_activity(con)
        new_counts = passes.viewer_activity(
            since.events_through if since else None, current, config.bot_position_bands
        )
        flagged = _stored_and_flagged(con, config, new_counts, full=full)
        before = label_store.abnormal_viewers(con)
        reclassified = reclassified_viewers(flagged, before)
        if full or not reclassified.is_empty() or before.height != flagged.height:
            label_store.replace_abnormal_viewers(con, flagged, version, now)
        touched = events_sql.touched_generations(con, since, current, reclassified)
        touched, examination_refit = _reaggregate(
            con, passes, config, touched, flagged, current, since, full=full, now=now
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


def _stored_and_flagged(
    con: duckdb.DuckDBPyConnection, config: LabelConfig, new_counts: pl.DataFrame, *, full: bool
) -> pl.DataFrame:
    """Store the viewer activity with `new_counts` merged in and flag the abnormal viewers by it.

    On a full rebuild nothing is stored and the new counts are everyone's activity: they are stored
    (DuckDB, off the GIL) while the rules run on them in this thread."""
    if not full:
        label_store.store_viewer_activity(con, events_sql.merged_viewer_activity(con, new_counts))
        return flagged_viewers(con, config)
    with ThreadPoolExecutor(1) as pool:
        stored = pool.submit(label_store.store_viewer_activity, con, new_counts, replacing=False)
        flagged = flagged_viewers(con, config, new_counts)
        stored.result()
    return flagged


def _reaggregate(
    con: duckdb.DuckDBPyConnection,
    passes: EventAggregation,
    config: LabelConfig,
    touched: pl.DataFrame,
    flagged: pl.DataFrame,
    current: events_sql.IngestMark,
    previous: events_sql.IngestMark | None,
    *,
    full: bool,
    now: datetime,
) -> tuple[pl.DataFrame, bool]:
    """Sample slots -> (re)adopt the examination curve -> sum the touched generations' events (and
    those that left the temporal sample since the `previous` mark).

    Returns the generations re-aggregated (all of them when the curve moved) and whether it did.
    """
    from features.engagement import engagement_cells, generation_engagement
    from features.label_pipeline import adopted_examination

    version = config.label_version
    touched = with_temporal_sample(con, touched, current, config, previous)
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
            touched = with_temporal_sample(
                con, events_sql.known_generations(con, current), current, config
            )
    sums, net_likes = passes.engagement(
        touched, flagged, examination, current, engagement_rules(config)
    )
    cells = engagement_cells(sums, net_likes)
    label_store.replace_touched_rows(con, "label_engagement_cells", touched, cells)
    label_store.replace_touched_rows(
        con, "label_engagement", touched, generation_engagement(touched["generation_id"], cells)
    )
    return touched, examination_refit


def with_temporal_sample(
    con: duckdb.DuckDBPyConnection,
    touched: pl.DataFrame,
    current: events_sql.IngestMark,
    config: LabelConfig,
    previous: events_sql.IngestMark | None = None,
) -> pl.DataFrame:
    """`touched` with `temporal_sample`: whether the generation is in the diagnostics' fixed subset of
    the generations known by `current` (the smallest stable keys, features.stable_keys), the only ones whose
    events are also summed per period. With the `previous` mark of an incremental run, the
    generations that were in the subset then and are not now are touched too (summed again without
    the split), so the state is the one a rebuild would store.

    Nothing else can change membership: the subset is the `diagnostics_max_generations` smallest keys,
    so arriving generations only push members out; an erasure resets the label state and a new
    config is a new label_version (both rebuild).
    """
    from features.stable_keys import smallest_keys, stable_keys

    known = events_sql.known_generations(con, current)["generation_id"].cast(pl.String)
    keys = stable_keys(known.to_list())
    limit = config.diagnostics_max_generations
    sampled = known.filter(pl.Series(smallest_keys(keys, limit)))
    ids = touched["generation_id"].cast(pl.String)
    if previous is not None:
        # those known then are known now: their keys are a subset of the ones just computed
        then = events_sql.known_generations(con, previous)["generation_id"].cast(pl.String)
        earlier = known.is_in(then.implode()).to_numpy()
        before = known.filter(pl.Series(earlier)).filter(
            pl.Series(smallest_keys(keys[earlier], limit))
        )
        left = before.filter(~before.is_in(sampled.implode()) & ~before.is_in(ids.implode()))
        ids = pl.concat([ids, left])
    return pl.DataFrame({"generation_id": ids.unique(maintain_order=True)}).with_columns(
        temporal_sample=pl.col("generation_id").is_in(sampled.implode())
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


@step(IO_RETRY)
def refresh_engagement_state(
    warehouse: Warehouse,
    config: LabelConfig,
    scale_out: ScaleOut | None = None,
    runner: StepRunner = DIRECT,
) -> RefreshResult:
    """Re-aggregate the generations touched by newly ingested events (all of them on a full rebuild).

    With `scale_out` the event-level passes run as steps submitted to `runner` (the Dask workers),
    partition by partition; this step alone writes the warehouse.
    """
    with warehouse.writer(publish=False) as con:
        if scale_out is None:
            refreshed = refresh_state(con, config)
        else:
            directory = scale_out.directory_for(warehouse.path)
            passes = WorkerAggregation(con, directory, scale_out.partitions, runner)
            try:
                refreshed = refresh_state(con, config, lambda _: passes)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            refreshed = replace(refreshed, workers=tuple(sorted(passes.workers)))
            runner.log.info(
                "label: event passes ran in %d partitions on %d workers (%s)",
                scale_out.partitions,
                len(passes.workers),
                ", ".join(sorted(passes.workers)),
            )
    runner.log.info(
        "label state: %s, %d generations re-aggregated, %d abnormal viewers (%d reclassified)",
        "full rebuild" if refreshed.full_rebuild else "incremental",
        refreshed.reaggregated,
        refreshed.abnormal_viewers,
        refreshed.reclassified_viewers,
    )
    return refreshed


@step(IO_RETRY)
def read_label_inputs(warehouse: Warehouse, mark: StateMark) -> LabelInputs:
    """The clean state of every generation known at `mark`, and the stored model and reliability
    of its label version."""
    from features.label_parameters import label_model_from
    from features.labels import LabelFit

    with warehouse.writer(publish=False) as con:
        stored = label_store.stored_model(con, mark.label_version)
        through = mark.ingest.generations_through
        return LabelInputs(
            engagement=label_store.engagement_state(con, through),
            cells=label_store.engagement_cells(con, through),
            fit=None
            if stored is None
            else LabelFit(label_model_from(stored.parameters), stored.completion_quantiles),
            reliability=label_store.stored_source_reliability(con, mark.label_version),
        )


@step()
def compute_labels(inputs: LabelInputs, config: LabelConfig) -> LabelOutputs:
    """Refit, keep or adopt the model, score every generation, build the pairs, check (pure)."""
    from features.label_pipeline import compute_label_outputs

    return compute_label_outputs(
        inputs.engagement, inputs.cells, inputs.fit, inputs.reliability, config
    )


@step(IO_RETRY)
def write_label_outputs(
    warehouse: Warehouse, outputs: LabelOutputs, mark: StateMark, started_at: datetime
) -> Written:
    """Write changed labels and pairs, the (re)adopted model, and the run record, in one
    transaction (publishes the snapshot)."""
    from features.label_parameters import model_parameters

    with warehouse.writer() as con, transaction(con):
        now = datetime.now(UTC)
        if outputs.model_refit and outputs.fit is not None:
            fit = outputs.fit
            label_store.store_model(
                con,
                StoredModel(fit.completion_quantiles, model_parameters(fit.model)),
                mark.label_version,
                now,
            )
        label_store.store_diagnostics(con, outputs.diagnostics, mark.label_version, now)
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
    return Written(labels_written, pairs_added, pairs_removed, outputs.model_refit)


def label_summary(
    refreshed: RefreshResult, outputs: LabelOutputs | None, written: Written | None
) -> LabelSummary:
    """The run's summary from what the refresh, the computation and the write did."""
    computed = {}
    if outputs is not None:
        counts = outputs.labels.group_by("label").len().sort("label").iter_rows()
        sources = outputs.pairs.group_by("source").len().sort("source").iter_rows()
        label_row = outputs.diagnostics.filter(pl.col("kind") == "label")
        computed = {
            "labels": outputs.labels.height,
            "pairs": outputs.pairs.height,
            "label_counts": dict(counts),
            "pair_counts": dict(sources),
            "diagnostics": outputs.diagnostics,
            "warning": label_row["warning"][0] if label_row.height else None,
        }
    return LabelSummary(
        label_version=refreshed.mark.label_version,
        up_to_date=refreshed.labels_current,
        full_rebuild=refreshed.full_rebuild,
        generations_reaggregated=refreshed.reaggregated,
        abnormal_viewers=refreshed.abnormal_viewers,
        examination_refit=refreshed.examination_refit,
        event_pass_workers=refreshed.workers,
        **(vars(written) if written is not None else {}),
        **computed,
    )


def label(
    warehouse: Warehouse,
    config: LabelConfig | None = None,
    runner: StepRunner = DIRECT,
    scale_out: ScaleOut | None = None,
) -> LabelSummary:
    """Label every known generation and build preference pairs.

    On a distributed runner the event-level passes run partition by partition on the workers
    (`scale_out`, default `ScaleOut()`); otherwise, as SQL in the warehouse.
    """
    config = config or LabelConfig()
    started_at = datetime.now(UTC)
    if scale_out is None and runner.distributed:
        scale_out = ScaleOut()
    refreshed = runner.run(refresh_engagement_state, warehouse, config, scale_out, runner)
    runner.progress("label: passes", 1, LABEL_PASSES)
    if refreshed.labels_current:
        runner.log.info(
            "labels are current (label_version %s): nothing to do", config.label_version
        )
        runner.run(publish_if_stale, warehouse)  # rows a killed run committed but did not publish
        runner.progress("label: passes", LABEL_PASSES, LABEL_PASSES)
        return label_summary(refreshed, None, None)
    inputs = runner.run(read_label_inputs, warehouse, refreshed.mark)
    runner.progress("label: passes", 2, LABEL_PASSES)
    outputs = runner.run(compute_labels, inputs, config)
    runner.progress("label: passes", 3, LABEL_PASSES)
    written = runner.run(write_label_outputs, warehouse, outputs, refreshed.mark, started_at)
    runner.progress("label: passes", LABEL_PASSES, LABEL_PASSES)
    summary = label_summary(refreshed, outputs, written)
    runner.log.info(
        "label %s: %d labels %s, %d pairs %s",
        config.label_version,
        summary.labels,
        summary.label_counts,
        summary.pairs,
        summary.pair_counts,
    )
    if summary.warning:
        runner.log.warning("label %s: %s", config.label_version, summary.warning)
    return summary
