"""Every SQL file and named block the warehouse code names exists (a typo would surface only when that
rarely-run path runs, e.g. a compaction or the table_copy snapshot)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from warehouse import erase, label_store, snapshot
from warehouse.sql_files import SQL_ROOT, sql_statements

REPO = Path(__file__).resolve().parents[2]
READERS = {"sql_text": 1, "query": 2, "sql_statement": 2, "sql_statements": 1, "run_statement": 3}


def literal_calls() -> list[tuple[str, str, str | None]]:
    """(where, file name, block or None) of each call naming a SQL file with string literals."""
    found = []
    for path in sorted([*(REPO / "warehouse").glob("*.py"), *(REPO / "flows").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in READERS:
                continue
            args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
            offset = 0 if name in ("sql_text", "sql_statement", "sql_statements") else 1
            file_name = args[offset] if len(args) > offset else None
            if not isinstance(file_name, str) or "/" not in file_name and name == "query":
                continue
            block = args[offset + 1] if name in ("sql_statement", "run_statement") else None
            where = f"{path.relative_to(REPO)}:{node.lineno}"
            found.append((where, file_name, block if isinstance(block, str) else None))
    return found


def block_names(name: str) -> set[str]:
    return {statement.name for statement in sql_statements(name)}


def test_every_literal_sql_name_in_the_code_exists() -> None:
    calls = literal_calls()
    assert len(calls) > 60, "the scan found too few calls: the pattern is stale"
    for where, name, block in calls:
        assert SQL_ROOT.joinpath(*f"{name}.sql".split("/")).is_file(), f"{where}: no {name}.sql"
        if block is not None:
            assert block in block_names(name), f"{where}: {name}.sql has no block {block}"


@pytest.mark.parametrize(
    ("operation", "blocks"),
    [
        ("label/replace_state", label_store.TOUCHED_ROW_TABLES.values()),
        ("label/replace_state", label_store.FIT_TABLES.values()),
        ("erase/erase_subject", erase.DELETE_BLOCKS.values()),
        ("snapshot/trim_copy", snapshot.DROP_BLOCKS.values()),
    ],
)
def test_every_block_an_allowlist_names_exists(operation: str, blocks) -> None:
    assert set(blocks) <= block_names(operation)
