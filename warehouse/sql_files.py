"""The warehouse's SQL files: one relation, or one named operation of ordered statements, per file.

A relation file (dbt style: import CTEs -> logic -> final select) is read whole with `sql_text`.
An operation file holds its statements in the order they run, each under a `-- name: <block>`
line; `sql_statements` returns them in that order and `sql_statement` one of them by name.
Every file begins with a header comment saying what it is and which registered inputs it reads.
File names are always literal strings at the call site, so grep finds every caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

SQL_ROOT = resources.files("warehouse") / "sql"
BLOCK_MARKER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class SqlStatement:
    """One named statement of an operation file."""

    name: str
    text: str


@cache
def sql_text(name: str) -> str:
    """The text of `warehouse/sql/<name>.sql` (name may contain a sub-folder, e.g. `label/pairs`)."""
    path = SQL_ROOT.joinpath(*f"{name}.sql".split("/"))
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file warehouse/sql/{name}.sql")
    return path.read_text(encoding="utf-8")


@cache
def sql_statements(name: str) -> tuple[SqlStatement, ...]:
    """The named statements of the operation file `name`, in file order (text before the first
    `-- name:` line is the file's header and belongs to no statement)."""
    text = sql_text(name)
    markers = list(BLOCK_MARKER.finditer(text))
    if not markers:
        raise ValueError(f"warehouse/sql/{name}.sql has no `-- name:` blocks")
    statements = []
    for marker, following in zip(markers, [*markers[1:], None], strict=True):
        end = following.start() if following is not None else len(text)
        statements.append(SqlStatement(marker.group(1), text[marker.end() : end].strip()))
    names = [s.name for s in statements]
    if len(set(names)) != len(names):
        raise ValueError(f"warehouse/sql/{name}.sql repeats a block name: {', '.join(names)}")
    return tuple(statements)


def sql_statement(name: str, block: str) -> str:
    """The statement named `block` of the operation file `name`."""
    for statement in sql_statements(name):
        if statement.name == block:
            return statement.text
    raise KeyError(f"warehouse/sql/{name}.sql has no block named {block!r}")


def schema_migration_names() -> list[str]:
    """Migration files in `sql/schema/`, in the order they apply (their numeric prefix)."""
    folder = SQL_ROOT / "schema"
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))
