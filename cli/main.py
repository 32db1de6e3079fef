"""The `reelloop` command line: `reelloop [GLOBAL OPTIONS] VERB [ARGS]`.

Each verb module registers its sub-command with `register(subparsers)` and sets a
`handler(args) -> int`. User errors print one line and exit 2; set
REELLOOP_DEBUG=1 to see the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import duckdb

from flows.runner import add_runner_options

VERB_MODULES: tuple[str, ...] = (
    "cli.simulate",
    "cli.ingest",
    "cli.label",
    "cli.export",
    "cli.model",
    "cli.report",
    "cli.demo",
    "cli.sql",
    "cli.serve",
    "cli.erase",
)

# OSError covers the file system's answers to user-given paths: missing, not a directory,
# permission, name too long, disk full
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    OSError,
    duckdb.IOException,
)


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit 2), for every verb."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class CliError(Exception):
    """A user error with a message fit to print as is."""


def build_parser() -> argparse.ArgumentParser:
    """The parser: global options, then one sub-parser per verb."""
    parser = OneLineErrorParser(
        prog="reelloop",
        description="reelloop: engagement -> debiased labels -> preference model -> datasets.",
    )
    parser.add_argument(
        "--db",
        default=os.environ.get("REELLOOP_DB", "reelloop.duckdb"),
        help="warehouse DuckDB file (env REELLOOP_DB; default ./reelloop.duckdb)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_runner_options(parser)
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for module_name in VERB_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `reelloop` console script."""
    # no network here: Prefect's telemetry would only log failed lookups
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except (CliError, *USER_ERRORS) as exc:
        if os.environ.get("REELLOOP_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"reelloop {args.verb}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reelloop: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
