"""`reelloop demo --out DIR`: the whole loop on a simulation, printing each stage's figures."""

from __future__ import annotations

import argparse

from cli.export import summary_lines as export_lines
from cli.flows import run_flow
from cli.ingest import format_accounting
from results.demo import DemoSummary


def demo_text(summary: DemoSummary) -> str:
    """What `reelloop demo` prints: the accounting, label quality, model evaluation, export, report."""
    from features.label_evaluation import format_table

    train = summary.train
    parts = [
        "== ingest: files and rows loaded / duplicate / quarantined",
        format_accounting(summary.ingest),
        "",
        "== labels vs the simulator's truth (Spearman rank correlation)",
        format_table(summary.evaluate.ranks),
        "",
        "== preference pairs whose chosen side is truly better",
        format_table(summary.evaluate.pairs),
        "",
        "== preference model: held-out evaluation beside baselines",
        train.table,
        *(
            f"{m.model_id}: {'promoted' if m.promoted else 'not promoted'} ({m.reason})"
            for m in train.models
        ),
        f"scored {summary.score.scored} generation(s) with {summary.score.model_id}",
        "",
        "== export",
        *export_lines(summary.export),
        "",
        f"== report: {summary.report.path} ({summary.report.bytes:,} bytes)",
    ]
    return "\n".join(parts)


def run(args: argparse.Namespace) -> int:
    if args.requests < 1:
        raise ValueError("--requests must be at least 1")
    summary = run_flow(
        "flows.demo:demo_flow",
        args,
        pick_task_runner=False,
        out_dir=args.out,
        db_path=args.db,
        requests=args.requests,
        seed=args.seed,
    )
    print(demo_text(summary))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole loop on a simulated landing zone (simulate -> ... -> report)",
        description=(
            "Simulate a landing zone into OUT, then ingest, label, evaluate the labels against the "
            "simulator's truth, train and score the preference model, export DPO/KTO/reward datasets "
            "to OUT/datasets and write the report to OUT/report, printing each stage's figures."
        ),
    )
    parser.add_argument("--out", required=True, help="folder for the landing zone, exports, report")
    parser.add_argument("--requests", type=int, default=2000, help="simulated creator requests")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.set_defaults(handler=run)
