"""Fuzzing the edges a user or an upstream app can reach: landing files and command-line arguments.

Landing files: wrong encodings (latin-1, UTF-16), huge lines, deep JSON, empty and zero-byte
files, corrupt Parquet and gzip, CSV without a header: ingest never raises and every row is
accounted for (rows_read = loaded + duplicate + quarantined, per file and in the tables).
Command line: random argv for every verb through `cli.main.main`: never a traceback, exit code
0 or 2, one error line. Prefect flows are replaced by a stub that records that validation let
the arguments through (running them is the flow tests' job). Also: identifiers reaching SQL come
from allowlists, never from f-strings.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import gzip
import io
import itertools
import json
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main as cli
from cli.verbs import VERB_NAMES
from warehouse.connection import connect
from warehouse.erase import ERASED_SUBJECT_REASON
from warehouse.ingest import FILE_REASON_CODES, REASON_CODES, IngestRules, ingest_file
from warehouse.snapshot import publish_snapshot

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 10, 5, tzinfo=UTC)
RULES = IngestRules(memory_limit=None, max_line_bytes=2048, raw_preview_chars=128)
NAMES = itertools.count()
FILE_CASES = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
CLI_CASES = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
SLOW_FILE_CASES = settings(
    max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck)
)
SLOW_CLI_CASES = settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
# row-level and whole-file reason codes: erased_subject comes from the erasure hook
KNOWN_REASONS = set(REASON_CODES) | set(FILE_REASON_CODES) | {ERASED_SUBJECT_REASON}
CASES_RUN: Counter[str] = Counter()

# ------------------------------------------------------------------------------------ landing files

EVENT = {
    "event_id": "e1",
    "event_type": "view",
    "generation_id": "g1",
    "viewer_id": "v1",
    "occurred_at": "2026-10-01T12:00:00+02:00",
    "watch_ms": 1200,
    "surface": "feed",
    "position": 3,
}
GENERATION = {
    "generation_id": "g1",
    "request_id": "r1",
    "creator_id": "c1",
    "prompt": "un café à Paris, été",
    "model_version": "m1",
    "created_at": "2026-10-01T10:00:00Z",
    "duration_ms": 4000,
}
TEMPLATES = {"events": EVENT, "generations": GENERATION}


def record(kind: str, n: int, text: str) -> dict[str, object]:
    """A valid record with distinct ids and a free-text field carrying `text`."""
    base = dict(TEMPLATES[kind])
    base["event_id" if kind == "events" else "generation_id"] = f"{kind[0]}{next(NAMES)}-{n}"
    base["session_id" if kind == "events" else "prompt"] = text or "x"
    return base


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30
)
deep = st.integers(1, 3000).map(lambda d: '{"a":' * d + "1" + "}" * d)
huge = st.integers(RULES.max_line_bytes, 4 * RULES.max_line_bytes).map(
    lambda n: json.dumps({**EVENT, "app_version": "v" * n})
)


@st.composite
def landing_files(draw: st.DrawFn) -> tuple[str, str, bytes, int | None]:
    """(kind, file name suffix, bytes, expected rows or None when the format decides)."""
    kind = draw(st.sampled_from(["events", "generations"]))
    shape = draw(
        st.sampled_from(
            [
                "latin-1",
                "utf-16",
                "utf-8-bom",
                "huge-lines",
                "deep-json",
                "junk",
                "empty",
                "empty-parquet",
                "corrupt-parquet",
                "parquet",
                "csv-no-header",
                "csv-latin-1",
                "corrupt-gzip",
            ]
        )
    )
    rows = [record(kind, i, draw(texts)) for i in range(draw(st.integers(0, 12)))]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    if shape in ("latin-1", "utf-16", "utf-8-bom"):
        codec = {"latin-1": "latin-1", "utf-16": "utf-16", "utf-8-bom": "utf-8-sig"}[shape]
        payload = "\n".join(lines).encode(codec, errors="replace")
        # ingest drops a leading UTF-8 BOM: a file holding only one holds no line
        lines_held = _count_lines(payload.removeprefix(b"\xef\xbb\xbf"))
        return kind, ".jsonl", payload, None if shape == "utf-16" else lines_held
    if shape in ("huge-lines", "deep-json", "junk"):
        extra = (
            st.one_of(huge, deep) if shape != "junk" else st.binary(max_size=60).map(_no_newline)
        )
        mixed = lines + [draw(extra) for _ in range(draw(st.integers(1, 4)))]
        mixed = draw(st.permutations(mixed))
        payload = b"\n".join(m if isinstance(m, bytes) else m.encode() for m in mixed)
        gz = draw(st.booleans())
        return (
            kind,
            ".jsonl.gz" if gz else ".jsonl",
            gzip.compress(payload) if gz else payload,
            (_count_lines(payload)),
        )
    if shape == "empty":
        return kind, draw(st.sampled_from([".jsonl", ".csv", ".parquet", ".jsonl.gz"])), b"", 0
    if shape == "empty-parquet":
        return kind, ".parquet", b"", 0
    if shape == "corrupt-parquet":
        return kind, ".parquet", b"PAR1" + draw(st.binary(min_size=1, max_size=200)), None
    if shape == "parquet":
        buffer = io.BytesIO()
        frame = (
            pl.DataFrame(rows)
            if rows
            else pl.DataFrame({"event_id": []}, schema={"event_id": pl.String})
        )
        frame.write_parquet(buffer)
        return kind, ".parquet", buffer.getvalue(), len(rows)
    if shape in ("csv-no-header", "csv-latin-1"):
        columns = list(TEMPLATES[kind])
        body = [",".join(_csv_cell(r[c]) for c in columns) for r in rows]
        if shape == "csv-latin-1":
            body = [",".join(columns), *body]
        payload = "\n".join(body).encode(
            "latin-1" if shape == "csv-latin-1" else "utf-8", errors="replace"
        )
        header_rows = 1 if shape == "csv-latin-1" else 0
        return kind, ".csv", payload, _count_lines(payload) - header_rows if payload else 0
    assert shape == "corrupt-gzip"
    return kind, ".jsonl.gz", gzip.compress("\n".join(lines).encode())[:-6] + b"\x00", None


def _count_lines(payload: bytes) -> int:
    return payload.count(b"\n") + (0 if payload.endswith(b"\n") or not payload else 1)


def _no_newline(data: bytes) -> bytes:
    return data.replace(b"\n", b" ")


def _csv_cell(value: object) -> str:
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if re.search(r'[",\n]', text) else text


def check_file_accounted(
    con: duckdb.DuckDBPyConnection, folder: Path, case: tuple[str, str, bytes, int | None]
) -> None:
    kind, suffix, payload, expected_rows = case
    path = folder / f"f{next(NAMES)}{suffix}"
    path.write_bytes(payload)
    source = f"fuzz/{path.name}"
    accounting = ingest_file(con, path, kind, RULES, source_file=source, ingested_at=NOW)
    CASES_RUN["landing files"] += 1
    assert accounting.rows_read == (
        accounting.rows_loaded + accounting.rows_duplicate + accounting.rows_quarantined
    ), accounting
    if expected_rows is not None and accounting.status == "loaded":
        assert accounting.rows_read == expected_rows, (accounting, expected_rows)
    table = kind
    loaded = con.execute(
        "select count(*) from events where source_file = ?"
        if table == "events"
        else "select count(*) from generations where source_file = ?",
        [source],
    ).fetchone()[0]
    quarantined = con.execute(
        "select count(*) filter (where row_number > 0), list(distinct reason_code) "
        "from quarantine where source_file = ?",
        [source],
    ).fetchone()
    assert loaded == accounting.rows_loaded
    assert quarantined[0] == accounting.rows_quarantined
    assert set(quarantined[1] or []) <= KNOWN_REASONS
    if accounting.status == "unreadable":
        assert suffix in (".parquet", ".jsonl.gz") and accounting.rows_read == 0
    CASES_RUN["rows accounted"] += accounting.rows_read


@FILE_CASES
@given(case=landing_files())
def test_odd_landing_files_never_crash_ingest_and_every_row_is_accounted(fuzz_warehouse, case):
    con, folder = fuzz_warehouse
    check_file_accounted(con, folder, case)


@pytest.mark.slow
@SLOW_FILE_CASES
@given(case=landing_files())
def test_odd_landing_files_many_examples(fuzz_warehouse, case):
    con, folder = fuzz_warehouse
    check_file_accounted(con, folder, case)


def test_a_utf16_file_is_quarantined_line_by_line(fuzz_warehouse) -> None:
    con, folder = fuzz_warehouse
    payload = "\n".join(json.dumps(record("events", i, "x")) for i in range(3)).encode("utf-16")
    path = folder / "utf16.jsonl"
    path.write_bytes(payload)
    accounting = ingest_file(con, path, "events", RULES, source_file="fuzz/utf16", ingested_at=NOW)
    assert (accounting.rows_read, accounting.rows_loaded) == (3, 0)
    # split on 0x0A, UTF-16 lines are not UTF-8 (odd bytes) or start with a NUL (not JSON)
    assert set(accounting.quarantined_by_reason) <= {"bad_encoding", "malformed_record"}
    assert accounting.rows_quarantined == 3


# ------------------------------------------------------------------------------------- command line


class FlowReached(Exception):
    """Raised by the stub flows: the arguments passed every check before the flow would start."""


class StubFlow:
    def with_options(self, **_: object) -> StubFlow:
        return self

    def __call__(self, *args: object, **kwargs: object) -> dict:
        raise FlowReached


def stub_flows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every verb run its stage as a flow, and replace every flow (and serve's API calls) by
    StubFlow."""
    import cli.flows
    import flows.serve

    monkeypatch.setattr(cli.flows, "flow_at", lambda target: StubFlow())
    monkeypatch.setattr(cli.flows, "uses_prefect", lambda args: True)
    monkeypatch.setattr(cli.flows, "require_prefect_api", lambda: None)

    monkeypatch.setattr(flows.serve, "_check_api", StubFlow())
    monkeypatch.setattr(flows.serve, "ensure_writer_limit", StubFlow())


