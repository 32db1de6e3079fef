"""`reelloop label` and `reelloop evaluate-labels`."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.flows import run_stage
from cli.output import print_result
from results.label import LabelEvaluation, LabelSummary


def format_label_summary(summary: LabelSummary) -> str:
    """What `reelloop label` prints."""
    if summary.up_to_date:
        return (
            f"label_version {summary.label_version}: labels are current, nothing new since the "
            "last run (0 labels written)"
        )
    lines = [
        f"label_version {summary.label_version}: "
        f"{summary.generations_reaggregated} generations re-aggregated"
        f"{' (full rebuild)' if summary.full_rebuild else ''}, "
        f"{summary.labels_written} labels written, "
        f"pairs +{summary.pairs_added} -{summary.pairs_removed}, "
        f"model {'refit' if summary.model_refit else 'kept'}, "
        f"{summary.abnormal_viewers} abnormal viewers excluded"
    ]
    if summary.labels is not None:
        counts = ", ".join(f"{k} {v}" for k, v in summary.label_counts.items())
        sources = ", ".join(f"{k} {v}" for k, v in summary.pair_counts.items())
        lines.append(f"labels: {summary.labels} ({counts}); pairs: {summary.pairs} ({sources})")
    lines.extend(diagnostics_lines(summary))
    return "\n".join(lines)


def diagnostics_lines(summary: LabelSummary) -> list[str]:
    """The label's truth-free checks beside the best raw rate, and the warning when it does worse."""
    if summary.diagnostics is None or summary.diagnostics.is_empty():
        return []
    label = summary.diagnostics.row(0, named=True)
    raws = summary.diagnostics.slice(1)
    parts = []
    for check in ("split_half", "temporal", "studio_agreement"):
        best = raws.drop_nulls(check).sort(check, descending=True).head(1)
        if label[check] is not None and best.height:
            parts.append(
                f"{check} {label[check]:.3f} (best raw {best[check][0]:.3f}, {best['score'][0]})"
            )
    lines = [f"diagnostics: {'; '.join(parts)}"] if parts else []
    if summary.warning:
        lines.append(f"WARNING: {summary.warning}")
    return lines


def format_label_evaluation(evaluation: LabelEvaluation) -> str:
    """What `reelloop evaluate-labels` prints: Spearman by scope, pair agreement by band."""
    from features.label_evaluation import format_table

    return "\n".join(
        [
            "Spearman rank correlation with true_quality",
            format_table(evaluation.ranks),
            "",
            "pairs whose chosen side is truly better, by source and confidence band",
            format_table(evaluation.pairs),
        ]
    )


def run_label(args: argparse.Namespace) -> int:
    """Handler of `reelloop label`."""
    if not Path(args.db).is_file():
        raise FileNotFoundError(f"warehouse {args.db} not found (run `reelloop ingest` first)")
    from pipelines.label import label
    from warehouse.resource import Warehouse

    summary = run_stage(
        args,
        "flows.label:label_flow",
        lambda runner: label(Warehouse.at(args.db), runner=runner),
        db_path=args.db,
    )
    print_result(args, summary, format_label_summary)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of `reelloop evaluate-labels`."""
    if not Path(args.db).is_file():
        raise FileNotFoundError(f"warehouse {args.db} not found")
    if not Path(args.truth).is_file():
        raise FileNotFoundError(f"truth file {args.truth} not found")
    from pipelines.evaluate import evaluate_labels
    from warehouse.resource import Warehouse

    evaluation = run_stage(
        args,
        "flows.label:evaluate_labels_flow",
        lambda runner: evaluate_labels(
            Warehouse.at(args.db), str(args.truth), args.min_impressions, runner
        ),
        pick_task_runner=False,
        db_path=args.db,
        truth_path=str(args.truth),
        min_impressions=args.min_impressions,
    )
    print_result(args, evaluation, format_label_evaluation)
    return 0


def register_label(subparsers: argparse._SubParsersAction) -> None:
    """Add the `label` verb."""
    label = subparsers.add_parser(
        "label",
        help="debiased quality labels and preference pairs from the ingested events",
        description=(
            "Turn ingested events into one quality label per generation (table labels) and "
            "preference pairs between siblings (table preference_pairs): bots and self-engagement "
            "excluded, feed-position and duration biases corrected, rates smoothed by empirical-Bayes "
            "Beta priors. Incremental: only generations touched by new events are re-aggregated and "
            "only changed rows are rewritten; a rerun with nothing new changes nothing."
        ),
    )
    label.set_defaults(handler=run_label)


def register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate-labels` verb."""
    evaluate = subparsers.add_parser(
        "evaluate-labels",
        help="compare labels and pairs with a simulation's ground truth",
        description=(
            "Print the Spearman correlation of quality_score with the simulator's true_quality "
            "(all generations and well-shown ones) next to naive like and view rates, and the share "
            "of pairs whose chosen side is truly better, by confidence band and source."
        ),
    )
    evaluate.add_argument(
        "--truth",
        required=True,
        type=Path,
        metavar="PATH",
        help="truth/generations.parquet of a simulation",
    )
    evaluate.add_argument(
        "--min-impressions",
        type=int,
        default=30,
        help="feed impressions a generation needs for the well-shown scope (default 30)",
    )
    evaluate.set_defaults(handler=run_evaluate)
