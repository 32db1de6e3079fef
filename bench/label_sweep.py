"""Refit the label model on the worlds `bench/label_worlds.py --work DIR` kept, under config variants.

    python bench/label_worlds.py --work DIR            # once: simulate, ingest, label, keep
    python bench/label_sweep.py DIR --variant default --variant "passes 8: fit_passes=8" ...

A variant is `NAME` or `NAME: FIELD=VALUE, FIELD=VALUE`: the default `LabelConfig` with those int or
float fields replaced (`inf` allowed where the field takes it). Per world and variant it prints the
label's Spearman with the truth (all generations / >= 30 feed impressions) and the coverage of the
long-run label by the nominal interval, overall and by exposure bucket (cells outside 85-95% starred);
per variant, how many cells are outside and in how many worlds the overall coverage is.

Each world is read back from its warehouse: the engagement state the label run built (its examination
curve and excluded viewers as that run adopted them) and the simulator's truth. Only the label model
is refit, so a variant takes seconds where the full bench takes minutes; a field that acts before the
model (the examination curve, the engagement rules) keeps the run's value and needs the full bench.
The long-run label and the coverage are those of `bench/label_worlds.py`, with the refit model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path

import duckdb
import label_worlds as worlds
import numpy as np
import polars as pl
import world_metrics as metrics

from features.label_config import LabelConfig
from features.label_model import long_run_scores
from features.labels import LabelFrames, fit_labels, label_frames, label_subsets, quality_scores
from pipelines.label import read_label_inputs
from warehouse import label_store
from warehouse.resource import Warehouse

SWEEPABLE: dict[str, type] = {
    name: kind
    for name, kind in typing.get_type_hints(LabelConfig).items()
    if name in {f.name for f in fields(LabelConfig)} and kind in (int, float)
}
"""The config fields a variant may set: every int and float field."""


@dataclass(frozen=True)
class Variant:
    """A named label config."""

    name: str
    config: LabelConfig


@dataclass(frozen=True)
class StoredWorld:
    """What a kept world holds for a refit: its label frames, truth rates and true quality."""

    index: int
    frames: LabelFrames
    rates: pl.DataFrame
    """`long_run_scores`' input, rows as `frames.full` (see label_worlds.truth_rates)."""
    true_logit: np.ndarray


def variant(text: str) -> Variant:
    """The variant `NAME` or `NAME: FIELD=VALUE, ...` (ValueError with a one-line reason)."""
    name, _, assignments = text.partition(":")
    overrides: dict[str, int | float] = {}
    for assignment in filter(None, (a.strip() for a in assignments.split(","))):
        field, equals, value = assignment.partition("=")
        field = field.strip()
        if not equals:
            raise ValueError(f"{assignment!r} is not FIELD=VALUE")
        if field not in SWEEPABLE:
            raise ValueError(f"{field!r} is not an int or float field of LabelConfig")
        if field in overrides:
            raise ValueError(f"{field} is set twice in {text!r}")
        try:
            overrides[field] = SWEEPABLE[field](value.strip())
        except ValueError:
            kind = SWEEPABLE[field].__name__
            raise ValueError(f"{field} takes an {kind}, got {value.strip()!r}") from None
    if not name.strip():
        raise ValueError(f"{text!r} has no name")
    return Variant(name.strip(), replace(LabelConfig(), **overrides))


def stored_world(folder: Path) -> StoredWorld:
    """The world `bench/label_worlds.py` kept in `folder`, drawn again from its `world.json` for the
    simulator config the view scales read."""
    truth_file = folder / "sim" / "truth" / "generations.parquet"
    drawn = folder / worlds.WORLD_FILE
    for needed in (truth_file, drawn):
        if not needed.is_file():
            raise ValueError(f"{folder} is not a kept world: no {needed.relative_to(folder)}")
    try:
        meta = json.loads(drawn.read_text())
        seed, index, requests = int(meta["seed"]), int(meta["index"]), int(meta["requests"])
        at_default = meta["default_exposure"]
        if not isinstance(at_default, bool):
            raise TypeError(f"default_exposure {at_default!r} is not true or false")
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{drawn} is not what bench/label_worlds.py writes ({error})") from None
    world = worlds.draw_world(seed, index, requests, at_default, LabelConfig())
    warehouse = Warehouse.at(folder / "warehouse.duckdb")
    try:
        with warehouse.writer(publish=False) as con:
            mark = label_store.state_mark(con)
            if mark is None:
                raise ValueError(f"{folder}: its warehouse holds no label run")
            scales = worlds.view_scales(con, world.config, mark.label_version)
    except duckdb.Error as error:
        first = str(error).splitlines()[0]
        raise ValueError(f"{folder}: its warehouse cannot be read ({first})") from None
    inputs = read_label_inputs(warehouse, mark)
    frames = label_frames(inputs.engagement, inputs.cells)
    truth = pl.read_parquet(truth_file)
    true_logit = frames.full.select("generation_id").join(
        truth.select("generation_id", "true_logit"), on="generation_id", maintain_order="left"
    )
    return StoredWorld(
        index=index,
        frames=frames,
        rates=worlds.truth_rates(frames.full, truth, scales),
        true_logit=true_logit["true_logit"].to_numpy(),
    )


