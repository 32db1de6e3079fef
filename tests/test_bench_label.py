"""The 10M label bench loads, before its timer, every module the label step imports inside its
functions: a one-off import would otherwise be timed as label work."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _function_level_imports(path: Path, packages: frozenset[str]) -> set[str]:
    """Modules of `packages` a file imports inside its functions (not at module level)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] in packages}


def test_the_label_bench_preloads_what_the_label_step_imports_when_it_runs() -> None:
    spec = importlib.util.spec_from_file_location("label_bench", REPO / "bench" / "label.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    lazy = _function_level_imports(REPO / "pipelines" / "label.py", bench.PROJECT_PACKAGES)
    assert lazy, "pipelines/label.py imports nothing inside its functions: the list may go"
    assert lazy <= set(bench.LABEL_MODULES)