@pytest.fixture(scope="module")
def cli_world() -> Iterator[dict[str, str]]:
    """Paths the fuzzer picks from: a real warehouse with a snapshot, a file, a folder, nothing."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        db = root / "wh" / "reelloop.duckdb"
        con = connect(db)
        con.execute(
            "insert into scores values ('g1', 'm1', 0.5, current_timestamp), ('g2', 'm1', 0.7, current_timestamp)"
        )
        con.close()
        publish_snapshot(db)
        (root / "landing" / "events").mkdir(parents=True)
        (root / "file.txt").write_text("not a folder", encoding="utf-8")
        yield {
            "db": str(db),
            "landing": str(root / "landing"),
            "file": str(root / "file.txt"),
            "folder": str(root),
            "missing": str(root / "missing" / "x"),
        }


def verb_options(parser: argparse.ArgumentParser) -> dict[str, tuple[list[str], list[bool]]]:
    """Each verb's option strings (with whether they take a value) and its positional count."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    table = {}
    for verb, subparser in sub.choices.items():
        options, positionals = [], 0
        for action in subparser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if action.option_strings:
                options.append((action.option_strings[-1], action.nargs != 0))
            else:
                positionals += 1
        table[verb] = (options, positionals)
    return table


PARSER = cli.build_parser(*VERB_NAMES)
VERBS = verb_options(PARSER)
plain_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24
)


