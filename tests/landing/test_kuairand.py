"""The KuaiRand importer: mapping rules on tiny inline logs, and counts on the shared real week."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from landing.kuairand import (
    SOURCE_SCHEMA,
    KuaiRandConfig,
    event_frames,
    generation_records,
    source_rows,
    validated_row_count,
    write_landing_zone,
)

SHARED_WEEK = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "kuairand"
    / "log_standard_20220425_20220501.csv"
)
HEADER = ",".join(SOURCE_SCHEMA)
# 2022-04-25 00:00:00 UTC in epoch ms
DAY_0 = 1_650_844_800_000
DAY_MS = 86_400_000


def log_row(
    user: int,
    video: int,
    time_ms: int,
    *,
    play: int = 0,
    duration: int = 10_000,
    like: int = 0,
    comment: int = 0,
    forward: int = 0,
    hate: int = 0,
    click: int = 0,
    follow: int = 0,
    long_view: int = 0,
    profile_enter: int = 0,
    tab: int = 1,
) -> str:
    """One CSV line in the standard log's column order."""
    values = {
        "user_id": user,
        "video_id": video,
        "date": 20220425,
        "hourmin": 800,
        "time_ms": time_ms,
        "is_click": click,
        "is_like": like,
        "is_follow": follow,
        "is_comment": comment,
        "is_forward": forward,
        "is_hate": hate,
        "long_view": long_view,
        "play_time_ms": play,
        "duration_ms": duration,
        "profile_stay_time": 3 if profile_enter else 0,
        "comment_stay_time": 0,
        "is_profile_enter": profile_enter,
        "is_rand": 0,
        "tab": tab,
    }
    return ",".join(str(values[column]) for column in SOURCE_SCHEMA)


