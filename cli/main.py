"""The `reelloop` command line: `reelloop [GLOBAL OPTIONS] VERB [ARGS]`.

Only the verb the command line names is imported (`cli.verbs`), so `--help` and `sql` load
nothing they do not need. Global options may also follow the verb. Without a Prefect API
(`PREFECT_API_URL` unset and no `--prefect`) a verb runs its stage code directly in this
process; with one, the run is a flow run on that server. User errors print one line and exit
2; set REELLOOP_DEBUG=1 to see the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from cli.verbs import VERB_NAMES, VERBS

DEBUG_ENV = "REELLOOP_DEBUG"
DB_ENV = "REELLOOP_DB"
# global options that take a value: skipped when looking for the verb on the command line
VALUE_OPTIONS = frozenset({"--db", "--runner", "--dask-address"})


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit 2), for every verb."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class CliError(Exception):
    """A user error with a message fit to print as is."""


def add_global_options(parser: argparse.ArgumentParser, *, after_verb: bool = False) -> None:
    """`--db`, `-v`, `--runner`, `--dask-address`, `--prefect`, `--json`. After the verb they
    default to SUPPRESS, so one given there overrides the same option given before the verb."""
    from pipelines.runners import DASK_ADDRESS_ENV, RUNNER_ENV, RUNNERS, runner_from_env

    runner, address = runner_from_env()

    def default(value: object) -> object:
        return argparse.SUPPRESS if after_verb else value

    group = parser.add_argument_group("global options") if after_verb else parser
    group.add_argument(
        "--db",
        default=default(os.environ.get(DB_ENV, "reelloop.duckdb")),
        help=f"warehouse DuckDB file (env {DB_ENV}; default ./reelloop.duckdb)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="show Prefect and library logs (quiet by default: results, warnings, progress)",
    )
    group.add_argument(
        "--runner",
        choices=RUNNERS,
        default=default(runner),
        help=f"run partition work here or on a Dask cluster (env {RUNNER_ENV}; default local)",
    )
    group.add_argument(
        "--dask-address",
        default=default(address),
        metavar="tcp://HOST:PORT",
        help=(
            f"scheduler of a running Dask cluster for --runner dask (env {DASK_ADDRESS_ENV}); "
            "without it a temporary local cluster of 2 worker processes is started"
        ),
    )
    group.add_argument(
        "--prefect",
        action=argparse.BooleanOptionalAction,
        default=default(None),
        help=(
            "run the stage as a flow run on the Prefect API (PREFECT_API_URL, env or profile); "
            "default: only when PREFECT_API_URL is set in the environment, else directly here"
        ),
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print the stage's typed result as one JSON document instead of the text summary",
    )


def verb_on_command_line(argv: Sequence[str]) -> str | None:
    """The verb the command line names: the first word that is neither a global option nor the
    value of one."""
    skip_next = False
    for word in argv:
        if skip_next:
            skip_next = False
        elif word in VERB_NAMES:
            return word
        elif word in VALUE_OPTIONS:
            skip_next = True
        elif not word.startswith("-"):
            return None
    return None


def build_parser(*verbs: str) -> argparse.ArgumentParser:
    """The parser: global options, then a full sub-parser for each verb in `verbs` (a one-line
    entry for the others, enough for `reelloop --help`)."""
    parser = OneLineErrorParser(
        prog="reelloop",
        description="reelloop: engagement -> debiased labels -> preference model -> datasets.",
        epilog="Global options go before the verb (after it they are accepted too).",
    )
    add_global_options(parser)
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        if verb.name in verbs:
            module_name, _, function = verb.register.partition(":")
            getattr(importlib.import_module(module_name), function)(sub)
            add_global_options(sub.choices[verb.name], after_verb=True)
        else:
            sub.add_parser(verb.name, help=verb.help, add_help=False)
    return parser


def configure_logging(verbose: bool) -> None:
    """Quiet by default (warnings and errors only; Prefect's too); `-v` shows every INFO line."""
    level = logging.INFO if verbose else logging.WARNING
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", logging.getLevelName(level))
    if not verbose:  # Dask reads its config when imported: its INFO lines (a LocalCluster's) too
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    detailed = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=detailed if verbose else "reelloop: %(message)s")


def user_error_types() -> tuple[type[BaseException], ...]:
    """Errors that are the user's (paths, values, a busy or foreign database file): one line."""
    # OSError covers the file system's answers to user-given paths: missing, not a directory,
    # permission, name too long, disk full
    types: list[type[BaseException]] = [CliError, ValueError, OSError]
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None:
        types.append(duckdb.IOException)
    return tuple(types)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `reelloop` console script."""
    # no network here: Prefect's telemetry would only log failed lookups
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    words = list(sys.argv[1:] if argv is None else argv)
    verb = verb_on_command_line(words)
    parser = build_parser(*([verb] if verb else []))
    args = parser.parse_args(words)
    configure_logging(args.verbose)
    try:
        return int(args.handler(args) or 0)
    except user_error_types() as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"reelloop {args.verb}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reelloop: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