def values(world: dict[str, str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "",
                "-1",
                "0",
                "1",
                "2.5",
                "nan",
                "inf",
                "-inf",
                "1e309",
                "99999999999999999999999",
                "2026-10-01",
                "2026-13-45T99:00:00",
                "not-a-date",
                "pairwise",
                "both",
                "ingest,label",
                "select count(*) from scores",
                "select * from nowhere",
                "drop table scores",
                "select 1; select 2",
                "-",
                "x" * 300,
                "ü∂ß",
                world["db"],
                world["landing"],
                world["file"],
                world["folder"],
                world["missing"],
            ]
        ),
        plain_text,
    )


@st.composite
def argvs(draw: st.DrawFn, world: dict[str, str]) -> list[str]:
    verb = draw(st.sampled_from(sorted(VERBS)))
    options, positionals = VERBS[verb]
    argv = ["--db", draw(st.sampled_from([world["db"], world["missing"], world["folder"]]))]
    if draw(st.booleans()):
        argv += ["--runner", draw(st.sampled_from(["local", "dask", "threads"]))]
    argv.append(verb)
    argv += [draw(values(world)) for _ in range(draw(st.integers(0, positionals + 1)))]
    for option, takes_value in draw(
        st.lists(st.sampled_from(options), max_size=4, unique=True) if options else st.just([])
    ):
        argv.append(option)
        if takes_value and draw(st.integers(0, 9)) > 0:  # sometimes the value is missing
            argv.append(draw(values(world)))
    if draw(st.integers(0, 19)) == 0:
        argv.append(draw(st.sampled_from(["--help", "--no-such-option", "-x"])))
    return argv