def write_csv(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_log(tmp_path: Path) -> Path:
    """Six exposures over two UTC days, with a repeated key, a like without a play, a 0 duration."""
    return write_csv(
        tmp_path / "log_small.csv",
        [
            log_row(7, 100, DAY_0 + 1_000, play=12_000, duration=10_000, like=1, click=1),
            log_row(7, 100, DAY_0 + 1_000, play=12_000, duration=10_000, like=1, click=1),
            log_row(8, 100, DAY_0 + 5_000, play=0, duration=20_000, like=1, tab=6),
            log_row(8, 200, DAY_0 + 9_000, play=3_000, duration=0, forward=1, comment=1),
            log_row(9, 300, DAY_0 + DAY_MS + 7, play=40_000, duration=30_000, hate=1, follow=1),
            log_row(9, 100, DAY_0 + DAY_MS + 9, play=500, duration=10_000, profile_enter=1),
        ],
    )


def frames_of(csv: Path, config: KuaiRandConfig | None = None) -> dict[str, pl.DataFrame]:
    frames = event_frames(source_rows(csv), config or KuaiRandConfig())
    return {event_type: frame.collect() for event_type, frame in frames.items()}


def test_every_row_is_an_impression_and_repeated_keys_stay_distinct(small_log: Path) -> None:
    impressions = frames_of(small_log)["impression"]
    assert impressions.height == 6
    assert impressions["event_id"].n_unique() == 6
    assert impressions["event_id"].to_list()[:2] == [
        f"kr-u7-v100-t{DAY_0 + 1_000}-n0-impression",
        f"kr-u7-v100-t{DAY_0 + 1_000}-n1-impression",
    ]
    first = impressions.row(0, named=True)
    assert first["generation_id"] == "kr-v100"
    assert first["viewer_id"] == "kr-u7"
    assert first["occurred_at"] == DAY_0 + 1_000
    assert first["surface"] == "feed"
    assert "position" not in impressions.columns
    assert (first["kr_is_click"], first["kr_tab"], first["kr_duration_ms"]) == (1, 1, 10_000)
    assert impressions["kr_row"].to_list() == [0, 1, 2, 3, 4, 5]
    assert impressions["kr_is_follow"].to_list() == [0, 0, 0, 0, 1, 0]
    assert impressions["kr_is_profile_enter"].to_list() == [0, 0, 0, 0, 0, 1]


def test_a_view_for_each_row_that_played_with_its_watch_time(small_log: Path) -> None:
    views = frames_of(small_log)["view"]
    assert views["watch_ms"].to_list() == [12_000, 12_000, 3_000, 40_000, 500]
    assert views["occurred_at"].to_list() == [
        DAY_0 + 1_001,
        DAY_0 + 1_001,
        DAY_0 + 9_001,
        DAY_0 + DAY_MS + 8,
        DAY_0 + DAY_MS + 10,
    ]
    assert views["event_id"].str.ends_with("-view").all()


def test_reactions_come_from_flags_after_the_view_even_without_a_play(small_log: Path) -> None:
    frames = frames_of(small_log)
    likes = frames["like"]
    assert likes["viewer_id"].to_list() == ["kr-u7", "kr-u7", "kr-u8"]
    assert likes["occurred_at"].to_list() == [DAY_0 + 1_002, DAY_0 + 1_002, DAY_0 + 5_002]
    assert frames["share"]["generation_id"].to_list() == ["kr-v200"]
    assert frames["comment"]["generation_id"].to_list() == ["kr-v200"]
    assert frames["dislike"]["event_id"].to_list() == [
        f"kr-u9-v300-t{DAY_0 + DAY_MS + 7}-n0-dislike"
    ]


def test_one_generation_per_video_with_consensus_duration_and_no_training_consent(
    tmp_path: Path,
) -> None:
    csv = write_csv(
        tmp_path / "log_durations.csv",
        [
            log_row(1, 10, DAY_0 + 50, duration=1_000),
            log_row(2, 10, DAY_0 + 20, duration=1_000),
            log_row(3, 10, DAY_0 + 90, duration=2_000),
            log_row(1, 20, DAY_0 + 5, duration=3_000),
            log_row(2, 20, DAY_0 + 6, duration=4_000),
            log_row(1, 30, DAY_0 + 7, duration=0),
            log_row(2, 30, DAY_0 + 3, duration=0),
        ],
    )
    generations = generation_records(source_rows(csv), KuaiRandConfig()).collect()
    assert generations.to_dicts() == [
        {
            "generation_id": f"kr-v{video}",
            "request_id": f"kr-r{video}",
            "creator_id": "kr-unknown-creator",
            "prompt": f"kuairand video {video}",
            "model_version": "kuairand-real",
            "created_at": created_at,
            "duration_ms": duration,
            "training_consent": False,
            "kr_duration_known": known,
            "kr_source": KuaiRandConfig().attribution,
        }
        for video, created_at, duration, known in [
            (10, DAY_0 + 20, 1_000, True),  # most frequent duration
            (20, DAY_0 + 5, 4_000, True),  # a tie: the longer one
            (30, DAY_0 + 3, 1, False),  # never known: placeholder, flagged
        ]
    ]


def test_tab_surfaces_maps_listed_tabs_and_defaults_the_rest(small_log: Path) -> None:
    config = KuaiRandConfig(tab_surfaces=((6, "profile"),))
    impressions = frames_of(small_log, config)["impression"]
    assert impressions["surface"].to_list() == ["feed", "feed", "profile", "feed", "feed", "feed"]


def test_config_rejects_surfaces_outside_the_contract() -> None:
    with pytest.raises(ValueError, match="unknown surface"):
        KuaiRandConfig(tab_surfaces=((0, "home"),))
    with pytest.raises(ValueError, match="duration_ms > 0"):
        KuaiRandConfig(unknown_duration_ms=0)
    with pytest.raises(ValueError, match="bad reaction flag mapping 'superlike'"):
        KuaiRandConfig(reaction_flags=(("superlike", "is_like"),))
    mapped = KuaiRandConfig(reaction_flags=(("favorite", "is_follow"),))  # any contract type
    assert mapped.reaction_flags == (("favorite", "is_follow"),)


def test_landing_zone_is_split_by_utc_day_and_type_and_reruns_are_byte_identical(
    small_log: Path, tmp_path: Path
) -> None:
    out = tmp_path / "landing"
    summary = write_landing_zone(small_log, out)
    assert summary.source_rows == 6
    assert summary.events == {
        "impression": 6,
        "view": 5,
        "like": 3,
        "comment": 1,
        "share": 1,
        "dislike": 1,
    }
    assert summary.generations == 3
    names = sorted(p.name for p in (out / "events").iterdir())
    assert names == [
        "kuairand_log-small_2022-04-25_comment_000.parquet",
        "kuairand_log-small_2022-04-25_impression_000.parquet",
        "kuairand_log-small_2022-04-25_like_000.parquet",
        "kuairand_log-small_2022-04-25_share_000.parquet",
        "kuairand_log-small_2022-04-25_view_000.parquet",
        "kuairand_log-small_2022-04-26_dislike_000.parquet",
        "kuairand_log-small_2022-04-26_impression_000.parquet",
        "kuairand_log-small_2022-04-26_view_000.parquet",
    ]
    assert [p.name for p in (out / "generations").iterdir()] == ["kuairand_log-small.parquet"]
    assert "CC BY-SA 4.0" in (out / "KUAIRAND_NOTICE.md").read_text(encoding="utf-8")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # staging removed
    day_1 = pl.read_parquet(out / "events" / names[6])
    assert day_1["occurred_at"].min() >= DAY_0 + DAY_MS
    written = pl.concat([pl.read_parquet(p) for p in (out / "events").iterdir()], how="diagonal")
    assert written.height == sum(summary.events.values())
    assert written["event_id"].n_unique() == written.height

    before = {p: p.read_bytes() for p in sorted(out.rglob("*.parquet"))}
    write_landing_zone(small_log, out)
    assert {p: p.read_bytes() for p in sorted(out.rglob("*.parquet"))} == before


def test_reimport_replaces_its_own_files_and_leaves_other_sources_alone(
    small_log: Path, tmp_path: Path
) -> None:
    out = tmp_path / "landing"
    write_landing_zone(small_log, out)
    other = write_csv(tmp_path / "log_other.csv", [log_row(1, 1, DAY_0 + 3 * DAY_MS)])
    write_landing_zone(other, out)
    # the same CSV name, now with only the first day's rows
    day_0_only = small_log.read_text(encoding="utf-8").splitlines()[:5]
    small_log.write_text("\n".join(day_0_only) + "\n", encoding="utf-8")
    write_landing_zone(small_log, out)
    names = {p.name for p in (out / "events").iterdir()}
    assert not [n for n in names if n.startswith("kuairand_log-small_2022-04-26")]
    assert "kuairand_log-other_2022-04-28_impression_000.parquet" in names


def test_landing_zone_keeps_every_source_value(small_log: Path, tmp_path: Path) -> None:
    """The events rebuild the source rows exactly: nothing of the log is lost."""
    out = tmp_path / "landing"
    write_landing_zone(small_log, out)

    def of_type(event_type: str) -> pl.DataFrame:
        return pl.read_parquet(out / "events" / f"*_{event_type}_*.parquet").with_columns(
            exposure=pl.col("event_id").str.replace(r"-[a-z]+$", "")
        )

    key = pl.col("exposure").str.extract_groups(r"^kr-u(\d+)-v(\d+)-t(\d+)-n\d+$")
    rebuilt = of_type("impression").with_columns(
        user_id=key.struct["1"].cast(pl.Int64),
        video_id=key.struct["2"].cast(pl.Int64),
        time_ms=key.struct["3"].cast(pl.Int64),
    )
    views = of_type("view").select("exposure", play_time_ms="watch_ms")
    rebuilt = rebuilt.join(views, on="exposure", how="left").with_columns(
        pl.col("play_time_ms").fill_null(0)
    )
    for event_type, flag in KuaiRandConfig().reaction_flags:
        flagged = of_type(event_type).select("exposure", pl.lit(1, dtype=pl.Int64).alias(flag))
        rebuilt = rebuilt.join(flagged, on="exposure", how="left").with_columns(
            pl.col(flag).fill_null(0)
        )
    rebuilt = rebuilt.rename(
        {c: c.removeprefix("kr_") for c in rebuilt.columns if c.startswith("kr_")}
    )
    source = pl.read_csv(small_log, schema=dict(SOURCE_SCHEMA))
    assert rebuilt.sort("row").select(list(SOURCE_SCHEMA)).equals(source)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (log_row(1, 1, DAY_0, like=2), "is_like not 0/1: 1 row"),
        (log_row(1, 1, DAY_0, play=-5), "play_time_ms < 0: 1 row"),
        (log_row(1, 1, DAY_0).replace(f",{DAY_0},", ",,"), "time_ms is empty"),
        (log_row(1, 1, DAY_0).replace(f",{DAY_0},", ",soon,"), "cannot be read"),
    ],
)
def test_rows_breaking_the_log_format_are_a_clear_error(
    tmp_path: Path, line: str, message: str
) -> None:
    csv = write_csv(tmp_path / "log_bad.csv", [log_row(2, 2, DAY_0), line])
    with pytest.raises(ValueError, match=message) as error:
        write_landing_zone(csv, tmp_path / "landing")
    if "row" in message:
        assert "first at data row 1" in str(error.value)
    assert not (tmp_path / "landing" / "events").exists()


