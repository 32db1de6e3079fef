"""What a verb prints: its stage's result as text, or with `--json` as one JSON document.

The JSON is the typed result itself (results/): dataclasses as objects, frames as lists of row
objects, paths and timestamps as strings, non-finite floats as null; scripts read it instead of
the text tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any, TypeVar

T = TypeVar("T")


def jsonable(value: Any) -> Any:
    """`value` as plain JSON types (recursively)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if hasattr(value, "to_dicts"):  # a polars frame, without importing polars here
        return [jsonable(row) for row in value.to_dicts()]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "get_secret_value"):
        return "**********"
    return str(value)


def as_json(result: Any) -> str:
    """The typed result as one indented JSON document."""
    return json.dumps(jsonable(result), indent=2, ensure_ascii=False)


def print_result(args: argparse.Namespace, result: T, text: Callable[[T], str]) -> None:
    """Print `result` as JSON with `--json`, else as `text(result)`."""
    print(as_json(result) if getattr(args, "json", False) else text(result), flush=True)
