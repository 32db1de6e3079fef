"""The simulator writes a deterministic, readable, realistically noisy landing zone with complete ground truth."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

from landing.simulate import (
    EVENT_CODE,
    EVENT_MALFORMED_KINDS,
    EVENT_REQUIRED,
    EVENT_TYPES,
    GENERATION_MALFORMED_KINDS,
    GENERATION_REQUIRED,
    SimulationConfig,
    SimulationSummary,
    build_event_chunk,
    build_generations,
    build_world,
    simulate_landing_zone,
)
from landing.writers import json_lines, json_value_columns, write_records

SMALL = SimulationConfig(
    requests=80,
    seed=7,
    days=3,
    event_files_per_day=3,
    generation_files_per_day=2,
    malformed_share=0.03,
    malformed_generation_share=0.25,
    late_generation_share=0.1,
    duplicate_generation_share=0.05,
)


def read_rows(path: Path) -> list[dict | None]:
    """Every data row of a landing file as a dict of raw values (None for a line that is not JSON)."""
    name = path.name
    if name.endswith(".parquet"):
        return pl.read_parquet(path).to_dicts()
    if name.endswith(".csv"):
        return [
            {k: v for k, v in row.items() if v is not None}
            for row in pl.read_csv(path, infer_schema=False).to_dicts()
        ]
    text = gzip.decompress(path.read_bytes()).decode() if name.endswith(".gz") else path.read_text()
    rows: list[dict | None] = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            rows.append(None)
    return rows


def parse_timestamp(value: object) -> datetime:
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000).astimezone()
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"no UTC offset: {value}")
    return parsed


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    out = tmp_path_factory.mktemp("sim")
    return out, simulate_landing_zone(out, SMALL)


@pytest.fixture(scope="module")
def malformed(landing: tuple[Path, SimulationSummary]) -> pl.DataFrame:
    return pl.read_parquet(landing[0] / "truth" / "malformed.parquet")


@pytest.fixture(scope="module")
def rows_by_file(landing: tuple[Path, SimulationSummary]) -> dict[str, list[dict | None]]:
    out, summary = landing
    return {f.path: read_rows(out / f.path) for f in summary.files}


def valid_rows(
    rows_by_file: dict[str, list[dict | None]], malformed: pl.DataFrame, kind: str
) -> list[tuple[str, dict]]:
    broken = set(malformed.select("file", "row_number").iter_rows())
    return [
        (path, row)
        for path, rows in rows_by_file.items()
        if path.startswith(f"landing/{kind}/")
        for i, row in enumerate(rows, start=1)
        if (path, i) not in broken
    ]


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    config = SimulationConfig(requests=25, seed=3, days=2)
    simulate_landing_zone(tmp_path / "a", config)
    simulate_landing_zone(tmp_path / "b", config)
    simulate_landing_zone(tmp_path / "c", SimulationConfig(requests=25, seed=4, days=2))
    files_a = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    files_b = sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    assert files_a == files_b and len(files_a) > 8
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    truth = "truth/generations.parquet"
    assert (tmp_path / "a" / truth).read_bytes() != (tmp_path / "c" / truth).read_bytes()


def test_rerun_into_same_directory_replaces_previous_files(tmp_path: Path) -> None:
    simulate_landing_zone(tmp_path, SimulationConfig(requests=20, days=3))
    summary = simulate_landing_zone(tmp_path, SimulationConfig(requests=20, days=2))
    written = {
        p.relative_to(tmp_path).as_posix() for p in (tmp_path / "landing").rglob("*") if p.is_file()
    }
    assert written == {f.path for f in summary.files}


def test_every_format_is_written_and_read_back_with_the_reported_row_counts(
    landing: tuple[Path, SimulationSummary], rows_by_file: dict[str, list[dict | None]]
) -> None:
    _, summary = landing
    for kind in ("events", "generations"):
        formats = {f.file_format for f in summary.files if f.kind == kind}
        assert formats == {"jsonl", "jsonl.gz", "parquet", "csv"}, kind
    for f in summary.files:
        assert len(rows_by_file[f.path]) == f.rows, f.path
    assert summary.event_rows == sum(f.rows for f in summary.files if f.kind == "events")
    event_days = {f.path.split("_")[1] for f in summary.files if f.kind == "events"}
    assert event_days == {"20261001", "20261002", "20261003"}


def test_valid_rows_carry_every_required_field_with_the_contract_types(
    rows_by_file: dict[str, list[dict | None]], malformed: pl.DataFrame
) -> None:
    events = valid_rows(rows_by_file, malformed, "events")
    assert len(events) > 1000
    for path, row in events:
        assert row is not None, path
        assert all(row.get(name) not in (None, "") for name in EVENT_REQUIRED), (path, row)
        assert row["event_type"] in EVENT_TYPES
        assert 1 <= len(row["event_id"]) <= 128 and len(row["generation_id"]) <= 128
        assert parse_timestamp(row["occurred_at"]).year == 2026
        if row["event_type"] == "view":
            assert int(row["watch_ms"]) >= 0, row
    generations = valid_rows(rows_by_file, malformed, "generations")
    for path, row in generations:
        assert row is not None, path
        assert all(row.get(name) not in (None, "") for name in GENERATION_REQUIRED), (path, row)
        assert int(row["duration_ms"]) > 0 and len(row["prompt"]) <= 10_000
        assert parse_timestamp(row["created_at"]).year == 2026
        uri = row.get("output_uri")
        assert uri == f"s3://reelloop-sim/videos/{row['generation_id']}.mp4"


def test_csv_list_fields_are_json_text_and_other_formats_hold_lists(
    rows_by_file: dict[str, list[dict | None]], malformed: pl.DataFrame
) -> None:
    seen = Counter()
    for path, row in valid_rows(rows_by_file, malformed, "generations"):
        embedding = row.get("output_embedding")
        if embedding is None:
            continue
        if path.endswith(".csv"):
            assert isinstance(embedding, str)
            embedding = json.loads(embedding)
            if "reference_inputs" in row:
                refs = json.loads(row["reference_inputs"])
                assert {r["kind"] for r in refs} <= {"image", "video", "audio"}
        assert isinstance(embedding, list) and len(embedding) == SMALL.embedding_dim
        seen[path.rsplit(".", 1)[-1]] += 1
    assert seen["csv"] > 0 and seen["parquet"] > 0 and seen["jsonl"] > 0


def test_timestamps_mix_epoch_millis_and_rfc3339_with_several_offsets(
    rows_by_file: dict[str, list[dict | None]], malformed: pl.DataFrame
) -> None:
    kinds = Counter()
    offsets = set()
    for path, row in valid_rows(rows_by_file, malformed, "events"):
        value = row["occurred_at"]
        if isinstance(value, int):
            kinds["epoch"] += 1
        elif path.endswith(".jsonl"):
            kinds["rfc3339"] += 1
            offsets.add(value[23:])
    assert kinds["epoch"] > 100 and kinds["rfc3339"] > 100
    assert "Z" in offsets and len(offsets) >= 5


def test_every_malformed_kind_occurs_and_is_recorded_where_it_is(
    rows_by_file: dict[str, list[dict | None]], malformed: pl.DataFrame
) -> None:
    for kind, kinds in (
        ("events", EVENT_MALFORMED_KINDS),
        ("generations", GENERATION_MALFORMED_KINDS),
    ):
        recorded = set(malformed.filter(pl.col("record_kind") == kind).get_column("malformed_kind"))
        assert recorded == set(kinds), kind
    for path, row_number, _, malformed_kind, field in malformed.iter_rows():
        row = rows_by_file[path][row_number - 1]
        if malformed_kind == "not_json":
            assert row is None
            continue
        assert row is not None
        value = row.get(field)
        if malformed_kind == "missing_field":
            assert value in (None, ""), (path, row_number, field)
        elif malformed_kind == "oversized_id":
            assert len(value) > 128
        elif malformed_kind == "oversized_prompt":
            assert len(value) > 10_000
        elif malformed_kind == "negative_watch_ms":
            assert int(value) < 0
        elif malformed_kind == "non_positive_duration":
            assert int(value) <= 0
        elif malformed_kind == "wrong_type":
            assert isinstance(value, str) and not value.lstrip("-").isdigit()
        elif malformed_kind == "unknown_event_type":
            assert value not in EVENT_TYPES
        elif malformed_kind == "far_future_timestamp":
            assert parse_timestamp(value).year >= 2099
        elif malformed_kind == "unparseable_timestamp":
            with pytest.raises(ValueError):
                parse_timestamp(value)


def test_truth_covers_every_generation_with_quality_spread_over_0_1(
    landing: tuple[Path, SimulationSummary],
    rows_by_file: dict[str, list[dict | None]],
    malformed: pl.DataFrame,
) -> None:
    out, summary = landing
    truth = pl.read_parquet(out / "truth" / "generations.parquet")
    landed = {row["generation_id"] for _, row in valid_rows(rows_by_file, malformed, "generations")}
    assert set(truth.get_column("generation_id")) == landed
    assert truth.height == summary.generations == truth.get_column("generation_id").n_unique()
    quality = truth.get_column("true_quality")
    assert 0 < quality.min() < 0.2 and 0.8 < quality.max() < 1 and quality.std() > 0.15
    viewers = pl.read_parquet(out / "truth" / "viewers.parquet")
    assert viewers.get_column("is_bot").sum() == summary.bots > 0
    assert set(truth.get_column("creator_id")) <= set(viewers.get_column("viewer_id"))


def test_embeddings_have_one_length_per_model_version() -> None:
    generations = build_generations(SimulationConfig(requests=150, embedding_dim=12))
    lengths = generations.group_by("model_version").agg(
        pl.col("output_embedding").list.len().unique().alias("lengths")
    )
    assert lengths.height == 3
    assert all(v == [12] for v in lengths.get_column("lengths").to_list())


def test_duplicate_deliveries_repeat_event_ids_some_in_another_file(
    rows_by_file: dict[str, list[dict | None]], malformed: pl.DataFrame
) -> None:
    files_of: dict[str, set[str]] = {}
    count = Counter()
    for path, row in valid_rows(rows_by_file, malformed, "events"):
        count[row["event_id"]] += 1
        files_of.setdefault(row["event_id"], set()).add(path)
    repeated = [event_id for event_id, n in count.items() if n > 1]
    assert 0.005 < len(repeated) / len(count) < 0.05
    assert any(len(files_of[event_id]) > 1 for event_id in repeated)
    assert any(len(files_of[event_id]) == 1 for event_id in repeated)


def test_late_events_and_generation_records_arriving_after_their_events(
    landing: tuple[Path, SimulationSummary],
    rows_by_file: dict[str, list[dict | None]],
    malformed: pl.DataFrame,
) -> None:
    _, summary = landing
    late = sum(
        1
        for path, row in valid_rows(rows_by_file, malformed, "events")
        if parse_timestamp(row["occurred_at"]).astimezone(UTC).strftime("%Y%m%d")
        < path.split("_")[1]
    )
    assert late >= summary.late_event_rows > 0
    first_file: dict[str, str] = {}
    for path, row in valid_rows(rows_by_file, malformed, "generations"):
        day = path.split("_")[1]
        first_file[row["generation_id"]] = min(first_file.get(row["generation_id"], day), day)
    early = sum(
        1
        for path, row in valid_rows(rows_by_file, malformed, "events")
        if path.split("_")[1] < first_file[row["generation_id"]]
    )
    assert summary.late_generation_rows > 0 and early > 0


def test_counts_scale_with_requests() -> None:
    def counts(requests: int) -> tuple[int, int]:
        world = build_world(SimulationConfig(requests=requests, days=4))
        events = sum(
            build_event_chunk(world, day, part).height
            for day in range(4)
            for part in range(int(world.parts_per_day[day]))
        )
        return world.n_generations, events

    small, large = counts(100), counts(400)
    assert 3.5 < large[0] / small[0] < 4.5
    assert 2.5 < large[1] / small[1] < 5.5
    assert 2.0 < small[0] / 100 < 4.0


def test_engagement_follows_quality_and_bots_ignore_it() -> None:
    world = build_world(SimulationConfig(requests=400, seed=1, days=7))
    chunks = pl.concat(
        build_event_chunk(world, day, part).filter(~pl.col("duplicate"))
        for day in range(7)
        for part in range(int(world.parts_per_day[day]))
    )
    viewers = world.viewers.select(pl.col("user").cast(pl.Int32).alias("viewer"), "is_bot")
    events = chunks.join(viewers, on="viewer")
    per_gen = (
        events.filter(~pl.col("is_bot") & (pl.col("surface") == 0))
        .group_by("gen")
        .agg(
            impressions=(pl.col("etype") == EVENT_CODE["impression"]).sum(),
            views=(pl.col("etype") == EVENT_CODE["view"]).sum(),
        )
        .filter(pl.col("impressions") >= 30)
    )
    quality = world.column("true_quality")[per_gen.get_column("gen").to_numpy()]
    view_rate = (per_gen.get_column("views") / per_gen.get_column("impressions")).to_numpy()
    assert spearmanr(quality, view_rate).statistic > 0.7
    bots = events.filter(pl.col("is_bot"))
    bots = bots.with_columns(
        good=pl.Series(world.column("true_quality")[bots.get_column("gen").to_numpy()] > 0.5)
    )
    bot_like_rate = bots.group_by("good").agg(
        rate=(pl.col("etype") == EVENT_CODE["like"]).sum()
        / (pl.col("etype") == EVENT_CODE["impression"]).sum()
    )
    low, high = bot_like_rate.sort("good").get_column("rate").to_list()
    assert abs(high - low) < 0.05 and low > 0.2
    per_viewer = events.filter(pl.col("etype") == 0).group_by("viewer", "is_bot").len()
    means = per_viewer.group_by("is_bot").agg(pl.col("len").mean()).sort("is_bot")
    assert means.get_column("len")[1] > 5 * means.get_column("len")[0]
    studio = events.filter(pl.col("etype") == EVENT_CODE["select"]).get_column("gen").to_numpy()
    assert (
        np.mean(world.column("true_quality")[studio]) > np.mean(world.column("true_quality")) + 0.1
    )


def test_bad_config_is_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match="requests must be at least 1"):
        SimulationConfig(requests=0)
    with pytest.raises(ValueError, match="formats"):
        SimulationConfig(formats=("xml",))  # type: ignore[arg-type]


def test_writers_round_trip_every_format_and_omit_null_json_fields(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "id": ["a", 'say "hi"'],
            "n": [1, None],
            "tags": [["x", "y"], None],
            "refs": [[{"kind": "image", "uri": "s3://r/1.png"}], None],
        }
    )
    lines = json_lines(json_value_columns(frame)).to_list()
    assert [json.loads(line) for line in lines] == [
        {"id": "a", "n": 1, "tags": ["x", "y"], "refs": [{"kind": "image", "uri": "s3://r/1.png"}]},
        {"id": 'say "hi"'},
    ]
    for file_format in ("jsonl", "jsonl.gz", "parquet", "csv"):
        path = tmp_path / f"f.{file_format}"
        assert write_records(frame, path, file_format) == path.stat().st_size
        rows = read_rows(path)
        assert [row["id"] for row in rows] == ["a", 'say "hi"']
        tags = rows[0]["tags"]
        assert (json.loads(tags) if file_format == "csv" else tags) == ["x", "y"]
    assert not list(tmp_path.glob(".*"))
