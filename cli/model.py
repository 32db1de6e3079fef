"""`reelloop train | score | score-prompt | rank`: the preference model's verbs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cli.flows import run_stage
from cli.output import print_result
from results.model import (
    PromptBatchScores,
    PromptScores,
    RequestRanking,
    ScoreSummary,
    TrainSummary,
)

if TYPE_CHECKING:
    import polars as pl

RANK_COLUMNS = [
    "rank",
    "generation_id",
    "model_version",
    "score",
    "predicted_quality",
    "quality_score",
]
PROMPT_COLUMNS = ["model_version", "predicted_quality", "score", "known"]
PROMPT_FILE_COLUMNS = ["line", "prompt", "model_version", "predicted_quality", "score", "known"]
PROMPT_TABLE_CHARS = 60  # a table cell shows at most this much of a prompt (CSV has all of it)


def format_rows(rows: pl.DataFrame, columns: list[str]) -> str:
    """Rows as an aligned text table (floats to 4 decimals, null as '-')."""
    from features.label_evaluation import format_table

    return format_table(rows.select(columns), float_digits=4)


def format_train_summary(summary: TrainSummary) -> str:
    """The held-out table, each model's promotion verdict, and the champion."""
    lines = [summary.table]
    for model in summary.models:
        verdict = "PROMOTED to champion" if model.promoted else "not promoted"
        lines.append(f"{model.model_id}: {verdict} ({model.reason})")
    lines.append(f"champion: {summary.champion_id}")
    return "\n".join(lines)


def format_score_summary(summary: ScoreSummary) -> str:
    return f"model {summary.model_id} scored {summary.scored} new generation(s)"


def format_prompt_scores(scores: PromptScores) -> str:
    return f"champion {scores.model_id}\n" + format_rows(scores.rows, PROMPT_COLUMNS)


def format_prompt_batch(scores: PromptBatchScores, output: str) -> str:
    """Every prompt of the file per model version: CSV (whole prompts) or an aligned table."""
    import polars as pl

    rows = scores.rows.select(PROMPT_FILE_COLUMNS)
    if output == "csv":
        return rows.write_csv(float_precision=6).rstrip("\n")
    shortened = rows.with_columns(
        pl.when(pl.col("prompt").str.len_chars() > PROMPT_TABLE_CHARS)
        .then(pl.col("prompt").str.slice(0, PROMPT_TABLE_CHARS - 1) + "…")
        .otherwise(pl.col("prompt"))
    )
    return f"champion {scores.model_id}, prompts of {scores.path}\n" + format_rows(
        shortened, PROMPT_FILE_COLUMNS
    )


def format_ranking(ranking: RequestRanking) -> str:
    return f"request {ranking.request_id} ranked by champion {ranking.model_id}\n" + format_rows(
        ranking.rows, RANK_COLUMNS
    )


def require_db(db_path: str) -> None:
    if not Path(db_path).is_file():
        raise FileNotFoundError(
            f"warehouse {db_path} not found (run `reelloop ingest` and `reelloop label` first)"
        )


def run_train(args: argparse.Namespace) -> int:
    from models.training import MODEL_KINDS
    from pipelines.train import train_config, train_models
    from warehouse.resource import Warehouse

    require_db(args.db)
    values = {
        "kinds": MODEL_KINDS if args.kind == "both" else (args.kind,),
        "train_fraction": args.train_fraction,
        "pairwise_c": args.pairwise_c,
        "pointwise_alpha": args.pointwise_alpha,
        "min_improvement": args.min_improvement,
        "artifacts_dir": args.artifacts,
    }
    config = train_config(**values)
    summary = run_stage(
        args,
        "flows.model:train_flow",
        lambda runner: train_models(Warehouse.at(args.db), config, args.truth, runner),
        db_path=args.db,
        truth_path=args.truth,
        **values,
    )
    print_result(args, summary, format_train_summary)
    return 0


def run_score(args: argparse.Namespace) -> int:
    from pipelines.score import score_generations
    from warehouse.resource import Warehouse

    require_db(args.db)
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, not {args.batch_size}")
    summary = run_stage(
        args,
        "flows.model:score_flow",
        lambda runner: score_generations(Warehouse.at(args.db), args.batch_size, runner),
        pick_task_runner=False,
        db_path=args.db,
        batch_size=args.batch_size,
    )
    print_result(args, summary, format_score_summary)
    return 0


def run_score_prompt(args: argparse.Namespace) -> int:
    from pipelines.score import PlannedOutput, read_prompt_file, score_prompt, score_prompt_file
    from warehouse.resource import Warehouse

    if (args.prompt is None) == (args.file is None):
        raise ValueError("give either a PROMPT or --file PROMPTS.txt")
    require_db(args.db)
    if args.prompt is not None and not args.prompt.strip():
        raise ValueError('the prompt is empty: give the text to score, e.g. "a fox in the snow"')
    planned = {
        "duration_ms": args.duration_ms,
        "width": args.width,
        "height": args.height,
        "fps": args.fps,
    }
    versions = tuple(args.model_version or ())
    if args.file is not None:
        read_prompt_file(args.file)  # a bad file is a one-line error before the run starts
        prompts_path = str(Path(args.file).absolute())
        batch = run_stage(
            args,
            "flows.model:score_prompt_file_flow",
            lambda runner: score_prompt_file(
                Warehouse.at(args.db), prompts_path, versions, PlannedOutput(**planned), runner
            ),
            pick_task_runner=False,
            db_path=args.db,
            prompts_path=prompts_path,
            model_versions=versions,
            **planned,
        )
        print_result(args, batch, lambda scores: format_prompt_batch(scores, args.format))
        return 0
    scores = run_stage(
        args,
        "flows.model:score_prompt_flow",
        lambda runner: score_prompt(
            Warehouse.at(args.db), args.prompt, versions, PlannedOutput(**planned), runner
        ),
        pick_task_runner=False,
        db_path=args.db,
        prompt=args.prompt,
        model_versions=versions,
        **planned,
    )
    warn_unknown_versions(scores)
    print_result(args, scores, format_prompt_scores)
    return 0


