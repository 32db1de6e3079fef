"""Score: the champion's scores of new generations, of a new prompt, and of a request's candidates.

score: every generation the champion has not scored yet, in committed batches (a rerun resumes).
score_prompt: predicted quality of a prompt under each model version (no output exists yet).
score_prompt_file: the same for every prompt of a text file (one per line), scored in one batch.
rank_request: a request's candidates ordered by the champion's score, best first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from features.model_features import generation_frame
from pipelines.champion import Champion, read_current_champion, require_champion
from pipelines.publish import publish_if_stale
from pipelines.steps import DIRECT, IO_RETRY, StepRunner, step
from results.model import PromptBatchScores, PromptScores, RequestRanking, ScoreSummary
from warehouse.registry import insert_scores, read_request_generations, read_unscored_generations
from warehouse.resource import Warehouse

MAX_PROMPT_CHARS: int = 10_000  # the event contract's limit on a prompt


@dataclass(frozen=True)
class PlannedOutput:
    """The render settings of a video not generated yet (what score-prompt scores)."""

    duration_ms: int = 5000
    width: int | None = None
    height: int | None = None
    fps: float | None = None

    def check(self) -> None:
        """A one-line error for a length that cannot be rendered."""
        if self.duration_ms <= 0:
            raise ValueError(f"duration_ms must be > 0, got {self.duration_ms}")


@step(IO_RETRY)
def score_batch(warehouse: Warehouse, champion: Champion, batch_size: int) -> int:
    """Score up to `batch_size` generations the champion has not scored and store the scores."""
    with warehouse.writer(publish=False) as con:
        batch = read_unscored_generations(con, champion.record.model_id, batch_size)
        if batch.height == 0:
            return 0
        scores = champion.bundle.scores_frame(batch, champion.record.model_id)
        return insert_scores(con, scores, datetime.now(UTC))


@step(IO_RETRY)
def read_request(warehouse: Warehouse, request_id: str) -> pl.DataFrame:
    """A request's candidate generations with their current labels."""
    with warehouse.writer(publish=False) as con:
        return read_request_generations(con, request_id)


def score_generations(
    warehouse: Warehouse, batch_size: int = 100_000, runner: StepRunner = DIRECT
) -> ScoreSummary:
    """Score every generation the champion has not scored yet, in committed batches."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    champion = require_champion(runner.run(read_current_champion, warehouse))
    total = 0
    while scored := runner.run(score_batch, warehouse, champion, batch_size):
        total += scored
    runner.run(publish_if_stale, warehouse)
    runner.log.info("model %s scored %d new generation(s)", champion.record.model_id, total)
    return ScoreSummary(model_id=champion.record.model_id, scored=total)


def score_prompt(
    warehouse: Warehouse,
    prompt: str,
    model_versions: tuple[str, ...] = (),
    planned: PlannedOutput | None = None,
    runner: StepRunner = DIRECT,
) -> PromptScores:
    """Predicted quality of a new prompt under each model version (all the champion knows by
    default), best first."""
    planned = planned or PlannedOutput()
    if not prompt.strip():
        raise ValueError("the prompt is empty")
    planned.check()
    champion = require_champion(runner.run(read_current_champion, warehouse))
    ranked = scored_prompts(champion, [(1, prompt)], model_versions, planned).drop("line", "prompt")
    return PromptScores(model_id=champion.record.model_id, rows=ranked)


def scored_prompts(
    champion: Champion,
    prompts: list[tuple[int, str]],
    model_versions: tuple[str, ...],
    planned: PlannedOutput,
) -> pl.DataFrame:
    """line (as given with each prompt), prompt, model_version, predicted_quality, score and
    known (the champion saw the version in training), one row per prompt and version, each prompt's
    versions best first; every prompt is scored in one batch."""
    spec = champion.bundle.feature_spec
    versions = model_versions or spec.model_versions
    frame = pl.concat(
        [
            generation_frame(
                prompt,
                versions,
                duration_ms=planned.duration_ms,
                width=planned.width,
                height=planned.height,
                fps=planned.fps,
            ).with_columns(line=pl.lit(line, dtype=pl.Int64))
            for line, prompt in prompts
        ]
    )
    return (
        frame.select("line", "prompt", "model_version")
        .with_columns(
            predicted_quality=pl.Series(champion.bundle.predicted_quality(frame)),
            score=pl.Series(champion.bundle.score(frame)),
            known=pl.col("model_version").is_in(list(spec.model_versions)),
        )
        .sort(["line", "predicted_quality", "score"], descending=[False, True, True])
    )


def read_prompt_file(path: str | Path) -> list[tuple[int, str]]:
    """(line number, prompt) of each non-blank line of a UTF-8 text file; one-line errors for a
    missing or undecodable file, a file without prompts, and a prompt over the contract's length."""
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"prompt file not found: {source}")
    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source} is not UTF-8 text (byte {exc.start})") from exc
    prompts = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not prompts:
        raise ValueError(f"{source} holds no prompt (one prompt per line)")
    for number, prompt in prompts:
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ValueError(
                f"{source}:{number}: prompt of {len(prompt)} characters (limit {MAX_PROMPT_CHARS})"
            )
    return prompts


def score_prompt_file(
    warehouse: Warehouse,
    path: str,
    model_versions: tuple[str, ...] = (),
    planned: PlannedOutput | None = None,
    runner: StepRunner = DIRECT,
) -> PromptBatchScores:
    """Predicted quality of every prompt of a text file (one per line; blank lines skipped) under
    each model version; `line` is the prompt's line number in the file."""
    planned = planned or PlannedOutput()
    planned.check()
    prompts = read_prompt_file(path)
    champion = require_champion(runner.run(read_current_champion, warehouse))
    rows = scored_prompts(champion, prompts, model_versions, planned)
    return PromptBatchScores(model_id=champion.record.model_id, path=path, rows=rows)


def rank_request(
    warehouse: Warehouse, request_id: str, runner: StepRunner = DIRECT
) -> RequestRanking:
    """A request's candidates ordered by champion score (best first), with their current label."""
    champion = require_champion(runner.run(read_current_champion, warehouse))
    candidates = runner.run(read_request, warehouse, request_id)
    if candidates.height == 0:
        raise ValueError(f"no generations for request {request_id!r}")
    ranked = (
        candidates.select("generation_id", "model_version", "quality_score")
        .with_columns(
            score=pl.Series(champion.bundle.score(candidates)),
            predicted_quality=pl.Series(champion.bundle.predicted_quality(candidates)),
        )
        .sort(["score", "generation_id"], descending=[True, False])
        .with_row_index("rank", offset=1)
    )
    return RequestRanking(model_id=champion.record.model_id, request_id=request_id, rows=ranked)
