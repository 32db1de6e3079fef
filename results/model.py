"""What training, scoring and the preference model's queries returned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class ModelOutcome:
    """One model of a train run: registered (or already trained) and whether it was promoted."""

    model_id: str
    kind: str
    promoted: bool
    reason: str
    previous_champion_id: str | None
    artifact_path: str | None


@dataclass(frozen=True)
class TrainSummary:
    """A train run: the held-out evaluation table, metrics per scorer, the models, the champion."""

    table: str
    counts: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    models: tuple[ModelOutcome, ...]
    champion_id: str | None


@dataclass(frozen=True)
class ScoreSummary:
    """A score run: the champion that scored and how many generations it scored."""

    model_id: str
    scored: int


@dataclass(frozen=True)
class PromptScores:
    """A prompt's predicted quality per model version (model_version, predicted_quality, score, known)."""

    model_id: str
    rows: pl.DataFrame


@dataclass(frozen=True)
class PromptBatchScores:
    """Every prompt of a file scored per model version (line, prompt, model_version,
    predicted_quality, score, known)."""

    model_id: str
    path: str
    rows: pl.DataFrame


@dataclass(frozen=True)
class RequestRanking:
    """A request's candidates ranked by the champion (rank, generation_id, model_version, score, ...)."""

    model_id: str
    request_id: str
    rows: pl.DataFrame
