"""Write preference datasets as Hugging Face dataset folders, atomically and byte-reproducibly.

Layout of an export folder OUT:
    OUT/manifest.json                     export summary (also marks OUT as a reelloop export)
    OUT/<dataset>/README.md               dataset card (pipelines.dataset_card); YAML `configs` lets
                                          `datasets.load_dataset(dir)` find splits
    OUT/<dataset>/manifest.json           files with sha256 and rows, exclusions, parameters, label_version
    OUT/<dataset>/data/<split>-00000-of-0000N.parquet

Nothing in the files depends on the wall clock or the output path, so the same warehouse
state gives byte-identical files. Everything is written to a hidden staging folder next to OUT
and swapped into place at the end; a half-written export never sits at OUT.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from common.hashing import file_sha256
from pipelines.dataset_card import (
    CardFile,
    DatasetContent,
    ExportMetadata,
    dataset_card,
    iso,
    type_name,
)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CARD = "README.md"
STAGING_ROLES: tuple[str, ...] = ("partial", "retired")
FORMAT_VERSION = 1  # of the manifest layout; the root manifest's `reelloop_export` key

ARROW_TYPES: dict[type[pl.DataType], pa.DataType] = {
    pl.String: pa.string(),
    pl.Float64: pa.float64(),
    pl.Boolean: pa.bool_(),
    pl.Int64: pa.int64(),
    pl.Int32: pa.int32(),
}


@dataclass(frozen=True)
class ParquetSettings:
    """Fixed writer settings: part of what makes a re-export byte-identical."""

    compression: str = "zstd"
    compression_level: int = 3
    max_rows_per_shard: int = 500_000
    row_group_size: int = 50_000


@dataclass(frozen=True)
class WrittenFile:
    """A data file of a dataset: path relative to the dataset folder."""

    path: str
    split: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class WrittenExport:
    """The published export: its id, folder and the data files of each dataset."""

    export_id: str
    path: Path
    files: dict[str, list[WrittenFile]] = field(default_factory=dict)


def arrow_type(dtype: pl.DataType) -> pa.DataType:
    """The Arrow type of a polars column type: plain `string` (not large/view) so every reader agrees,
    lists and structs built from their members."""
    if isinstance(dtype, pl.List):
        return pa.list_(arrow_type(dtype.inner))
    if isinstance(dtype, pl.Struct):
        return pa.struct([pa.field(f.name, arrow_type(f.dtype)) for f in dtype.fields])
    arrow = ARROW_TYPES.get(type(dtype))
    if arrow is None:
        raise ValueError(f"no Arrow type for {dtype}")
    return arrow


def arrow_schema(schema: dict[str, pl.DataType]) -> pa.Schema:
    """The Arrow schema of a dataset."""
    return pa.schema([pa.field(name, arrow_type(dtype)) for name, dtype in schema.items()])


def is_reelloop_export(folder: Path) -> bool:
    """True if `folder` holds a previous export (its root manifest says so)."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return False
    try:
        return "reelloop_export" in json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def check_replaceable(target: Path) -> None:
    """Refuse a target that exists and is neither empty nor a previous export (never clobber other data)."""
    if not target.exists():
        return
    if not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a folder")
    if any(target.iterdir()) and not is_reelloop_export(target):
        raise ValueError(
            f"{target} exists and is not a reelloop export; choose a new or empty folder"
        )


