"""`reelloop demo --out DIR`: the whole loop on a simulation, printing each stage's figures as
that stage ends."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.flows import run_stage
from cli.output import as_json, print_result


def stage_texts(out: Path) -> dict[type, tuple[str, Callable[[Any], str]]]:
    """Each stage result's type -> (heading, formatter): the figures `demo` prints."""
    from cli.export import format_export
    from cli.ingest import format_accounting
    from cli.label import format_label_evaluation, format_label_summary
    from cli.model import format_score_summary, format_train_summary
    from cli.report import format_report
    from cli.simulate import format_simulation
    from landing.simulate import SimulationSummary
    from results.export import ExportSummary
    from results.ingest import IngestSummary
    from results.label import LabelEvaluation, LabelSummary
    from results.model import ScoreSummary, TrainSummary
    from results.report import ReportSummary

    return {
        SimulationSummary: ("simulate", lambda s: format_simulation(s, out)),
        IngestSummary: ("ingest: files and rows loaded / duplicate / quarantined", format_accounting),
        LabelSummary: ("label", format_label_summary),
        LabelEvaluation: ("labels vs the simulator's truth", format_label_evaluation),
        TrainSummary: ("preference model: held-out evaluation beside baselines", format_train_summary),
        ScoreSummary: ("score", format_score_summary),
        ExportSummary: ("export", format_export),
        ReportSummary: ("report", format_report),
    }  # fmt: skip


def stage_printer(out: Path, json_lines: bool) -> Callable[[Any], None]:
    """The demo's `on_stage` listener: prints a stage's figures (or its JSON line) as it ends."""
    texts = stage_texts(out)

    def print_stage(result: Any) -> None:
        heading, text = texts[type(result)]
        if json_lines:
            print(as_json({"stage": heading.split(":")[0], "result": result}), flush=True)
        else:
            print(f"== {heading}\n{text(result)}\n", flush=True)

    return print_stage


def run(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo
    from warehouse.resource import Warehouse

    if args.requests < 1:
        raise ValueError("--requests must be at least 1")
    on_stage = stage_printer(Path(args.out), args.json)
    summary = run_stage(
        args,
        "flows.demo:demo_flow",
        lambda runner: run_demo(
            args.out, Warehouse.at(args.db), args.requests, args.seed, runner, on_stage
        ),
        pick_task_runner=False,
        out_dir=args.out,
        db_path=args.db,
        requests=args.requests,
        seed=args.seed,
        on_stage=on_stage,
    )
    if not args.json:
        print_result(args, summary, lambda done: f"demo finished: report at {done.report.path}")
    return 0


def register(parser_group: argparse._SubParsersAction) -> None:
    parser = parser_group.add_parser(
        "demo",
        help="run the whole loop on a simulated landing zone (simulate -> ... -> report)",
        description=(
            "Simulate a landing zone into OUT, then ingest, label, evaluate the labels against the "
            "simulator's truth, train and score the preference model, export DPO/KTO/reward datasets "
            "to OUT/datasets and write the report to OUT/report, printing each stage's figures as "
            "the stage ends (with --json: one JSON document per stage)."
        ),
    )
    parser.add_argument("--out", required=True, help="folder for the landing zone, exports, report")
    parser.add_argument("--requests", type=int, default=2000, help="simulated creator requests")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed")
    parser.set_defaults(handler=run)
