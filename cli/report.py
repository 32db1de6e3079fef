"""`reelloop report --out DIR`: the static HTML report."""

from __future__ import annotations

import argparse

from cli.flows import run_stage
from cli.output import print_result
from results.report import ReportSummary


def run(args: argparse.Namespace) -> int:
    """Handler of `reelloop report`."""
    from pipelines.report import write_report
    from warehouse.resource import Warehouse

    summary = run_stage(
        args,
        "flows.report:report_flow",
        lambda runner: write_report(Warehouse.at(args.db), args.out, args.truth, runner=runner),
        pick_task_runner=False,
        db_path=args.db,
        out_dir=args.out,
        truth_path=args.truth,
    )
    print_result(args, summary, format_report)
    return 0


def format_report(summary: ReportSummary) -> str:
    """What `reelloop report` prints."""
    return f"report: {summary.path} ({summary.bytes:,} bytes)"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` verb."""
    parser = sub.add_parser(
        "report",
        help="render a static HTML report of versions, prompts, funnel, biases, data health and the model",
        description=(
            "Write OUT/index.html: model-version comparison with confidence intervals and Holm-corrected "
            "tests, weakest prompt n-grams, engagement funnel, position/duration bias before and after "
            "labeling, data health, preference-model metrics, and (with --truth) labels against truth. "
            "The figures come from the report_* views, which stay in the warehouse for SQL."
        ),
    )
    parser.add_argument("--out", required=True, help="output folder (index.html is written there)")
    parser.add_argument(
        "--truth",
        default=None,
        help="truth parquet (generation_id, true_quality), e.g. SIMDIR/truth/generations.parquet",
    )
    parser.set_defaults(handler=run)