def warn_unknown_versions(scores: PromptScores) -> None:
    """Say on stderr which asked-for model versions the champion never saw in training."""
    unknown = scores.rows.filter(~scores.rows["known"])["model_version"].to_list()
    if unknown:
        print(
            f"reelloop score-prompt: warning: the champion never saw model version(s) "
            f"{', '.join(unknown)} in training: their figures use no version effect",
            file=sys.stderr,
        )


def run_rank(args: argparse.Namespace) -> int:
    from pipelines.score import rank_request
    from warehouse.resource import Warehouse

    require_db(args.db)
    ranking = run_stage(
        args,
        "flows.model:rank_flow",
        lambda runner: rank_request(Warehouse.at(args.db), args.request_id, runner),
        pick_task_runner=False,
        db_path=args.db,
        request_id=args.request_id,
    )
    print_result(args, ranking, format_ranking)
    return 0


def register_train(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` verb."""
    from models.evaluation import EvaluationConfig
    from models.registry import PromotionPolicy
    from models.training import MODEL_KINDS, TrainingConfig

    defaults = TrainingConfig()
    parser = subparsers.add_parser(
        "train",
        help="train the preference model, evaluate it beside baselines, register it, maybe promote it",
        description=(
            "Train on the first --train-fraction of requests by time, evaluate on the rest (preference-pair "
            "accuracy, sibling accuracy against labels, Spearman, calibration; with --truth also accuracy "
            "against the simulator's true quality), print the table beside baselines, save the artifact, "
            "register it and promote it only if it beats the champion on the same held-out window."
        ),
    )
    parser.add_argument(
        "--artifacts", default=None, help="artifact folder (default: <db dir>/artifacts)"
    )
    parser.add_argument(
        "--truth", default=None, help="truth/generations.parquet of a simulation (evaluation only)"
    )
    parser.add_argument(
        "--kind",
        choices=[*MODEL_KINDS, "both"],
        default="pairwise",
        help="model kind(s) to train (default pairwise)",
    )
    parser.add_argument(
        "--train-fraction",
        type=float,
        default=EvaluationConfig.train_fraction,
        help="share of requests (earliest first) to train on (default 0.7)",
    )
    parser.add_argument(
        "--pairwise-c",
        type=float,
        default=defaults.pairwise_c,
        help=f"inverse L2 strength of the pairwise model (default {defaults.pairwise_c})",
    )
    parser.add_argument(
        "--pointwise-alpha",
        type=float,
        default=defaults.pointwise_alpha,
        help=f"ridge strength of the pointwise model (default {defaults.pointwise_alpha})",
    )
    parser.add_argument(
        "--min-improvement",
        type=float,
        default=PromotionPolicy.min_improvement,
        help="margin by which a challenger must beat the champion's held-out pair accuracy",
    )
    parser.set_defaults(handler=run_train)


def register_score(subparsers: argparse._SubParsersAction) -> None:
    """Add the `score` verb."""
    parser = subparsers.add_parser(
        "score",
        help="score generations not yet scored by the champion into `scores`",
        description="Score, in batches, every generation the current champion has not scored yet.",
    )
    parser.add_argument(
        "--batch-size", type=int, default=100_000, help="generations per batch (default 100000)"
    )
    parser.set_defaults(handler=run_score)


def register_score_prompt(subparsers: argparse._SubParsersAction) -> None:
    """Add the `score-prompt` verb."""
    parser = subparsers.add_parser(
        "score-prompt",
        help="predicted quality of a new prompt (or a file of prompts) under each model version",
        description=(
            "Predicted quality_score (champion score mapped by its calibration on training labels) of a "
            "prompt for each model version; no output exists yet, so no embedding is used. With --file, "
            "every non-blank line of a UTF-8 text file is a prompt, scored in one batch and printed as a "
            "table or CSV with its line number."
        ),
    )
    parser.add_argument("prompt", nargs="?", default=None, help="the prompt text")
    parser.add_argument(
        "--file", default=None, metavar="PROMPTS.txt", help="score every line of this file instead"
    )
    parser.add_argument(
        "--format",
        choices=("table", "csv"),
        default="table",
        help="--file output: an aligned table (prompts shortened) or CSV (default table)",
    )
    parser.add_argument(
        "--model-version",
        action="append",
        default=None,
        help="a model version to score (repeatable; default: all the champion knows)",
    )
    parser.add_argument(
        "--duration-ms", type=int, default=5000, help="planned video length (default 5000)"
    )
    parser.add_argument("--width", type=int, default=None, help="planned width in pixels")
    parser.add_argument("--height", type=int, default=None, help="planned height in pixels")
    parser.add_argument("--fps", type=float, default=None, help="planned frame rate")
    parser.set_defaults(handler=run_score_prompt)


def register_rank(subparsers: argparse._SubParsersAction) -> None:
    """Add the `rank` verb."""
    parser = subparsers.add_parser(
        "rank",
        help="order a request's candidates by champion score",
        description="Print a request's candidate generations ordered by the champion's score, best first.",
    )
    parser.add_argument("request_id", help="the request whose candidates to rank")
    parser.set_defaults(handler=run_rank)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train`, `score`, `score-prompt` and `rank` verbs."""
    register_train(subparsers)
    register_score(subparsers)
    register_score_prompt(subparsers)
    register_rank(subparsers)
