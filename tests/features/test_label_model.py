"""The label model on tiny populations: it learns each signal's weight from the data (a signal of pure
noise gets none, a signal counted twice counts once, a reliable one dominates), reads back exactly, and its
long-run label is what its labels converge to."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from features.label_beta_binomial import BINOMIAL_SIGNALS, population_variances
from features.label_config import LabelConfig
from features.label_fit import fit_data
from features.label_model import LabelModel, long_run_scores
from features.label_parameters import label_model_from, label_model_moved, model_parameters
from features.label_pipeline import LabelOutputs, compute_label_outputs
from features.labels import LabelFit, held_out_quality, label_frames
from features.stable_keys import stable_sample
from tests.features.label_world import LabelWorld

CONFIG = LabelConfig(prior_min_generations=20)


def world_of(
    n: int = 400,
    seed: int = 0,
    *,
    view_slope: float = 0.6,
    view_quirk: float = 0.3,
    favorite_slope: float = 0.6,
    copies: dict[str, str] | None = None,
) -> LabelWorld:
    """Generations whose quality drives views, completion, likes and (by `favorite_slope`) favorites."""
    rng = np.random.default_rng(seed + 500)
    world = LabelWorld(seed=seed)
    for i in range(n):
        q = float(rng.normal())
        quirk = rng.normal(0.0, 1.0, 4)
        world.add(
            f"g{i:04d}",
            impressions=int(np.exp(rng.normal(5.0, 0.8))),
            view_rate=float(1.0 / (1.0 + np.exp(-(view_slope * q - 0.5 + view_quirk * quirk[0])))),
            completion=float(np.clip(0.5 + 0.08 * q + 0.08 * quirk[1], 0.05, 1.5)),
            actions={
                "like": float(0.1 / (1.0 + np.exp(-(0.7 * q + 0.4 * quirk[2])))),
                "favorite": float(0.1 / (1.0 + np.exp(-(favorite_slope * q + 0.4 * quirk[3])))),
            },
            copies=copies,
        )
    return world


def run(world: LabelWorld):
    engagement, cells = world.frames()
    return compute_label_outputs(engagement, cells, None, None, CONFIG)


def weights(outputs) -> dict[str, float]:
    signals = outputs.diagnostics.filter(pl.col("kind") == "signal")
    return dict(signals.select("score", "weight").iter_rows())


def test_a_signal_of_pure_noise_gets_about_no_weight() -> None:
    """Favorites at 5% of views for everyone: all their variation is sampling noise."""
    world = world_of(favorite_slope=0.0)
    rng = np.random.default_rng(11)
    for cell in world.cells:
        cell["favorites"] = int(rng.binomial(cell["views"], 0.05))
    weight = weights(run(world))
    assert weight["favorite"] < 0.02
    assert weight["like"] > 10 * weight["favorite"]


def test_a_duplicated_signal_does_not_count_twice() -> None:
    """Favorites copied from likes in every cell: the pair weighs what likes alone weigh, and the labels
    are those of a world without the copy."""
    alone = world_of(favorite_slope=0.0, seed=3)
    for cell in alone.cells:
        cell["favorites"] = 0
    copied = world_of(favorite_slope=0.0, seed=3)
    for cell in copied.cells:
        cell["favorites"] = cell["likes"]
    single, double = run(alone), run(copied)
    assert "favorite" not in single.fit.model.signals
    w_single, w_double = weights(single), weights(double)
    assert w_double["like"] + (w_double.get("favorite") or 0.0) == pytest.approx(
        w_single["like"], abs=0.05
    )
    z_single = single.labels["quality_z"].to_numpy()
    z_double = double.labels["quality_z"].to_numpy()
    assert np.corrcoef(z_single, z_double)[0, 1] > 0.995
    assert np.max(np.abs(z_single - z_double)) < 0.15


def test_a_reliable_signal_dominates() -> None:
    """Views driven by quality alone (no quirk, slope 2) on hundreds of impressions: the label leans on them."""
    outputs = run(world_of(view_slope=2.0, view_quirk=0.0))
    weight = weights(outputs)
    assert weight["view"] == max(weight.values())
    assert weight["view"] > 0.5
    model = outputs.fit.model
    assert model.quality_share[model.signals.index("view")] > 0.9


def scaled(model: LabelModel, parameter: str, factor: float) -> LabelModel:
    """`model` read back with every value of `parameter` multiplied by `factor`."""
    rows = model_parameters(model)
    changed = pl.when(pl.col("parameter") == parameter).then(pl.col("value") * factor)
    return label_model_from(rows.with_columns(changed.otherwise(pl.col("value")).alias("value")))


def test_the_model_reads_back_exactly_and_a_refit_on_the_same_data_does_not_move() -> None:
    outputs = run(world_of(n=200, seed=5))
    model = outputs.fit.model
    stored = label_model_from(model_parameters(model))
    assert stored.signals == model.signals and stored.segments == model.segments
    for name in (
        "intercept",
        "loading",
        "persistent",
        "noise_correlation",
        "prior_effects",
        "interval_scale",
    ):
        np.testing.assert_array_equal(getattr(stored, name), getattr(model, name))
    assert model.interval_scale is not None and np.all(model.interval_scale >= 1.0)
    assert not label_model_moved(model, stored, 0.0)
    widened = scaled(model, "interval_scale", 1.5)
    assert label_model_moved(model, widened, 0.02)
    assert not label_model_moved(model, widened, 0.02, interval_tolerance=0.5)
    nudged = scaled(model, "loading", 1.2)
    assert label_model_moved(model, nudged, 0.02) and not label_model_moved(model, nudged, 10.0)


def rare_report_world(n: int = 400, seed: int = 7) -> LabelWorld:
    """Generations shown more the better they are, with a rare report rate that spreads most among
    the little-shown bad ones (as a rare rate convex in quality does), and four durations: the
    longer a video, the less of it is watched."""
    rng = np.random.default_rng(seed + 900)
    world = LabelWorld(seed=seed)
    for i in range(n):
        q, quirk = float(rng.normal()), rng.normal(0.0, 1.0, 3)
        doublings = int(rng.integers(0, 4))
        world.add(
            f"g{i:04d}",
            impressions=int(np.exp(rng.normal(4.5 + 0.8 * q, 0.5))),
            view_rate=float(1.0 / (1.0 + np.exp(-(0.6 * q - 0.5 + 0.3 * quirk[0])))),
            completion=float(
                np.clip(0.9 + 0.08 * q - 0.2 * doublings + 0.08 * quirk[1], 0.05, 1.5)
            ),
            actions={
                "like": float(0.1 / (1.0 + np.exp(-(0.7 * q)))),
                "report": float(0.3 / (1.0 + np.exp(-(-2.0 * q - 4.0 + 1.5 * quirk[2])))),
            },
            duration_ms=4000 * 2**doublings,
        )
    return world


def test_the_fit_raises_psi_by_its_margin_and_population_floor() -> None:
    engagement, cells = rare_report_world().frames()

    def model(**options: float) -> LabelModel:
        config = replace(CONFIG, **options)
        return compute_label_outputs(engagement, cells, None, None, config).fit.model

    bare = model(persistent_se_margin=0.0, population_floor_share=0.0)
    margin = model(population_floor_share=0.0)
    floored = model(persistent_se_margin=0.0)
    assert np.all(np.diag(margin.persistent) > np.diag(bare.persistent))
    frames = label_frames(engagement, cells)
    data = fit_data(frames.full, frames.half_a, frames.half_b, CONFIG)
    counts = data.full.restricted(floored.signals)
    spread = population_variances(counts, data.design.bucket)
    reached = floored.loading**2 + np.diag(floored.persistent)
    binomial = np.array([s in BINOMIAL_SIGNALS for s in floored.signals])
    assert np.all(reached[binomial] >= spread[binomial] * (1 - 1e-9))
    assert spread[floored.signals.index("view")] == 0.0
    # the report fell far short of its spread without the floor, and is held at it
    report = floored.signals.index("report")
    assert bare.loading[report] ** 2 + bare.persistent[report, report] < 0.5 * spread[report]
    assert reached[report] == pytest.approx(spread[report], rel=0.05)
    # long view is read within each duration bucket: across them its means differ by duration
    long_view = floored.signals.index("long_view")
    pooled = population_variances(counts, np.zeros_like(data.design.bucket))
    assert reached[long_view] < 0.5 * pooled[long_view]


def test_the_long_run_label_is_what_the_label_reaches_with_unlimited_exposure() -> None:
    """A generation observed on a million impressions scores its long-run label (within sampling noise)."""
    world = world_of(n=300, seed=6)
    world.add(
        "huge",
        impressions=1_000_000,
        view_rate=0.5,
        completion=0.6,
        actions={"like": 0.07, "favorite": 0.06},
    )
    outputs = run(world)
    engagement, _ = world.frames()
    rates = engagement.select("generation_id", "model_version", "duration_ms", "impressions").join(
        pl.DataFrame(world.truths), on="generation_id", how="left", maintain_order="left"
    )
    long_run = dict(
        zip(rates["generation_id"], long_run_scores(outputs.fit.model, rates), strict=True)
    )
    huge = outputs.labels.filter(pl.col("generation_id") == "huge").row(0, named=True)
    assert huge["quality_score"] == pytest.approx(long_run["huge"], abs=0.01)
    assert huge["quality_high"] - huge["quality_low"] < 0.02


def test_the_signal_parameters_are_estimated_on_the_fitted_subset_alone() -> None:
    """Likes of the generations outside the fit's fixed subset made absurd (every viewer likes): the
    signal parameters do not move, their labels do; a fit on every generation moves."""
    subset = LabelConfig(
        prior_min_generations=20, diagnostics_max_generations=100, fit_max_generations=200
    )
    everyone = LabelConfig(prior_min_generations=20, diagnostics_max_generations=100)
    plain, absurd = world_of(seed=5), world_of(seed=5)
    ids = sorted(r["generation_id"] for r in absurd.records)
    outside = {g for g, kept in zip(ids, stable_sample(ids, 200), strict=True) if not kept}
    for cell in absurd.cells:
        if cell["generation_id"] in outside:
            cell["likes"] = cell["net_likes"] = cell["views"]
    fits = {}
    for name, config in (("subset", subset), ("everyone", everyone)):
        for world_name, world in (("plain", plain), ("absurd", absurd)):
            fits[name, world_name] = compute_label_outputs(*world.frames(), None, None, config)
    parameters = ("loading", "persistent", "intercept", "dispersion", "noise_correlation")
    before, after = fits["subset", "plain"], fits["subset", "absurd"]
    for name in parameters:
        assert np.array_equal(getattr(before.fit.model, name), getattr(after.fit.model, name))
    moved = before.labels.join(after.labels, on="generation_id", suffix="_absurd").filter(
        pl.col("quality_z") != pl.col("quality_z_absurd")
    )
    assert set(moved["generation_id"]) >= outside
    loading = [fits["everyone", w].fit.model.loading for w in ("plain", "absurd")]
    assert not np.allclose(loading[0], loading[1], rtol=0.02)


def test_the_fit_subset_must_hold_the_diagnostics_one() -> None:
    with pytest.raises(ValueError, match="fit_max_generations must be at least"):
        LabelConfig(fit_max_generations=50, diagnostics_max_generations=100)


def test_a_signal_absent_from_the_fitted_subset_is_not_in_the_model() -> None:
    subset = LabelConfig(
        prior_min_generations=20, diagnostics_max_generations=100, fit_max_generations=200
    )
    world = world_of(seed=6)
    ids = sorted(r["generation_id"] for r in world.records)
    fitted = {g for g, kept in zip(ids, stable_sample(ids, 200), strict=True) if kept}
    for cell in world.cells:
        if cell["generation_id"] in fitted:
            cell["favorites"] = 0
    frames = world.frames()
    assert "favorite" not in compute_label_outputs(*frames, None, None, subset).fit.model.signals
    everyone = LabelConfig(prior_min_generations=20, diagnostics_max_generations=100)
    assert "favorite" in compute_label_outputs(*frames, None, None, everyone).fit.model.signals


def nuisance_world(n: int, seed: int) -> tuple[LabelWorld, dict[str, float]]:
    """Requests of three siblings whose view rate and completion share an appeal u that is not
    quality, far stronger than their quality part; likes, favorites and dislikes see quality only."""
    rng = np.random.default_rng(seed)
    world, quality = LabelWorld(seed=seed), {}
    for i in range(n):
        q, u = rng.normal(), rng.normal()
        quirk = rng.normal(0.0, 0.2, 5)
        generation = f"g{i:05d}"
        quality[generation] = float(q)
        world.add(
            generation,
            impressions=int(np.exp(rng.normal(5.0, 0.6))),
            view_rate=float(1.0 / (1.0 + np.exp(-(0.25 * q + 1.0 * u - 0.5 + quirk[0])))),
            completion=float(np.clip(0.5 + 0.03 * q + 0.15 * u + 0.03 * quirk[1], 0.05, 1.5)),
            actions={
                "like": float(0.1 / (1.0 + np.exp(-(0.9 * q + quirk[2])))),
                "favorite": float(0.05 / (1.0 + np.exp(-(0.9 * q + quirk[3])))),
                "dislike": float(0.05 / (1.0 + np.exp(0.9 * q + quirk[4]))),
            },
            request=f"r{i // 3:05d}",
        )
    return world, quality


def test_studio_selects_turn_the_fit_away_from_a_shared_nuisance() -> None:
    """The one-factor fit takes the appeal views and completion share for quality; the creators'
    selects (the best sibling by quality, with a little noise) turn it back."""
    engagement, with_selects, cells, truth = nuisance_world_with_selects(1500, 3)

    def spearman(frame: pl.DataFrame) -> float:
        labels = compute_label_outputs(frame, cells, None, None, CONFIG).labels
        z = engagement.select("generation_id").join(labels, on="generation_id")["quality_z"]
        z = z.to_numpy()
        return float(np.corrcoef(np.argsort(np.argsort(z)), np.argsort(np.argsort(truth)))[0, 1])

    blind, turned = spearman(engagement), spearman(with_selects)
    assert blind < 0.45  # measured 0.27
    assert turned > blind + 0.25  # measured 0.70


def nuisance_world_with_selects(
    requests: int, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, np.ndarray]:
    """(engagement sorted by generation_id, the same where the creators select the best sibling by
    quality with a little noise, cells, true quality in that order) of the nuisance world."""
    world, quality = nuisance_world(requests, seed)
    engagement, cells = world.frames()
    engagement = engagement.sort("generation_id")
    truth = np.array([quality[g] for g in engagement["generation_id"]])
    key = truth + np.random.default_rng(seed + 1).gumbel(size=truth.size) * 0.2
    selects = engagement.with_columns(key=pl.Series(key)).with_columns(
        studio_impressions=pl.lit(1, dtype=pl.Int64),
        selects=(pl.col("key") == pl.col("key").max().over("request_id")).cast(pl.Int64),
    )
    return engagement, selects.drop("key"), cells, truth


def test_the_studio_check_judges_each_select_by_labels_its_own_votes_did_not_turn() -> None:
    """Redraw at random the selects of one fold's requests: that fold's labels move, the figures the
    studio check reads for them hardly do (only through the run's prior); the other folds' do."""
    config = replace(CONFIG, select_ridges=(30.0,))  # one penalty: the choice stays put
    _, engagement, cells, _ = nuisance_world_with_selects(1500, 3)
    before = compute_label_outputs(engagement, cells, None, None, config)
    tilt = before.fit.select_tilt
    assert tilt is not None and sorted(tilt.fold_factors) == [0, 1, 2, 3, 4]
    fold = tilt.fold
    drawn = np.random.default_rng(7).integers(0, 3, size=engagement.height // 3)
    sibling = engagement.select(
        rank=pl.int_range(pl.len()).over("request_id"),
        drawn=pl.Series(np.repeat(drawn, 3)),
    )
    redrawn = np.where(fold == 0, sibling["rank"] == sibling["drawn"], engagement["selects"] > 0)
    after = compute_label_outputs(
        engagement.with_columns(selects=pl.Series(redrawn.astype(np.int64))),
        cells,
        None,
        None,
        config,
    )

    def checked(outputs: LabelOutputs, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        quality = outputs.labels.sort("generation_id")["quality_z"].to_numpy()
        full = label_frames(frame, cells).full
        return quality, held_out_quality(full, outputs.fit, quality, config)

    label_before, check_before = checked(before, engagement)
    label_after, check_after = checked(after, engagement)
    own = fold == 0
    label_moved = np.abs(label_after - label_before)[own].mean()  # measured 0.027
    check_moved = np.abs(check_after - check_before)[own].mean()  # measured 0.0024
    others_moved = np.abs(check_after - check_before)[fold > 0].mean()  # measured 0.038
    assert check_moved < 0.25 * label_moved and check_moved < 0.25 * others_moved
    # the diagnostics' label row reads those figures
    assert label_agreement(before) == pytest.approx(select_agreement(engagement, check_before))


def select_agreement(engagement: pl.DataFrame, values: np.ndarray) -> float:
    """Share of the selects (a selected sibling over one shown beside it) `values` order the same way."""
    votes = engagement.select(
        "request_id", "selects", "studio_impressions", value=pl.Series(values)
    ).filter(pl.col("studio_impressions") > 0)
    pairs = votes.filter(pl.col("selects") > 0).join(
        votes.filter(pl.col("selects") == 0), on="request_id", suffix="_loser"
    )
    return float((pairs["value"] > pairs["value_loser"]).mean())


def label_agreement(outputs: LabelOutputs) -> float:
    """The studio agreement the run's diagnostics report for the label."""
    return float(outputs.diagnostics.filter(pl.col("kind") == "label")["studio_agreement"][0])


def test_the_studio_check_stays_held_out_on_a_kept_model_and_beside_requests_without_votes() -> (
    None
):
    """A third of the requests never reach the studio (their generations have no fold), and the next
    run keeps the stored model, which holds no folds: the label's studio figure stays the held-out
    one, not the in-sample agreement of the labels the run writes (a world where the two differ)."""
    _, engagement, cells, _ = nuisance_world_with_selects(1500, 5)
    outside = (engagement["request_id"].rank("dense") % 3 == 0).to_numpy()
    engagement = engagement.with_columns(
        studio_impressions=pl.Series(np.where(outside, 0, 1)),
        selects=pl.Series(np.where(outside, 0, engagement["selects"].to_numpy())),
    )
    first = compute_label_outputs(engagement, cells, None, None, CONFIG)
    tilt = first.fit.select_tilt
    assert tilt is not None and tilt.fold_factors
    assert np.array_equal(tilt.fold < 0, outside)
    quality = first.labels.sort("generation_id")["quality_z"].to_numpy()
    held_out = held_out_quality(label_frames(engagement, cells).full, first.fit, quality, CONFIG)
    assert np.array_equal(held_out[outside], quality[outside])
    in_sample = select_agreement(engagement, quality)
    assert label_agreement(first) == pytest.approx(select_agreement(engagement, held_out))
    assert abs(label_agreement(first) - in_sample) > 1e-3
    stored = LabelFit(first.fit.model, first.fit.completion_quantiles)
    again = compute_label_outputs(engagement, cells, stored, first.reliability, CONFIG)
    assert not again.model_refit and again.fit is stored
    assert label_agreement(again) == pytest.approx(label_agreement(first))