DOCUMENTED_EXIT_CODES = {"doctor": 1, "ingest": 3}
"""Verbs with an exit code of their own: doctor's FAIL findings, ingest's files not loaded."""


def run_cli(argv: list[str]) -> tuple[int | str, str]:
    """(exit code, or "flow" when the stub flow was reached; stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str = cli.main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except FlowReached:
            code = "flow"
    return code, err.getvalue()


def check_cli_case(argv: list[str]) -> str:
    code, stderr = run_cli(argv)
    CASES_RUN["cli argv"] += 1
    assert "Traceback" not in stderr, (argv, stderr)
    documented = {code for verb, code in DOCUMENTED_EXIT_CODES.items() if verb in argv}
    assert code in (0, 2, "flow", *documented), (argv, code, stderr)
    if code == 2:
        errors = [line for line in stderr.splitlines() if ": error: " in line]
        assert len(errors) == 1, (argv, stderr)
        assert errors[0].startswith("reelloop"), (argv, stderr)
    return str(code)


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    stub_flows(monkeypatch)


@CLI_CASES
@given(data=st.data())
def test_random_argv_never_gives_a_traceback(stubbed, cli_world, data) -> None:
    check_cli_case(data.draw(argvs(cli_world)))


@pytest.mark.slow
@SLOW_CLI_CASES
@given(data=st.data())
def test_random_argv_many_examples(stubbed, cli_world, data) -> None:
    check_cli_case(data.draw(argvs(cli_world)))


def test_user_errors_of_each_kind_are_one_line(stubbed, cli_world) -> None:
    db = cli_world["db"]
    cases = {
        ("--db", cli_world["missing"], "label"): 2,
        ("--db", db, "ingest", cli_world["missing"]): 2,
        ("--db", db, "ingest", cli_world["file"]): 2,
        ("--db", db, "sql", "drop table scores"): 2,
        ("--db", db, "sql", "select * from nowhere"): 2,
        ("--db", db, "sql", "select count(*) from scores"): 0,
        ("--db", db, "erase", "--viewer", ""): 2,
        ("--db", db, "serve", "--ingest-every", "-5"): 2,
        ("--db", db, "export", "--out", cli_world["file"]): 2,
        ("--db", db, "train", "--kind", "nope"): 2,
    }
    for argv, expected in cases.items():
        code, stderr = run_cli(list(argv))
        assert code == expected, (argv, code, stderr)
        if expected == 2:
            assert len([ln for ln in stderr.splitlines() if ": error: " in ln]) == 1, stderr


def test_report_cases_run() -> None:
    """Prints how many fuzz cases ran in this session (the figures of the report)."""
    print("fuzz cases:", dict(CASES_RUN))


def test_codecs_used_above_exist() -> None:
    for name in ("latin-1", "utf-16", "utf-8-sig"):
        assert codecs.lookup(name)
