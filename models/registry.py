"""Registry logic without storage: model ids and the champion/challenger promotion decision."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.evaluation import (
    EvaluationConfig,
    EvaluationData,
    RequestSplit,
    Scorer,
    evaluate_scorers,
)


@dataclass(frozen=True)
class PromotionPolicy:
    """A challenger replaces the champion only if `metric` (higher = better), measured for both on
    the same held-out window, beats the champion's by more than `min_improvement`."""

    metric: str = "pair_accuracy"
    min_improvement: float = 0.0


@dataclass(frozen=True)
class PromotionDecision:
    promoted: bool
    challenger_metric: float | None
    champion_metric: float | None
    reason: str


def new_model_id(
    kind: str, created_at: datetime, feature_spec_hash: str, training_fingerprint: str
) -> str:
    """`<kind>-<UTC time>-<10 hex>`: sortable by time, distinct for distinct training inputs."""
    token = hashlib.sha256(
        "|".join([kind, created_at.isoformat(), feature_spec_hash, training_fingerprint]).encode()
    ).hexdigest()[:10]
    return f"{kind}-{created_at:%Y%m%dT%H%M%S}-{token}"


def _usable(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def promotion_decision(
    challenger: Mapping[str, float | None],
    champion: Mapping[str, float | None] | None,
    policy: PromotionPolicy | None = None,
) -> PromotionDecision:
    """Promote when there is no champion, or the challenger beats it on the shared window."""
    policy = policy or PromotionPolicy()
    ours = challenger.get(policy.metric)
    if not _usable(ours):
        theirs = champion.get(policy.metric) if champion else None
        return PromotionDecision(
            False, None, theirs, f"challenger has no {policy.metric} on the held-out window"
        )
    if champion is None:
        return PromotionDecision(True, ours, None, "no champion yet")
    theirs = champion.get(policy.metric)
    if not _usable(theirs):
        return PromotionDecision(
            True, ours, None, f"champion has no {policy.metric} on the challenger's held-out window"
        )
    if ours > theirs + policy.min_improvement:
        return PromotionDecision(
            True, ours, theirs, f"{policy.metric} {ours:.4f} beats champion's {theirs:.4f}"
        )
    return PromotionDecision(
        False,
        ours,
        theirs,
        f"{policy.metric} {ours:.4f} does not beat champion's {theirs:.4f} by more than {policy.min_improvement}",
    )


def challenge_champion(
    challenger: Scorer,
    champion: Scorer | None,
    champion_train_end: datetime | None,
    data: EvaluationData,
    split: RequestSplit,
    config: EvaluationConfig | None = None,
    policy: PromotionPolicy | None = None,
) -> tuple[PromotionDecision, dict[str, Any]]:
    """Evaluate challenger and champion on the same held-out requests (the challenger's test split
    minus any request the champion trained on) and decide; also returns the compared metrics."""
    if champion is None:
        evaluation = evaluate_scorers({"challenger": challenger}, data, split, config)
        decision = promotion_decision(evaluation.metrics_of("challenger"), None, policy)
        return decision, {"window": evaluation.counts}
    window = split.restricted_to_after(champion_train_end, data.generations)
    if window.test_request_ids.len() == 0:
        reason = "no held-out request the champion did not train on"
        return PromotionDecision(False, None, None, reason), {"window": {"test_requests": 0}}
    evaluation = evaluate_scorers(
        {"challenger": challenger, "champion": champion}, data, window, config
    )
    champion_metrics = evaluation.metrics_of("champion")
    decision = promotion_decision(evaluation.metrics_of("challenger"), champion_metrics, policy)
    return decision, {"window": evaluation.counts, "champion": champion_metrics}
