"""`reelloop serve`: every stage as a scheduled Prefect deployment, run from this process."""

from __future__ import annotations

import argparse

from flows.locking import WRITER_LIMIT_NAME
from flows.serve import SERVED_FLOWS, ServeConfig, ServePaths, serve_stages


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` verb."""
    parser = subparsers.add_parser(
        "serve",
        help="serve every stage as a scheduled Prefect deployment (needs PREFECT_API_URL)",
        description=(
            "Serve the stage flows as Prefect deployments with interval schedules and run "
            "them from this process until interrupted. Point PREFECT_API_URL at a Prefect "
            "server. Trigger a run with e.g. `prefect deployment run ingest/ingest`."
        ),
    )
    defaults = ServeConfig()
    parser.add_argument(
        "--landing", help="landing zone folder for ingest (default: landing/ beside --db)"
    )
    parser.add_argument("--export-dir", help="export folder (default: export/ beside --db)")
    parser.add_argument("--report-dir", help="report folder (default: report/ beside --db)")
    for stage, _ in SERVED_FLOWS:
        parser.add_argument(
            f"--{stage}-every",
            type=float,
            metavar="SECONDS",
            default=defaults.every_seconds(stage),
            help=f"{stage} schedule interval (default {defaults.every_seconds(stage):g})",
        )
    parser.add_argument(
        "--report-after-train",
        type=float,
        metavar="SECONDS",
        default=defaults.report_after_train_seconds,
        help=f"delay of the report after the daily train (default {defaults.report_after_train_seconds:g})",
    )
    parser.add_argument(
        "--only",
        help="comma-separated stages to serve (default: all), e.g. ingest,label",
    )
    parser.add_argument(
        "--prefect-writer-limit",
        action="store_true",
        help=(
            f"writers also take the Prefect global concurrency limit {WRITER_LIMIT_NAME} "
            "(created if missing; shows the writer in the UI; adds ~1-2 s per write)"
        ),
    )
    parser.add_argument(
        "--max-concurrent-runs",
        type=int,
        default=defaults.max_concurrent_runs,
        help="most flow runs this process runs at once (default: no limit; writers queue on the lock)",
    )
    parser.set_defaults(handler=serve_command)


def serve_config_from_args(args: argparse.Namespace) -> ServeConfig:
    every = {f"{stage}_every_seconds": getattr(args, f"{stage}_every") for stage, _ in SERVED_FLOWS}
    for name, value in every.items():
        if value <= 0:
            raise ValueError(
                f"--{name.removesuffix('_every_seconds')}-every must be > 0 (got {value:g})"
            )
    return ServeConfig(
        **every,
        report_after_train_seconds=args.report_after_train,
        max_concurrent_runs=args.max_concurrent_runs,
        use_writer_limit=args.prefect_writer_limit,
    )


def serve_command(args: argparse.Namespace) -> int:
    """Handler of `reelloop serve`: blocks, running scheduled and triggered runs, until interrupted."""
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    serve_stages(
        serve_config_from_args(args),
        ServePaths.resolve(args.db, args.landing, args.export_dir, args.report_dir),
        runner=getattr(args, "runner", "local"),
        dask_address=getattr(args, "dask_address", None),
        only=only,
    )
    return 0
