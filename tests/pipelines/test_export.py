"""`reelloop export` end to end on a tiny warehouse: files load with `datasets`, governance holds,
re-exports are byte-identical, publishing is atomic, and every row traces back to the warehouse."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="reelloop-hf-"))

import datasets  # noqa: E402  (after the offline / cache environment is set)

from features.export import DATASET_SCHEMAS, DATASETS, ExportConfig  # noqa: E402
from pipelines.export import build_tables, read_inputs, record, write_datasets  # noqa: E402
from warehouse.connection import connect  # noqa: E402
from warehouse.resource import Warehouse  # noqa: E402

T0 = datetime(2024, 5, 1, tzinfo=UTC)
REQUESTS = 40
LABELS = {"a": ("good", 0.85), "b": ("bad", 0.15), "c": ("uncertain", 0.5)}
PAIRS = (("a", "b", 0.9), ("a", "c", 0.6), ("c", "b", 0.3))
NO_CONSENT_ID = "req-00-a"
FLAGGED_ID = "req-01-a"
REPORTED_ID = "req-02-a"
FLAGGED_REJECTED_ID = "req-03-b"
NAMES_CREATOR_ID = "req-04-a"
OLD_REQUEST = "req-05"


def creator_id(r: int) -> str:
    return f"creator-SECRET-{r:02d}"


def viewer_id(v: int) -> str:
    return f"viewer-SECRET-{v:02d}"


def seed_warehouse(db_path: Path) -> None:
    """A warehouse with REQUESTS requests of three labeled siblings, their pairs, events and a champion."""
    generations, labels, pairs, events = [], [], [], []
    for r in range(REQUESTS):
        rid = f"req-{r:02d}"
        created = datetime(2023, 1, 1, tzinfo=UTC) if rid == OLD_REQUEST else T0
        for suffix, (label, quality) in LABELS.items():
            gid = f"{rid}-{suffix}"
            uri = (
                f"s3://videos/{creator_id(r)}/{gid}.mp4"
                if gid == NAMES_CREATOR_ID
                else f"s3://videos/{gid}.mp4"
            )
            generations.append(
                {
                    "generation_id": gid,
                    "request_id": rid,
                    "creator_id": creator_id(r),
                    "prompt": f"a {suffix} cat number {r}",
                    "model_version": f"gen-v{r % 2 + 1}",
                    "created_at": created,
                    "duration_ms": 4000,
                    "output_uri": uri,
                    "training_consent": gid != NO_CONSENT_ID,
                    "content_flags": ["real_person"]
                    if gid in (FLAGGED_ID, FLAGGED_REJECTED_ID)
                    else None,
                    "source_file": "gen.jsonl",
                    "source_row": len(generations),
                    "ingested_at": T0,
                }
            )
            labels.append(
                {
                    "generation_id": gid,
                    "request_id": rid,
                    "model_version": "gen-v1",
                    "label_version": "lv1",
                    "impressions": 100,
                    "views": 50,
                    "likes": 5,
                    "favorites": 0,
                    "shares": 0,
                    "comments": 0,
                    "downloads": 0,
                    "dislikes": 0,
                    "reports": 4 if gid == REPORTED_ID else 0,
                    "studio_impressions": 3,
                    "selects": 1,
                    "regenerates": 0,
                    "quality_score": quality,
                    "quality_low": quality - 0.1,
                    "quality_high": quality + 0.1,
                    "label": label,
                    "labeled_at": T0,
                }
            )
            events.append(
                {
                    "event_id": f"e-{gid}",
                    "event_type": "impression",
                    "generation_id": gid,
                    "viewer_id": viewer_id(r % 7),
                    "occurred_at": T0,
                    "source_file": "ev.jsonl",
                    "source_row": len(events),
                    "ingested_at": T0,
                }
            )
        for chosen, rejected, confidence in PAIRS:
            pairs.append(
                {
                    "pair_id": f"pair-{rid}-{chosen}{rejected}",
                    "request_id": rid,
                    "prompt": f"a cat number {r}",
                    "chosen_generation_id": f"{rid}-{chosen}",
                    "rejected_generation_id": f"{rid}-{rejected}",
                    "source": "studio_select",
                    "confidence": confidence,
                    "label_version": "lv1",
                    "created_at": T0,
                }
            )
    con = connect(db_path)
    try:
        for table, rows in (
            ("generations", generations),
            ("labels", labels),
            ("preference_pairs", pairs),
            ("events", events),
        ):
            frame = pl.DataFrame(rows, infer_schema_length=None)
            con.register("seed_rows", frame.to_arrow())
            con.execute(f"insert into {table} by name select * from seed_rows")  # noqa: S608 (fixed table names)
            con.unregister("seed_rows")
        con.execute(
            "insert into model_registry (model_id, created_at, model_kind, label_version, feature_spec_hash, "
            "is_champion, artifact_path, artifact_sha256) values ('pm-champ', ?, 'logistic', 'lv1', 'f', true, 'a', 's')",
            [T0],
        )
    finally:
        con.close()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    db_path = tmp_path / "wh" / "reelloop.duckdb"
    seed_warehouse(db_path)
    return db_path


def export(db_path: Path, out_dir: Path, **config: object) -> dict:
    """The export flow's steps without Prefect (the task functions themselves)."""
    cfg = ExportConfig(**config)
    warehouse = Warehouse.at(db_path)
    inputs = read_inputs(warehouse)
    tables = build_tables(inputs, cfg)
    written = write_datasets(tables, inputs, cfg, str(out_dir))
    record(warehouse, written, tables, inputs, cfg)
    return json.loads((out_dir / "manifest.json").read_text())


