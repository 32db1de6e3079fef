"""Writers of landing-zone files: JSON Lines (plain or gzip), Parquet and CSV, byte-for-byte deterministic.

JSON Lines are built from "JSON value" columns: each cell holds the JSON text of one field's value, or
null when the field is absent (its key is then left out of the object). One file can so mix
representations row by row (an epoch integer here, an RFC 3339 string there) and carry deliberately
broken rows. CSV cannot hold lists or structs: such cells are written as JSON text. Every file is
written to a hidden temporary name and renamed, so a reader never sees a half-written file.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path
from typing import Literal

import polars as pl

FileFormat = Literal["jsonl", "jsonl.gz", "parquet", "csv"]
FILE_FORMATS: tuple[FileFormat, ...] = ("jsonl", "jsonl.gz", "parquet", "csv")


def file_format_of(path: str | Path) -> FileFormat:
    """The landing format a file name says it has (by its suffix)."""
    name = Path(path).name
    for file_format in sorted(FILE_FORMATS, key=len, reverse=True):
        if name.endswith("." + file_format):
            return file_format
    raise ValueError(f"not a landing file (want .jsonl, .jsonl.gz, .parquet or .csv): {name}")


def json_value_expr(name: str) -> pl.Expr:
    """The JSON text of column `name`'s value (strings escaped, lists and structs nested), null for null."""
    key_prefix = "{" + json.dumps(name) + ":"
    encoded = pl.struct(pl.col(name)).struct.json_encode()
    return (
        pl.when(pl.col(name).is_not_null())
        .then(encoded.str.strip_prefix(key_prefix).str.strip_suffix("}"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias(name)
    )


def json_value_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as the JSON text of its values; nulls stay null (the key will be omitted)."""
    return frame.select(json_value_expr(name) for name in frame.columns)


def text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as CSV cell text: scalars as text, lists and structs as JSON text, null stays null."""
    exprs = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List | pl.Array | pl.Struct):
            exprs.append(json_value_expr(name))
        else:
            exprs.append(pl.col(name).cast(pl.String))
    return frame.select(exprs)


def json_lines(values: pl.DataFrame, raw_line: pl.Series | None = None) -> pl.Series:
    """One JSON object per row from JSON value columns (null cells omitted); `raw_line`, where set, replaces the row."""
    fields = [pl.lit(json.dumps(name) + ":") + pl.col(name) for name in values.columns]
    body = pl.concat_str(fields, separator=",", ignore_nulls=True) if fields else pl.lit("")
    line = pl.lit("{") + body + pl.lit("}")
    if raw_line is not None:
        values = values.with_columns(raw_line.alias("__raw_line"))
        line = pl.coalesce(pl.col("__raw_line"), line)
    return values.select(line.alias("line")).to_series()


def _write_bytes_atomically(path: Path, payload: bytes) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)
    return len(payload)


def write_jsonl(
    lines: pl.Series, path: str | Path, *, compress: bool = False, compress_level: int = 5
) -> int:
    """Write text lines as JSON Lines (gzip with a fixed header when `compress`); returns bytes written."""
    text = lines.str.join("\n").item() + "\n" if len(lines) else ""
    payload = text.encode("utf-8")
    if compress:
        buffer = io.BytesIO()
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=compress_level
        ) as gz:
            gz.write(payload)
        payload = buffer.getvalue()
    return _write_bytes_atomically(Path(path), payload)


def write_csv(frame: pl.DataFrame, path: str | Path) -> int:
    """Write a frame as CSV with a header; list and struct cells become JSON text. Returns bytes written."""
    buffer = io.BytesIO()
    text_columns(frame).write_csv(buffer, include_header=True, null_value="")
    return _write_bytes_atomically(Path(path), buffer.getvalue())


def write_parquet(frame: pl.DataFrame, path: str | Path) -> int:
    """Write a typed frame as Parquet (zstd); returns bytes written."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return _write_bytes_atomically(Path(path), buffer.getvalue())


def write_records(frame: pl.DataFrame, path: str | Path, file_format: FileFormat) -> int:
    """Write a typed frame in any landing format (in JSON Lines null fields are omitted); returns bytes written."""
    if file_format == "parquet":
        return write_parquet(frame, path)
    if file_format == "csv":
        return write_csv(frame, path)
    if file_format in ("jsonl", "jsonl.gz"):
        return write_jsonl(
            json_lines(json_value_columns(frame)), path, compress=file_format == "jsonl.gz"
        )
    raise ValueError(
        f"unknown landing format {file_format!r}; use one of {', '.join(FILE_FORMATS)}"
    )
