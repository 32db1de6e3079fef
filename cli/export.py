"""`reelloop export --out DIR`: DPO / KTO / reward datasets in Hugging Face layout."""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime
from pathlib import Path

from cli.flows import run_stage
from cli.output import print_result
from results.export import ExportSummary


def parse_moment(text: str) -> datetime:
    """A date (YYYY-MM-DD, midnight UTC) or ISO-8601 timestamp (UTC if no offset)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or ISO timestamp: {text!r}") from exc


def summary_lines(summary: ExportSummary) -> list[str]:
    """Where the export is, rows per dataset and split, exclusions by reason."""
    lines = [
        f"export {summary.export_id} (label_version {summary.label_version}, as of {summary.as_of})",
        f"written to {summary.path}",
    ]
    for dataset, counts in summary.counts.items():
        split_text = "  ".join(f"{split} {n:>7}" for split, n in counts.items())
        lines.append(f"  {dataset:<7} {split_text}   {Path(summary.path) / dataset}")
    lines.append("excluded rows by reason:")
    for dataset, excluded in summary.excluded.items():
        text = ", ".join(f"{reason} {n}" for reason, n in sorted(excluded.items())) or "none"
        lines.append(f"  {dataset:<7} {text}")
    return lines


def check_writable_parent(target: Path) -> None:
    """The export is written in a hidden folder beside `target` and swapped in: make sure that
    folder can be created there, so a bad --out is one line naming it, not a failed write."""
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{target.name}.probe-", dir=parent):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OSError(f"cannot write the export to {target}: {reason} ({parent})") from None


def run(args: argparse.Namespace) -> int:
    """Handler of `reelloop export`."""
    from features.export import ExportConfig
    from pipelines.dataset_files import check_replaceable
    from pipelines.export import export_datasets
    from warehouse.resource import Warehouse

    if not Path(args.db).is_file():
        raise FileNotFoundError(
            f"warehouse {args.db} not found (run `reelloop ingest` and `reelloop label` first)"
        )
    check_replaceable(Path(args.out).absolute())  # user errors before the run starts
    check_writable_parent(Path(args.out).absolute())
    parameters = {
        "since": args.since,
        "until": args.until,
        "min_confidence": args.min_confidence,
        "test_fraction": args.test_fraction,
        "report_threshold": args.report_threshold,
    }
    config = ExportConfig(**parameters)  # a bad value is a one-line error before the run starts
    summary = run_stage(
        args,
        "flows.export:export_flow",
        lambda runner: export_datasets(Warehouse.at(args.db), args.out, config, runner),
        pick_task_runner=False,
        db_path=args.db,
        out_dir=args.out,
        **parameters,
    )
    print_result(args, summary, format_export)
    return 0


def format_export(summary: ExportSummary) -> str:
    """What `reelloop export` prints."""
    return "\n".join(summary_lines(summary))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` verb."""
    from features.export import ExportConfig

    defaults = ExportConfig()
    parser = subparsers.add_parser(
        "export",
        help="write DPO / KTO / reward preference datasets (Hugging Face layout)",
        description=(
            "Write OUT/dpo, OUT/kto and OUT/reward as Hugging Face dataset folders (Parquet train/test "
            "splits, README.md dataset card, manifest.json). Consent-filtered, flagged outputs never a "
            "training target, split by request. An existing OUT that holds a previous reelloop export is "
            "replaced atomically; any other non-empty OUT is refused."
        ),
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--since",
        type=parse_moment,
        default=None,
        help="only generations created at or after this date/time (UTC)",
    )
    parser.add_argument(
        "--until",
        type=parse_moment,
        default=None,
        help="only generations created before this date/time (UTC; exclusive)",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=defaults.min_confidence,
        help=f"DPO: keep pairs with confidence >= this (default {defaults.min_confidence})",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=defaults.test_fraction,
        help=f"share of requests in the test split (default {defaults.test_fraction})",
    )
    parser.add_argument(
        "--report-threshold",
        type=int,
        default=defaults.report_threshold,
        help=f"generations with this many viewer reports count as flagged (default {defaults.report_threshold})",
    )
    parser.set_defaults(handler=run)
