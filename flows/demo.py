"""`reelloop demo`: the whole loop on a simulated landing zone.

simulate -> ingest -> label (+ evaluation against the simulator's truth) -> train -> score
-> export -> report, as sub-flows of one Prefect flow (one ephemeral server for the run).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, get_run_logger

from features.label_evaluation import format_table
from flows.export import export_flow, summary_lines
from flows.ingest import format_accounting, ingest_flow
from flows.label import evaluate_labels_flow, label_flow
from flows.model import score_flow, train_flow
from flows.report import report_flow
from flows.simulate import simulate_flow


@flow(name="demo")
def demo_flow(out_dir: str, db_path: str, requests: int = 2000, seed: int = 0) -> dict:
    """Run every stage of the loop in order on a fresh simulation; returns each stage's summary."""
    logger = get_run_logger()
    out = Path(out_dir)
    truth = str(out / "truth" / "generations.parquet")
    summaries: dict[str, dict] = {}
    summaries["simulate"] = simulate_flow(str(out), requests=requests, seed=seed)
    summaries["ingest"] = ingest_flow(landing_dir=str(out / "landing"), db_path=db_path)
    summaries["label"] = label_flow(db_path=db_path)
    summaries["evaluate"] = evaluate_labels_flow(db_path=db_path, truth_path=truth)
    summaries["train"] = train_flow(
        db_path=db_path, truth_path=truth, kinds=("pairwise", "pointwise")
    )
    summaries["score"] = score_flow(db_path=db_path)
    summaries["export"] = export_flow(db_path=db_path, out_dir=str(out / "datasets"))
    summaries["report"] = report_flow(
        db_path=db_path, out_dir=str(out / "report"), truth_path=truth
    )
    logger.info("demo finished: report at %s", summaries["report"]["path"])
    return summaries


def demo_text(summaries: dict[str, dict]) -> str:
    """What `reelloop demo` prints: the accounting, label quality, model evaluation, export, report."""
    evaluation = summaries["evaluate"]
    train = summaries["train"]
    parts = [
        "== ingest: files and rows loaded / duplicate / quarantined",
        format_accounting(summaries["ingest"]),
        "",
        "== labels vs the simulator's truth (Spearman rank correlation)",
        format_table(evaluation["ranks"]),
        "",
        "== preference pairs whose chosen side is truly better",
        format_table(evaluation["pairs"]),
        "",
        "== preference model: held-out evaluation beside baselines",
        train["table"],
        *(
            f"{m['model_id']}: {'promoted' if m['promoted'] else 'not promoted'} ({m['reason']})"
            for m in train["models"]
        ),
        f"scored {summaries['score']['scored']} generation(s) with {summaries['score']['model_id']}",
        "",
        "== export",
        *summary_lines(summaries["export"]),
        "",
        f"== report: {summaries['report']['path']} ({summaries['report']['bytes']:,} bytes)",
    ]
    return "\n".join(parts)


def run(args: argparse.Namespace) -> int:
    if args.requests < 1:
        raise ValueError("--requests must be at least 1")
    summaries = demo_flow(args.out, args.db, requests=args.requests, seed=args.seed)
    print(demo_text(summaries))
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
