"""A label model as rows (stored per label version, read back exactly) and whether a refit moved it.

One row per parameter: (parameter, signal, other, value). Per signal: its place in the model (`order`),
intercept per duration bucket (other = bucket), loading, long-run variance, dispersion, unit scale and
shrink strength; per pair of signals: persistent covariance and noise correlation; the prior's effects
(other = `intercept`, `model_version:<name>`, `exposure:<group>`) and variance; the duration and exposure
group edges; the interval's variance scale per exposure group (other = group); the robustness of the
residuals.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.label_model import LabelModel

PARAMETER_SCHEMA: dict[str, pl.DataType] = {
    "parameter": pl.String,
    "signal": pl.String,
    "other": pl.String,
    "value": pl.Float64,
}
PER_SIGNAL: tuple[str, ...] = (
    "loading",
    "long_run_variance",
    "dispersion",
    "unit_scale",
    "shrink_strength",
)
PER_PAIR: tuple[str, ...] = ("persistent", "noise_correlation")
INTERCEPT_EFFECT: str = "intercept"
SEGMENT_PREFIX: str = "model_version:"
EXPOSURE_PREFIX: str = "exposure:"


def model_parameters(model: LabelModel) -> pl.DataFrame:
    """The model as rows (see the module docstring), sorted."""
    rows: list[tuple[str, str, str, float]] = []
    signals = model.signals
    for k, signal in enumerate(signals):
        rows.append(("order", signal, "", float(k)))
        rows.extend(
            ("intercept", signal, str(b), float(v)) for b, v in enumerate(model.intercept[k])
        )
        rows.extend((name, signal, "", float(getattr(model, name)[k])) for name in PER_SIGNAL)
        for name in PER_PAIR:
            matrix = getattr(model, name)
            rows.extend(
                (name, signal, other, float(matrix[k, j])) for j, other in enumerate(signals)
            )
    rows.extend(("duration_edge", "", str(b), float(e)) for b, e in enumerate(model.duration_edges))
    rows.extend(("exposure_edge", "", str(g), float(e)) for g, e in enumerate(model.exposure_edges))
    scale = model.interval_scales(np.arange(len(model.exposure_edges)))
    rows.extend(("interval_scale", "", str(g), float(v)) for g, v in enumerate(scale))
    names = [
        INTERCEPT_EFFECT,
        *(SEGMENT_PREFIX + s for s in model.segments),
        *(f"{EXPOSURE_PREFIX}{g}" for g in range(len(model.exposure_edges))),
    ]
    rows.extend(
        ("prior_effect", "", name, float(v))
        for name, v in zip(names, model.prior_effects, strict=True)
    )
    rows.append(("prior_variance", "", "", float(model.prior_variance)))
    rows.append(("residual_dof", "", "", float(model.residual_dof)))
    rows.append(("robust_rounds", "", "", float(model.robust_rounds)))
    return pl.DataFrame(rows, schema=PARAMETER_SCHEMA, orient="row").sort(
        "parameter", "signal", "other"
    )


def _values(frame: pl.DataFrame, parameter: str) -> dict[tuple[str, str], float]:
    part = frame.filter(pl.col("parameter") == parameter)
    return {(s, o): v for s, o, v in part.select("signal", "other", "value").iter_rows()}


def _indexed(values: dict[tuple[str, str], float]) -> list[float]:
    """Values keyed by an integer `other`, in index order."""
    return [v for _, v in sorted(((int(o), v) for (_, o), v in values.items()))]


def label_model_from(frame: pl.DataFrame) -> LabelModel:
    """The model a `model_parameters` frame describes."""
    order = _values(frame, "order")
    signals = tuple(s for (s, _), _ in sorted(order.items(), key=lambda item: item[1]))
    k = len(signals)
    intercepts = _values(frame, "intercept")
    duration_edges = tuple(int(e) for e in _indexed(_values(frame, "duration_edge")))
    intercept = np.zeros((k, len(duration_edges)))
    for (signal, bucket), value in intercepts.items():
        intercept[signals.index(signal), int(bucket)] = value
    per_signal = {name: _values(frame, name) for name in PER_SIGNAL}
    pairs = {}
    for name in PER_PAIR:
        matrix = np.zeros((k, k))
        for (signal, other), value in _values(frame, name).items():
            matrix[signals.index(signal), signals.index(other)] = value
        pairs[name] = matrix
    effects = _values(frame, "prior_effect")
    segments = tuple(
        sorted(o[len(SEGMENT_PREFIX) :] for (_, o) in effects if o.startswith(SEGMENT_PREFIX))
    )
    exposure_edges = tuple(int(e) for e in _indexed(_values(frame, "exposure_edge")))
    prior = [effects[("", INTERCEPT_EFFECT)]]
    prior += [effects[("", SEGMENT_PREFIX + s)] for s in segments]
    prior += [effects[("", f"{EXPOSURE_PREFIX}{g}")] for g in range(len(exposure_edges))]
    stored_scale = _indexed(_values(frame, "interval_scale"))
    scalars = {
        p: _values(frame, p)[("", "")] for p in ("prior_variance", "residual_dof", "robust_rounds")
    }
    return LabelModel(
        signals=signals,
        duration_edges=duration_edges,
        intercept=intercept,
        **{name: np.array([per_signal[name][(s, "")] for s in signals]) for name in PER_SIGNAL},
        persistent=pairs["persistent"],
        noise_correlation=pairs["noise_correlation"],
        segments=segments,
        exposure_edges=exposure_edges,
        prior_effects=np.array(prior),
        prior_variance=scalars["prior_variance"],
        residual_dof=scalars["residual_dof"],
        robust_rounds=int(scalars["robust_rounds"]),
        interval_scale=np.array(stored_scale) if stored_scale else None,
    )


def label_model_moved(
    old: LabelModel | None,
    new: LabelModel,
    tolerance: float,
    interval_tolerance: float | None = None,
) -> bool:
    """True when the refit differs from the stored model by more than `tolerance` anywhere it matters.

    Signals, model_versions and the number of duration and exposure groups must match; group edges,
    dispersions, scales and variances compare relatively, rates (intercepts, loadings, covariances) in
    units of the sd of each signal's `model_variance` (a floored Psi, far above the cross-half
    variance, must not make every refit look moved), correlations and
    prior effects absolutely, interval scales by the width of the interval they give, against
    `interval_tolerance` (`tolerance` without it): a scale measured from the data is noisier than the
    model's other parameters.
    """
    if old is None:
        return True
    same = (
        old.signals == new.signals
        and len(old.duration_edges) == len(new.duration_edges)
        and len(old.exposure_edges) == len(new.exposure_edges)
        and old.segments == new.segments
    )
    if not same:
        return True
    for before, after in (
        (old.duration_edges, new.duration_edges),
        (old.exposure_edges, new.exposure_edges),
    ):
        edges = np.array(before, dtype=np.float64)
        if np.any(np.abs(np.array(after) - edges) > tolerance * np.maximum(edges, 1.0)):
            return True
    sd = np.sqrt(np.clip(old.model_variance, 1e-300, None))
    changes = [
        np.abs(new.intercept - old.intercept) / sd[:, None],
        np.abs(new.loading - old.loading) / sd,
        np.abs(new.persistent - old.persistent) / np.outer(sd, sd),
        np.abs(new.noise_correlation - old.noise_correlation),
        np.abs(new.prior_effects - old.prior_effects),
    ]
    for name in ("long_run_variance", "dispersion", "unit_scale", "shrink_strength"):
        before, after = getattr(old, name), getattr(new, name)
        changes.append(np.abs(after - before) / np.clip(np.abs(before), 1e-300, None))
    changes.append(np.array([abs(new.prior_variance - old.prior_variance) / old.prior_variance]))
    groups = np.arange(len(new.exposure_edges))
    widths = np.sqrt(new.interval_scales(groups) / old.interval_scales(groups))
    width_change = np.where(np.isfinite(widths), np.abs(widths - 1.0), np.inf)
    limit = tolerance if interval_tolerance is None else interval_tolerance
    if np.any(width_change > limit):
        return True
    return any(bool(np.any(change > tolerance)) for change in changes if change.size)