def write_split_files(
    frame: pl.DataFrame, folder: Path, split: str, schema: pa.Schema, settings: ParquetSettings
) -> list[WrittenFile]:
    """Write one split as `data/<split>-0000i-of-0000N.parquet` shards; an empty split writes nothing.

    (`datasets` cannot load a zero-row Parquet split, so empty splits are left out of the card.)
    """
    if frame.height == 0:
        return []
    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    table = frame.to_arrow().cast(schema)
    shards = -(-table.num_rows // settings.max_rows_per_shard)
    written = []
    for index in range(shards):
        part = table.slice(index * settings.max_rows_per_shard, settings.max_rows_per_shard)
        relative = f"data/{split}-{index:05d}-of-{shards:05d}.parquet"
        path = folder / relative
        pq.write_table(
            part,
            path,
            row_group_size=settings.row_group_size,
            compression=settings.compression,
            compression_level=settings.compression_level,
            use_dictionary=True,
            write_statistics=True,
        )
        written.append(
            WrittenFile(relative, split, part.num_rows, path.stat().st_size, file_sha256(path))
        )
    return written


def export_fingerprint_id(
    metadata: ExportMetadata,
    contents: Sequence[DatasetContent],
    files: dict[str, list[WrittenFile]],
) -> str:
    """The export_id: sha256 of parameters, label_version, as-of, champion, exclusions and data file hashes."""
    fingerprint = {
        "parameters": metadata.parameters,
        "label_version": metadata.label_version,
        "as_of": iso(metadata.as_of),
        "champion": metadata.champion,
        "excluded": {c.name: c.excluded for c in contents},
        "files": {name: [(f.path, f.sha256) for f in written] for name, written in files.items()},
    }
    canonical = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def dataset_manifest(
    content: DatasetContent,
    files: list[WrittenFile],
    card: WrittenFile,
    metadata: ExportMetadata,
    export_id: str,
) -> dict[str, object]:
    """manifest.json of one dataset: files with sha256 and rows, counts, exclusions (with what each
    counts), parameters, label_version and the dataset's own details."""
    return {
        "export_id": export_id,
        "dataset": content.name,
        "label_version": metadata.label_version,
        "as_of": iso(metadata.as_of),
        "parameters": metadata.parameters,
        "champion_model": metadata.champion,
        "model_versions": content.model_versions,
        "created_range": [iso(moment) for moment in content.created_range],
        "columns": {name: type_name(dtype) for name, dtype in content.schema.items()},
        "counts": {
            split: sum(f.rows for f in files if f.split == split) for split in content.splits
        },
        "excluded": {reason: content.excluded.get(reason, 0) for reason in content.exclusion_order},
        "exclusion_order": list(content.exclusion_order),
        "exclusion_units": {
            reason: content.exclusion_units[reason] for reason in content.exclusion_order
        },
        **content.details,
        "files": [
            {"path": f.path, "split": f.split, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256}
            for f in files
        ]
        + [{"path": card.path, "bytes": card.bytes, "sha256": card.sha256}],
        "row_membership": "warehouse table export_rows, by export_id",
    }


def write_json(path: Path, payload: object) -> None:
    """Stable JSON: sorted keys, two-space indent, trailing newline; written to a temporary name and renamed,
    so a killed writer never leaves a truncated manifest."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def staging_name(target: Path, role: str) -> Path:
    """A hidden sibling of `target` for a staging (`partial`) or replaced (`retired`) export of this process."""
    return target.parent / f".{target.name}.{role}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def discard_folder(folder: Path) -> None:
    """Delete a folder, its root manifest first: half-deleted, it never looks like a complete export."""
    (folder / MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def remove_abandoned_staging(target: Path) -> list[Path]:
    """Staging / retired folders of `target` left by writers that died (their process is gone)."""
    removed = []
    for folder in target.parent.glob(f".{target.name}.*-*-*"):
        role, _, rest = folder.name.removeprefix(f".{target.name}.").partition("-")
        pid_text = rest.partition("-")[0]
        if role not in STAGING_ROLES or not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        discard_folder(folder)
        removed.append(folder)
        log.info("removed %s, left by a writer that died", folder)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_data_files(
    staging: Path, contents: Sequence[DatasetContent], settings: ParquetSettings
) -> dict[str, list[WrittenFile]]:
    """Every dataset's split files under `staging/<dataset>/data`."""
    files: dict[str, list[WrittenFile]] = {}
    for content in contents:
        schema = arrow_schema(content.schema)
        files[content.name] = [
            written
            for split, frame in content.splits.items()
            for written in write_split_files(frame, staging / content.name, split, schema, settings)
        ]
    return files


def write_card_and_manifest(
    folder: Path,
    content: DatasetContent,
    files: list[WrittenFile],
    metadata: ExportMetadata,
    export_id: str,
) -> dict[str, object]:
    """README.md and manifest.json of one dataset; returns its entry in the root manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    card_path = folder / CARD
    card_files = [CardFile(f.split, f.rows) for f in files]
    card_path.write_text(dataset_card(content, card_files, metadata, export_id), encoding="utf-8")
    card = WrittenFile(CARD, "", 0, card_path.stat().st_size, file_sha256(card_path))
    manifest = dataset_manifest(content, files, card, metadata, export_id)
    write_json(folder / MANIFEST, manifest)
    return {
        "counts": manifest["counts"],
        "excluded": manifest["excluded"],
        "manifest_sha256": file_sha256(folder / MANIFEST),
    }


def write_export(
    out_dir: Path,
    contents: Sequence[DatasetContent],
    metadata: ExportMetadata,
    settings: ParquetSettings | None = None,
) -> WrittenExport:
    """Write every dataset into a staging folder next to `out_dir`, then swap it into place."""
    settings = settings or ParquetSettings()
    target = Path(out_dir).absolute()
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_staging(target)
    staging = staging_name(target, "partial")
    staging.mkdir()
    try:
        files = write_data_files(staging, contents, settings)
        export_id = export_fingerprint_id(metadata, contents, files)
        summaries = {
            content.name: write_card_and_manifest(
                staging / content.name, content, files[content.name], metadata, export_id
            )
            for content in contents
        }
        # the root manifest is written last: a folder with it is a complete export
        write_json(
            staging / MANIFEST,
            {
                "reelloop_export": FORMAT_VERSION,
                "export_id": export_id,
                "label_version": metadata.label_version,
                "as_of": iso(metadata.as_of),
                "parameters": metadata.parameters,
                "champion_model": metadata.champion,
                "datasets": summaries,
            },
        )
        publish_directory(staging, target)
    finally:
        if staging.exists():
            discard_folder(staging)
    return WrittenExport(export_id=export_id, path=target, files=files)


def exchange_paths(first: Path, second: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if result != 0:
        log.debug("renameat2 exchange failed: %s", os.strerror(ctypes.get_errno()))
    return result == 0


def publish_directory(staging: Path, target: Path) -> None:
    """Move a complete staging folder to `target`, replacing a previous export in one atomic step where possible.

    Without an atomic exchange (non-Linux, some filesystems) the old folder is renamed aside first,
    so `target` is briefly absent but never partial.
    """
    if not target.exists():
        os.rename(staging, target)
        return
    check_replaceable(target)
    if exchange_paths(staging, target):
        discard_folder(staging)  # staging now holds the previous export
        return
    retired = staging_name(target, "retired")
    os.rename(target, retired)
    os.rename(staging, target)
    discard_folder(retired)
