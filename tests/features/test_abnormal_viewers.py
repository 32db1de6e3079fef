"""Abnormal viewers on tiny frames: each rule flags its outlier and no ordinary viewer."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.abnormal_viewers import abnormal_viewers, overdispersion
from features.label_config import LabelConfig

RULES = LabelConfig(bot_like_share=0.3, bot_like_z=5.0)
HUMAN_VIEW_RATE_BY_BAND = (0.6, 0.4, 0.2, 0.1)


def human_activity(viewers: int, seed: int) -> list[dict[str, object]]:
    """Ordinary viewers: 5-40 impressions per band, views at the band's rate, ~5% likes (band -1)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for i in range(viewers):
        for band, rate in enumerate(HUMAN_VIEW_RATE_BY_BAND):
            shown = int(rng.integers(5, 40))
            rows.append(activity_row(f"v{i}", band, shown, int(rng.binomial(shown, rate)), 0))
        rows.append(activity_row(f"v{i}", -1, 0, 0, int(rng.binomial(30, 0.05))))
    return rows


def activity_row(viewer: str, band: int, shown: int, viewed: int, likes: int) -> dict[str, object]:
    return {
        "viewer_id": viewer,
        "position_band": band,
        "events": shown + viewed + likes,
        "impressions": shown,
        "views": viewed,
        "likes": likes,
    }


def flagged_reasons(extra: list[dict[str, object]]) -> dict[str, str]:
    activity = pl.DataFrame(human_activity(200, seed=0) + extra)
    flagged = abnormal_viewers(activity, RULES)
    return dict(flagged.select("viewer_id", "reason").iter_rows())


def test_each_rule_flags_its_outlier_and_no_ordinary_viewer() -> None:
    extra = [
        activity_row("liker", 0, 50, 45, 25),
        activity_row("flood", -1, 9000, 0, 0),
        # views deep slots as readily as the top one: 90% everywhere, a human's volume
        *(activity_row("watches_all", band, 30, 27, 0) for band in range(4)),
        # a human's rates with three times the volume: not abnormal
        *(
            activity_row("heavy_human", band, 90, int(90 * rate), 0)
            for band, rate in enumerate(HUMAN_VIEW_RATE_BY_BAND)
        ),
        activity_row("eager_newcomer", 0, 3, 3, 3),
    ]
    flagged = flagged_reasons(extra)
    assert flagged == {
        "flood": "volume_outlier",
        "liker": "likes_everything",
        "watches_all": "views_everything",
    }


def test_the_view_rule_holds_when_bots_make_much_of_the_traffic() -> None:
    # 10 bots with 400 impressions per band each (~40% of deep impressions): the band rates come
    # from the mean viewer, so they are not pulled up by the bots and every bot is flagged
    bots = [activity_row(f"bot{i}", band, 400, 300, 0) for i in range(10) for band in range(4)]
    flagged = flagged_reasons(bots)
    assert set(flagged) == {f"bot{i}" for i in range(10)}
    assert all("views_everything" in reason.split("+") for reason in flagged.values())


def test_too_few_viewers_to_set_the_spread_flag_nobody_by_views() -> None:
    activity = pl.DataFrame(
        [activity_row(f"v{i}", 0, 30, 10, 0) for i in range(5)]
        + [activity_row("watches_all", 0, 30, 30, 0)]
    )
    assert abnormal_viewers(activity, RULES).is_empty()


def test_like_share_of_a_flagged_liker_is_reported() -> None:
    activity = pl.DataFrame(human_activity(50, seed=1) + [activity_row("liker", 0, 50, 45, 25)])
    flagged = abnormal_viewers(activity, RULES)
    assert flagged.filter(pl.col("viewer_id") == "liker")["like_share"][0] == pytest.approx(0.5)


def test_one_view_of_a_deep_slot_is_luck_not_a_bot() -> None:
    # a viewer shown one deep video who watched it: a 10% event, not an outlier
    flagged = flagged_reasons([activity_row("lucky", 3, 1, 1, 0)])
    assert "lucky" not in flagged


def test_overdispersion_is_zero_for_sampling_noise_and_recovers_a_real_spread() -> None:
    rng = np.random.default_rng(3)
    expected = rng.uniform(20, 200, 4000)
    sampled = rng.poisson(expected).astype(float)
    assert overdispersion(sampled, expected, expected) == pytest.approx(0.0, abs=2e-3)
    # view propensities spread log-normally with sd 0.3 around the mean viewer's
    propensity = np.exp(rng.normal(-0.045, 0.3, expected.size))
    spread = rng.poisson(expected * propensity).astype(float)
    assert overdispersion(spread, expected, expected) == pytest.approx(0.3**2, rel=0.25)


def test_viewers_never_shown_anything_do_not_set_the_spread() -> None:
    # with no floor on expected views, viewers who only liked (no impressions) expect 0 views:
    # they are no reference for the spread of view propensity, and the rule still flags its bot
    rules = LabelConfig(bot_like_share=0.3, bot_like_z=5.0, bot_view_min_expected=0.0)
    likers_only = [activity_row(f"quiet{i}", -1, 0, 0, 1) for i in range(20)]
    bot = [activity_row("watches_all", band, 30, 27, 0) for band in range(4)]
    activity = pl.DataFrame(human_activity(200, seed=0) + likers_only + bot)
    flagged = dict(abnormal_viewers(activity, rules).select("viewer_id", "reason").iter_rows())
    assert flagged.get("watches_all") == "views_everything"
    assert not any(viewer.startswith("quiet") for viewer in flagged)
