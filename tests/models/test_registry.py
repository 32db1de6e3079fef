"""Model ids, promotion decisions, artifacts, and champion/challenger bookkeeping in the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import skops.io as sio

from common.hashing import file_sha256
from models.artifacts import load_bundle, save_bundle
from models.evaluation import split_requests_by_time
from models.registry import (
    PromotionPolicy,
    challenge_champion,
    new_model_id,
    promotion_decision,
)
from models.training import ScoringBundle, train_bundle
from warehouse.connection import connect
from warehouse.registry import (
    ChampionDecisionRecord,
    RegisteredModel,
    read_champion,
    register_model_and_decision,
)

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def test_model_ids_sort_by_time_and_differ_by_training_inputs():
    a = new_model_id("pairwise", NOW, "f" * 64, "inputs-a")
    b = new_model_id("pairwise", NOW, "f" * 64, "inputs-b")
    assert (
        a.startswith("pairwise-20260301T123000-")
        and len(a) == len("pairwise-20260301T123000-") + 10
    )
    assert a != b
    assert a == new_model_id("pairwise", NOW, "f" * 64, "inputs-a")


def test_promotion_decisions():
    policy = PromotionPolicy(metric="pair_accuracy", min_improvement=0.01)
    first = promotion_decision({"pair_accuracy": 0.7}, None, policy)
    assert (first.promoted, first.reason) == (True, "no champion yet")
    better = promotion_decision({"pair_accuracy": 0.75}, {"pair_accuracy": 0.7}, policy)
    assert better.promoted and (better.challenger_metric, better.champion_metric) == (0.75, 0.7)
    marginal = promotion_decision({"pair_accuracy": 0.705}, {"pair_accuracy": 0.7}, policy)
    assert not marginal.promoted and "does not beat" in marginal.reason
    unmeasured = promotion_decision({"pair_accuracy": None}, {"pair_accuracy": 0.7}, policy)
    assert not unmeasured.promoted and unmeasured.champion_metric == 0.7


def trained(world, kind: str = "pairwise", reverse: bool = False) -> ScoringBundle:
    """A bundle trained on the first 70% of requests; `reverse` swaps every pair (a worse model)."""
    split = split_requests_by_time(world.generations, 0.7)
    pairs = split.train(world.pairs)
    if reverse:
        pairs = pairs.rename(
            {
                "chosen_generation_id": "rejected_generation_id",
                "rejected_generation_id": "chosen_generation_id",
            }
        )
    return train_bundle(kind, split.train(world.generations), world.labels, pairs)


def test_artifact_round_trip_checks_sha256_and_types(world, tmp_path):
    bundle = trained(world)
    path = tmp_path / "model.skops"
    sha = save_bundle(bundle, path)
    assert sha == file_sha256(path)
    loaded = load_bundle(path, sha)
    np.testing.assert_array_equal(loaded.score(world.generations), bundle.score(world.generations))
    assert loaded.feature_spec == bundle.feature_spec
    with pytest.raises(ValueError, match="refusing to load"):
        load_bundle(path, "0" * 64)
    with pytest.raises(FileNotFoundError):
        load_bundle(tmp_path / "missing.skops", sha)


class Intruder:
    """Not one of our model classes: an artifact holding it must not load."""


def test_artifact_with_a_foreign_type_is_refused(tmp_path):
    path = tmp_path / "foreign.skops"
    sio.dump({"payload": Intruder()}, path)
    with pytest.raises(ValueError, match="untrusted types: .*Intruder"):
        load_bundle(path, file_sha256(path))


def registered(model_id: str, bundle: ScoringBundle, world, path: str, sha: str) -> RegisteredModel:
    split = split_requests_by_time(world.generations, 0.7)
    return RegisteredModel(
        model_id=model_id,
        created_at=NOW,
        model_kind=bundle.kind,
        label_version="t1",
        feature_spec_hash=bundle.feature_spec.sha256,
        train_start=split.train_start,
        train_end=split.train_end,
        test_start=split.test_start,
        test_end=split.test_end,
        metrics={"evaluation": {"pair_accuracy": 0.9}},
        artifact_path=path,
        artifact_sha256=sha,
    )


def decide_and_record(con, world, model_id, bundle, tmp_path) -> ChampionDecisionRecord:
    """What `reelloop train` does for one challenger, without Prefect."""
    split = split_requests_by_time(world.generations, 0.7)
    champion = read_champion(con)
    champion_bundle = (
        load_bundle(champion.artifact_path, champion.artifact_sha256) if champion else None
    )
    decision, _ = challenge_champion(
        bundle.score,
        champion_bundle.score if champion_bundle else None,
        champion.train_end if champion else None,
        world,
        split,
    )
    path = tmp_path / f"{model_id}.skops"
    sha = save_bundle(bundle, path)
    record = ChampionDecisionRecord(
        model_id,
        NOW,
        decision.promoted,
        champion.model_id if champion else None,
        decision.challenger_metric,
        decision.champion_metric,
        decision.reason,
    )
    register_model_and_decision(con, registered(model_id, bundle, world, str(path), sha), record)
    return record


def test_a_worse_challenger_does_not_replace_the_champion(world, tmp_path):
    con = connect()
    first = decide_and_record(con, world, "good", trained(world), tmp_path)
    assert first.promoted and first.reason == "no champion yet"
    worse = decide_and_record(con, world, "worse", trained(world, reverse=True), tmp_path)
    assert not worse.promoted
    assert worse.previous_champion_id == "good"
    assert worse.challenger_metric < 0.5 < worse.champion_metric
    assert read_champion(con).model_id == "good"
    history = con.sql(
        "select model_id, promoted, previous_champion_id, reason from champion_history order by model_id"
    ).pl()
    assert history.rows() == [
        ("good", True, None, "no champion yet"),
        ("worse", False, "good", worse.reason),
    ]
    flags = dict(con.sql("select model_id, is_champion from model_registry").fetchall())
    assert flags == {"good": True, "worse": False}


def test_a_better_challenger_is_crowned_and_the_old_champion_stepped_down(world, tmp_path):
    con = connect()
    decide_and_record(con, world, "worse", trained(world, reverse=True), tmp_path)
    better = decide_and_record(con, world, "good", trained(world), tmp_path)
    assert better.promoted and better.previous_champion_id == "worse"
    assert better.challenger_metric > better.champion_metric
    assert read_champion(con).model_id == "good"
    champions = con.sql("select model_id from model_registry where is_champion").pl()
    assert champions.rows() == [("good",)]
    assert con.sql("select count(*) from champion_history").fetchall() == [(2,)]
