"""Access to the SQL files of the warehouse: one relation or statement per `.sql` file."""

from __future__ import annotations

from functools import cache
from importlib import resources

SQL_ROOT = resources.files("warehouse") / "sql"


@cache
def sql_text(name: str) -> str:
    """The text of `warehouse/sql/<name>.sql` (name may contain a sub-folder, e.g. `schema/0001_events`)."""
    path = SQL_ROOT.joinpath(*f"{name}.sql".split("/"))
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file warehouse/sql/{name}.sql")
    return path.read_text(encoding="utf-8")


def schema_migration_names() -> list[str]:
    """Migration files in `sql/schema/`, in the order they apply (their numeric prefix)."""
    folder = SQL_ROOT / "schema"
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))