def load(folder: Path, cache: Path) -> datasets.DatasetDict:
    return datasets.load_dataset(str(folder), cache_dir=str(cache))


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_each_dataset_loads_with_datasets_with_its_columns_and_counts(
    warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    summary = export(warehouse, out, test_fraction=0.3)
    for dataset in DATASETS:
        manifest = json.loads((out / dataset / "manifest.json").read_text())
        by_card = load(out / dataset, tmp_path / "cache")
        by_dir = datasets.load_dataset(
            "parquet", data_dir=str(out / dataset / "data"), cache_dir=str(tmp_path / "cache2")
        )
        assert set(by_card) == {"train", "test"}
        for split in ("train", "test"):
            assert by_card[split].column_names == list(DATASET_SCHEMAS[dataset])
            assert by_card[split].num_rows == manifest["counts"][split] > 0
            assert by_dir[split].num_rows == manifest["counts"][split]
        assert summary["datasets"][dataset]["counts"] == manifest["counts"]
        for entry in manifest["files"]:
            assert (
                hashlib.sha256((out / dataset / entry["path"]).read_bytes()).hexdigest()
                == entry["sha256"]
            )
    kto = load(out / "kto", tmp_path / "cache")
    assert kto["train"].features["label"].dtype == "bool"
    # 40 requests x (good, bad, uncertain): uncertain is out, and 4 goods (no consent, flagged, reported, uri
    # naming the creator); the flagged bad stays as a negative
    kto_rows = sum(kto[s].num_rows for s in ("train", "test"))
    assert kto_rows == REQUESTS * 2 - 4
    card = (out / "dpo" / "README.md").read_text()
    assert "pm-champ" in card and "`lv1`" in card and "gen-v1" in card


def test_governance_holds_in_the_loaded_datasets(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export(warehouse, out, test_fraction=0.3, since=datetime(2024, 1, 1))
    dpo, kto, reward = (load(out / d, tmp_path / "cache") for d in DATASETS)
    every_id: set[str] = set()
    for d in (dpo, kto, reward):
        for split in d.values():
            for column in ("generation_id", "chosen_generation_id", "rejected_generation_id"):
                if column in split.column_names:
                    every_id |= set(split[column])
    assert NO_CONSENT_ID not in every_id
    assert not any(gid.startswith(OLD_REQUEST) for gid in every_id)
    chosen = {g for s in dpo.values() for g in s["chosen_generation_id"]}
    rejected = {g for s in dpo.values() for g in s["rejected_generation_id"]}
    positives = {
        g
        for s in kto.values()
        for g, label in zip(s["generation_id"], s["label"], strict=True)
        if label
    }
    negatives = {
        g
        for s in kto.values()
        for g, label in zip(s["generation_id"], s["label"], strict=True)
        if not label
    }
    rewarded = {g for s in reward.values() for g in s["generation_id"]}
    for flagged in (FLAGGED_ID, REPORTED_ID, FLAGGED_REJECTED_ID):
        assert flagged not in chosen | positives | rewarded
    assert (
        FLAGGED_REJECTED_ID in rejected and FLAGGED_REJECTED_ID in negatives
    )  # allowed as a negative
    assert NAMES_CREATOR_ID not in every_id
    manifest = json.loads((out / "dpo" / "manifest.json").read_text())
    # per request: ab, ac, cb. consent: 2 pairs; flagged a: 2 x 2; flagged b as chosen: none; creator in uri: 2;
    # old request: 3; confidence 0.3 is >= 0 so kept
    assert {k: v for k, v in manifest["excluded"].items() if v} == {
        "no_consent": 2,
        "flagged_chosen": 4,
        "names_creator": 2,
        "outside_window": 3,
    }


def test_no_creator_or_viewer_id_appears_in_any_exported_column_or_file(
    warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "export"
    export(warehouse, out, test_fraction=0.3)
    secrets = [creator_id(r) for r in range(REQUESTS)] + [viewer_id(v) for v in range(7)]
    checked_columns = 0
    for path in sorted(out.rglob("*.parquet")):
        table = pq.read_table(path)
        for column in table.column_names:
            values = [str(v) for v in table.column(column).to_pylist()]
            assert not [v for v in values for s in secrets if s in v], (
                f"{path}:{column} leaks an id"
            )
            checked_columns += 1
    assert checked_columns >= sum(len(s) for s in DATASET_SCHEMAS.values())
    for path in list(out.rglob("*.md")) + list(out.rglob("*.json")):
        assert "SECRET" not in path.read_text()


def test_reexport_is_byte_identical_recorded_once_and_traceable(
    warehouse: Path, tmp_path: Path
) -> None:
    out, elsewhere = tmp_path / "export", tmp_path / "other" / "export"
    first = export(warehouse, out, test_fraction=0.3, min_confidence=0.5)
    hashes = file_hashes(out)
    again = export(warehouse, out, test_fraction=0.3, min_confidence=0.5)
    export(warehouse, elsewhere, test_fraction=0.3, min_confidence=0.5)
    assert file_hashes(out) == hashes == file_hashes(elsewhere)
    assert first["export_id"] == again["export_id"]
    assert [
        p.name for p in tmp_path.iterdir() if p.name.startswith(".")
    ] == []  # no staging left behind
    con = connect(warehouse)
    try:
        recorded = con.execute(
            "select export_id, path, label_version from exports order by path"
        ).fetchall()
        assert recorded == [
            (first["export_id"], str(out), "lv1"),
            (first["export_id"], str(elsewhere), "lv1"),
        ]
        member_rows = con.execute("select count(*) from export_rows").fetchone()[0]
        exported = sum(sum(d["counts"].values()) for d in first["datasets"].values())
        dpo_rows = sum(first["datasets"]["dpo"]["counts"].values())
        assert member_rows == exported + dpo_rows  # DPO rows list chosen and rejected
        untraceable = con.execute(
            """
            select count(*) from export_rows m
            left join labels l on l.generation_id = m.generation_id and l.label_version = m.label_version
            left join preference_pairs p on p.pair_id = m.pair_id and p.label_version = m.label_version
            where l.generation_id is null or (m.dataset = 'dpo' and p.pair_id is null)
            """
        ).fetchone()[0]
        assert untraceable == 0
    finally:
        con.close()
    changed = export(warehouse, out, test_fraction=0.0, min_confidence=0.5)
    assert changed["export_id"] != first["export_id"]
    assert not list(
        out.rglob("test-*.parquet")
    )  # replaced whole: no file of the previous export remains


def test_siblings_never_cross_the_split(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    export(warehouse, out, test_fraction=0.5)
    split_of_request: dict[str, str] = {}
    for dataset in DATASETS:
        for path in (out / dataset / "data").glob("*.parquet"):
            split = path.name.split("-")[0]
            frame = pl.read_parquet(path)
            ids = [c for c in frame.columns if c.endswith("generation_id")]
            for gid in pl.concat([frame.get_column(c) for c in ids]).to_list():
                request = gid.rsplit("-", 1)[0]
                assert split_of_request.setdefault(request, split) == split
    assert set(split_of_request.values()) == {"train", "test"}


def test_foreign_folder_is_refused_and_a_failed_write_leaves_the_previous_export(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match="not a reelloop export"):
        export(warehouse, foreign)
    assert [p.name for p in foreign.iterdir()] == ["cat.jpg"]

    out = tmp_path / "export"
    export(warehouse, out, test_fraction=0.3)
    before = file_hashes(out)
    calls = {"n": 0}
    real_write = pq.write_table

    def failing_write(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        real_write(*args, **kwargs)

    monkeypatch.setattr(pq, "write_table", failing_write)
    with pytest.raises(OSError, match="disk full"):
        export(warehouse, out, test_fraction=0.4)
    assert file_hashes(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_replacing_without_an_atomic_exchange_still_leaves_only_the_new_export(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.dataset_files as dataset_files

    out = tmp_path / "export"
    export(warehouse, out, test_fraction=0.3)
    monkeypatch.setattr(dataset_files, "exchange_paths", lambda first, second: False)
    export(warehouse, out, test_fraction=0.0)
    assert not list(out.rglob("test-*.parquet")) and list(out.rglob("train-*.parquet"))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_export_runs_the_flow_and_prints_counts(
    warehouse: Path, tmp_path: Path, prefect_harness: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli.main import main

    out = tmp_path / "cli-export"
    code = main(
        [
            "--db",
            str(warehouse),
            "export",
            "--out",
            str(out),
            "--min-confidence",
            "0.5",
            "--test-fraction",
            "0.25",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert f"written to {out}" in printed
    for dataset in DATASETS:
        counts = manifest["datasets"][dataset]["counts"]
        assert f"train {counts['train']:>7}  test {counts['test']:>7}" in printed
    assert "low_confidence 40" in printed  # the 0.3-confidence pair of each of the 40 requests
    assert (
        main(["--db", str(warehouse), "export", "--out", str(out), "--test-fraction", "1.5"]) == 2
    )
