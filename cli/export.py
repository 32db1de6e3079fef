"""`reelloop export --out DIR`: DPO / KTO / reward datasets in Hugging Face layout."""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime
from pathlib import Path

from cli.flows import run_stage
from cli.output import print_result
from features.export_config import NEGATIVE_MARGIN_RULES, ExportConfig
from features.export_schema import ALL_DATASETS
from results.export import ExportSummary


def parse_moment(text: str) -> datetime:
    """A date (YYYY-MM-DD, midnight UTC) or ISO-8601 timestamp (UTC if no offset)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or ISO timestamp: {text!r}") from exc


def comma_list(text: str) -> tuple[str, ...]:
    """`a,b, c` as ('a', 'b', 'c'); empty items are an error."""
    items = tuple(item.strip() for item in text.split(","))
    if not all(items):
        raise argparse.ArgumentTypeError(f"not a comma-separated list: {text!r}")
    return items


def summary_lines(summary: ExportSummary) -> list[str]:
    """Where the export is, rows per dataset and split, how DPO evidence merged, exclusions by reason."""
    lines = [
        f"export {summary.export_id} (label_version {summary.label_version}, as of {summary.as_of})",
        f"written to {summary.path}",
    ]
    for dataset, counts in summary.counts.items():
        split_text = "  ".join(f"{split} {n:>7}" for split, n in counts.items())
        lines.append(f"  {dataset:<7} {split_text}   {Path(summary.path) / dataset}")
    merging = summary.pair_merging
    if merging:
        lines.append(
            f"dpo evidence: {merging['evidence_rows']} rows read, {merging['evidence_rows_excluded']} "
            f"excluded, {merging['evidence_rows_merged']} merged into {merging['merged_pairs']} "
            f"pairs, {merging['pairs_excluded']} pairs excluded, {merging['exported_pairs']} exported"
        )
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
        "same_model_version": args.same_model_version,
        "model_versions": tuple(args.model_version or ()),
        "min_margin": args.min_margin,
        "max_pairs_per_prompt": args.max_pairs_per_prompt,
        "sources": args.sources,
        "max_contradiction": args.max_contradiction,
        "negative_margin": args.negative_margin,
        "datasets": args.datasets,
        "license": args.license,
        "license_note": args.license_note or ExportConfig.license_note,
        "language": args.language,
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

    defaults = ExportConfig()
    parser = subparsers.add_parser(
        "export",
        help="write DPO / KTO / reward preference datasets (Hugging Face layout)",
        description=(
            "Write OUT/dpo, OUT/kto, OUT/reward (Parquet train/test splits) and OUT/prompts (the prompt "
            "curriculum) as Hugging Face dataset folders with a README.md dataset card and manifest.json. "
            "DPO has one row per unordered pair (evidence merged); consent-filtered, flagged outputs never "
            "a training target, split by request. An existing OUT that holds a previous reelloop export is "
            "replaced atomically; any other non-empty OUT is refused, and so is an export that would "
            "leave a dataset empty (one line, exit 2)."
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
    register_dpo_options(parser, defaults)
    register_card_options(parser, defaults)
    parser.set_defaults(handler=run)


def register_dpo_options(parser: argparse.ArgumentParser, defaults: ExportConfig) -> None:
    """The options that shape the DPO pairs and the datasets written."""
    parser.add_argument(
        "--same-model-version",
        action="store_true",
        help="DPO: only pairs whose two videos come from the same model version",
    )
    parser.add_argument(
        "--model-version",
        action="append",
        default=None,
        metavar="V",
        help="only generations of this model version (repeatable; default: all)",
    )
    parser.add_argument(
        "--min-margin",
        type=float,
        default=None,
        help="DPO: only pairs with quality_score(chosen) - quality_score(rejected) >= this",
    )
    parser.add_argument(
        "--max-pairs-per-prompt",
        type=int,
        default=None,
        metavar="N",
        help="DPO: at most N pairs per prompt cluster, the most confident first",
    )
    parser.add_argument(
        "--sources",
        type=comma_list,
        default=(),
        metavar="S,...",
        help="DPO: only evidence from these sources, e.g. select,sibling (default: all)",
    )
    parser.add_argument(
        "--max-contradiction",
        type=float,
        default=defaults.max_contradiction,
        help="DPO: drop a pair when evidence against its merged direction is at least this "
        f"confident (default {defaults.max_contradiction})",
    )
    parser.add_argument(
        "--negative-margin",
        choices=NEGATIVE_MARGIN_RULES,
        default=defaults.negative_margin,
        help="DPO: keep (explained in the card) or drop pairs whose chosen video is labelled lower "
        f"(default {defaults.negative_margin})",
    )
    parser.add_argument(
        "--datasets",
        type=comma_list,
        default=defaults.datasets,
        metavar="D,...",
        help=f"datasets to write, of {','.join(ALL_DATASETS)} (default: all)",
    )


def register_card_options(parser: argparse.ArgumentParser, defaults: ExportConfig) -> None:
    """The dataset cards' license and language."""
    parser.add_argument(
        "--license",
        default=defaults.license,
        help=f"license id in the dataset cards (default {defaults.license}: user generations under "
        "the product's terms)",
    )
    parser.add_argument("--license-note", default=None, help="why that license (card prose)")
    parser.add_argument(
        "--language",
        type=comma_list,
        default=defaults.language,
        metavar="CODE,...",
        help=f"language codes of the prompts (default {','.join(defaults.language)})",
    )
