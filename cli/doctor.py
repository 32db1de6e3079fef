"""`reelloop doctor`: one line per finding about versions, the Prefect API and the warehouse;
exit 1 when something is wrong."""

from __future__ import annotations

import argparse
import os

from cli.output import print_result
from results.doctor import DoctorReport

LEVEL_MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def format_report(report: DoctorReport) -> str:
    """`LEVEL area: message`, one line per finding."""
    return "\n".join(f"{LEVEL_MARKS[f.level]} {f.area:<10} {f.message}" for f in report.findings)


def prefect_api_url(args: argparse.Namespace) -> str | None:
    """The API to check: PREFECT_API_URL from the environment, or with --prefect from the profile."""
    url = os.environ.get("PREFECT_API_URL")
    if url or not getattr(args, "prefect", None):
        return url or None
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def run(args: argparse.Namespace) -> int:
    from pipelines.api_client import ApiRetry
    from pipelines.doctor import DoctorConfig, run_doctor

    config = DoctorConfig(
        api_timeout_seconds=args.api_timeout, api_retry=ApiRetry(attempts=args.api_attempts)
    )
    report = run_doctor(args.db, prefect_api_url(args), config)
    print_result(args, report, format_report)
    return 0 if report.healthy else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `doctor` verb."""
    parser = subparsers.add_parser(
        "doctor",
        help="check versions, the Prefect API and the warehouse; one line per finding",
        description=(
            "Check the installed versions against reelloop's requirements and constraints.txt, the "
            "Prefect API (reachable, deployments, active schedules, last runs, late runs) when one "
            "is configured, and the warehouse (a DuckDB file, who holds the writer lock, schema "
            "version, snapshot age, last ingest and label) without opening it. Prints one line per "
            "finding; exits 1 when one is a problem (FAIL), 0 otherwise."
        ),
    )
    parser.add_argument(
        "--api-timeout",
        type=float,
        default=5.0,
        help="seconds to wait for the Prefect API (default 5)",
    )
    parser.add_argument(
        "--api-attempts",
        type=int,
        default=4,
        help="times to send an API request the server answers busy (429/502/503), waiting "
        "0.5 s, 1 s, 2 s... between them, 10 s at most in all (default 4; 1 never retries)",
    )
    parser.set_defaults(handler=run)