def test_missing_file_or_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        validated_row_count(tmp_path / "absent.csv")
    header_without_tab = HEADER.removesuffix(",tab")
    line = log_row(1, 1, DAY_0).rsplit(",", 1)[0]
    csv = write_csv(tmp_path / "log_no_tab.csv", [line], header=header_without_tab)
    with pytest.raises(ValueError, match="missing column"):
        validated_row_count(csv)


@pytest.mark.skipif(
    not SHARED_WEEK.is_file(), reason=f"shared KuaiRand week not found at {SHARED_WEEK}"
)
def test_shared_week_counts_match_the_source(tmp_path: Path) -> None:
    source = pl.read_csv(SHARED_WEEK)
    summary = write_landing_zone(SHARED_WEEK, tmp_path / "landing")
    assert summary.source_rows == source.height
    assert summary.events == {
        "impression": source.height,
        "view": source.filter(pl.col("play_time_ms") > 0).height,
        "like": source["is_like"].sum(),
        "comment": source["is_comment"].sum(),
        "share": source["is_forward"].sum(),
        "dislike": source["is_hate"].sum(),
    }
    assert summary.generations == source["video_id"].n_unique()
    impressions = pl.read_parquet(tmp_path / "landing" / "events" / "*_impression_*.parquet")
    assert impressions["event_id"].n_unique() == source.height
    generations = pl.read_parquet(tmp_path / "landing" / "generations" / "*.parquet")
    assert (generations["duration_ms"] > 0).all()
    assert not generations["training_consent"].any()
