"""`reelloop import-kuairand CSV --out LANDING_DIR`: the KuaiRand log as a reelloop landing zone."""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, get_run_logger, task

from landing.kuairand import ImportSummary, KuaiRandConfig, source_columns, write_landing_zone


# No retries: the task reads and writes local files; a failure is bad input or a bug, and
# repeating it would only repeat the error.
@task
def write_kuairand_landing_zone(csv_path: str, out_dir: str) -> ImportSummary:
    """Validate the CSV and write its events and generations under out_dir."""
    return write_landing_zone(csv_path, out_dir, KuaiRandConfig())


@flow(name="import-kuairand")
def import_kuairand_flow(csv_path: str, out_dir: str) -> dict[str, object]:
    """Map a KuaiRand standard-log CSV onto the event contract, into the landing zone out_dir."""
    logger = get_run_logger()
    summary = write_kuairand_landing_zone(csv_path, out_dir)
    logger.info(
        "KuaiRand %s: %d source rows -> events %s, %d generations, %d files in %s",
        csv_path,
        summary.source_rows,
        summary.events,
        summary.generations,
        len(summary.files),
        out_dir,
    )
    return summary.as_dict()


def run(args: argparse.Namespace) -> int:
    """CLI handler: check the input, run the flow, print the counts written per event type."""
    # Checked before the flow starts so a wrong path is a one-line error, not a failed run.
    source_columns(args.csv)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise NotADirectoryError(f"--out is not a directory: {args.out}")
    result = import_kuairand_flow(str(args.csv), str(args.out))
    print(f"KuaiRand import: {result['source_rows']} source rows -> {args.out}")
    events: dict[str, int] = result["events"]  # type: ignore[assignment]
    for event_type, count in events.items():
        print(f"  {event_type:<11} {count:>10}")
    print(f"  {'events':<11} {sum(events.values()):>10}")
    print(f"  {'generations':<11} {result['generations']:>10}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `import-kuairand` verb."""
    parser = subparsers.add_parser(
        "import-kuairand",
        help="map a KuaiRand log CSV onto the event contract, as a landing zone",
        description=(
            "Read a KuaiRand standard log CSV (KuaiRand, Gao et al. CIKM 2022, CC BY-SA 4.0) and "
            "write it as a reelloop landing zone: LANDING_DIR/events/ (Parquet, one file per UTC "
            "day and event type: impression, view, like, comment, share, dislike) and "
            "LANDING_DIR/generations/ (one record per video, training_consent = false). "
            "Rerunning on the same CSV rewrites the same files byte for byte."
        ),
    )
    parser.add_argument("csv", type=Path, help="KuaiRand log CSV (e.g. log_standard_*.csv)")
    parser.add_argument(
        "--out", required=True, type=Path, metavar="LANDING_DIR", help="landing zone root"
    )
    parser.set_defaults(handler=run)