def refit(world: StoredWorld, config: LabelConfig) -> tuple[dict[str, float], metrics.Coverage]:
    """The label's Spearman with the truth by scope and its interval coverage, refit under `config`
    on every generation of the world (sampled and fitted as the label stage samples them)."""
    full = world.frames.full
    fit = fit_labels(world.frames, config, *label_subsets(full, config))
    scores = quality_scores(full, fit.model, config)
    impressions = full["impressions"].to_numpy()
    coverage = metrics.interval_coverage(
        scores["quality_low"].to_numpy(),
        scores["quality_high"].to_numpy(),
        long_run_scores(fit.model, world.rates).to_numpy(),
        impressions,
    )
    well_shown = impressions >= metrics.MIN_FEED_IMPRESSIONS
    rho = metrics.by_scope(scores["quality_score"].to_numpy(), world.true_logit, well_shown)
    return rho, coverage


def _outside(share: float) -> bool:
    """Whether a coverage share is outside the issue's 85-95%."""
    low, high = worlds.COVERAGE_BOUNDS
    return not low <= share <= high


def world_line(index: int, rho: dict[str, float], coverage: metrics.Coverage) -> str:
    """One world's figures under one variant."""
    buckets = " ".join(
        f"{share:.3f}{'*' if _outside(share) else ' '}"
        for _, size, share in coverage.buckets
        if size >= metrics.MIN_BUCKET_GENERATIONS
    )
    overall = f"{coverage.overall:.3f}{'*' if _outside(coverage.overall) else ' '}"
    spearman = f"rho {rho['all']:.3f} / {rho['>=30']:.3f}"
    return f"  world {index:2d}  {spearman}  cover {overall} | {buckets}"


def sweep(stored: list[StoredWorld], variant: Variant) -> None:
    """Print every world's figures under `variant` and its summary line."""
    started = time.perf_counter()
    lines, coverages = [], []
    for world in stored:
        rho, coverage = refit(world, variant.config)
        lines.append(world_line(world.index, rho, coverage))
        coverages.append(coverage)
    cells = sum(_outside(share) for coverage in coverages for share in coverage.held())
    overall = sum(_outside(coverage.overall) for coverage in coverages)
    seconds = time.perf_counter() - started
    print(
        f"== {variant.name}: {cells} coverage cells outside, overall outside in {overall} of "
        f"{len(stored)} worlds ({variant.config.label_version}, {seconds:.0f} s)"
    )
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="the --work folder of bench/label_worlds.py")
    parser.add_argument(
        "--variant", action="append", default=[], help="NAME or 'NAME: FIELD=VALUE, ...'"
    )
    args = parser.parse_args(argv)
    try:
        variants = [variant(text) for text in args.variant or ["default"]]
    except ValueError as error:
        parser.error(str(error))
    names = [each.name for each in variants]
    if len(set(names)) < len(names):
        parser.error(f"variant names repeat: {', '.join(names)}")
    folders = sorted(args.work.glob("world-[0-9][0-9]"))
    kept = [f for f in folders if (f / "warehouse.duckdb").is_file()]
    if not kept:
        parser.error(f"{args.work} holds no world kept by bench/label_worlds.py --work")
    try:
        stored = [stored_world(folder) for folder in kept]
    except ValueError as error:
        parser.error(str(error))
    for each in variants:
        sweep(stored, each)
    return 0


if __name__ == "__main__":
    sys.exit(main())
