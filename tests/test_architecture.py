"""The house rules the code keeps, checked by reading it: SQL is never built with f-strings, and
identifiers formatted into SQL text are quoted from the catalog or constants. (The dependency
rules between packages are import-linter contracts in pyproject.toml, run by `make test`.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FSTRING_SQL = re.compile(r"""\b(?:execute|executemany|sql|query)\(\s*f["']""")
PACKAGES = (
    "cli",
    "common",
    "features",
    "flows",
    "landing",
    "models",
    "pipelines",
    "report",
    "results",
    "warehouse",
    "bench",
)


def test_no_sql_is_built_with_f_strings() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if FSTRING_SQL.search(line)
    ]
    assert offenders == [], (
        f"SQL built with f-strings (bind values; allowlist identifiers): {offenders}"
    )


# parameters that receive an already-quoted identifier from every caller (checked by reading the callers)
QUOTED_PARAMETERS: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("warehouse/snapshot.py", "_row_count", "relation"),
        ("warehouse/snapshot.py", "_write_info", "snapshot"),
    }
)


def _is_quoting_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("quoted")
    )


def _quoted_expression(node: ast.AST, quoted_names: set[str]) -> bool:
    if _is_quoting_call(node):
        return True
    if isinstance(node, ast.Name):
        return node.id in quoted_names
    if isinstance(node, ast.JoinedStr):
        return all(
            _quoted_expression(part.value, quoted_names)
            for part in node.values
            if isinstance(part, ast.FormattedValue)
        )
    return False


def test_identifiers_formatted_into_sql_are_quoted_from_the_catalog_or_constants() -> None:
    """Every `sql_text(...).format(name=...)` or `sql_statement(...).format(...)` passes a value
    made by a quoting function (or a name assigned from one in the same function, or a parameter
    every caller passes quoted)."""
    sites = 0
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            where = path.relative_to(REPO).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef):
                    continue
                quoted_names = {
                    target.id
                    for node in ast.walk(function)
                    if isinstance(node, ast.Assign) and _is_quoting_call(node.value)
                    for target in node.targets
                    if isinstance(target, ast.Name)
                } | {
                    arg.arg
                    for arg in function.args.args + function.args.kwonlyargs
                    if (where, function.name, arg.arg) in QUOTED_PARAMETERS
                }
                for node in ast.walk(function):
                    if not (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "format"
                        and isinstance(node.func.value, ast.Call)
                        and getattr(node.func.value.func, "id", None)
                        in ("sql_text", "sql_statement")
                    ):
                        continue
                    sites += 1
                    assert not node.args, f"{where}:{node.lineno}: positional format arguments"
                    for keyword in node.keywords:
                        assert _quoted_expression(keyword.value, quoted_names), (
                            f"{where}:{node.lineno}: {keyword.arg}= is not a quoted identifier"
                        )
    assert sites >= 10, "the check found too few formatted SQL sites: the pattern is stale"
