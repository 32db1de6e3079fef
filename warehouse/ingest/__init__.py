"""Ingest landing files (JSON Lines, gzip JSON Lines, CSV, Parquet) into `events` and `generations`.

Every row is judged against the event contract (DESIGN.md) set-at-a-time in DuckDB: valid new rows
are loaded, duplicates (by event_id / generation_id) dropped and counted, bad rows quarantined
with a reason code. One file = one transaction: its `ingest_files` accounting row, loaded rows and
quarantine rows commit together, so a killed run leaves each file fully loaded or untouched. A file
is identified by (path, sha256): a rerun is a no-op, a changed file is loaded again without
duplicating rows.

Scaled out (a Dask cluster), the work splits in two: `stage_landing_file` judges a file's rows on a
worker, in a private in-memory DuckDB, and writes them as day-partitioned Parquet under a staging
directory; `load_staged_file` loads them on the coordinator, the only writer of the warehouse, with
the same SQL and in the same one transaction per file as `ingest_landing_file`.

Text files are read in bounded chunks and split into records with numpy (exact physical line
numbers, CRLF tolerated, CSV quotes respected); Parquet is scanned by DuckDB in its typed columns.
"""

from __future__ import annotations

from warehouse.ingest.contract import (
    ALREADY_INGESTED,
    FAILED_STATUSES,
    FILE_PROBLEMS,
    FILE_REASON_CODES,
    REASON_CODES,
    IngestRules,
)
from warehouse.ingest.discovery import (
    LandingFile,
    check_landing_dir,
    discover_new_files,
    file_format_of,
    landing_paths,
)
from warehouse.ingest.judging import configure_connection
from warehouse.ingest.loading import (
    FileAccounting,
    ingest_file,
    ingest_landing_file,
    ingest_landing_zone,
    load_staged_file,
)
from warehouse.ingest.records import iter_record_batches
from warehouse.ingest.staging import (
    StagedFile,
    StagingError,
    remove_staged_file,
    remove_stale_staging,
    stage_landing_file,
    staging_dir_for,
)

__all__ = [
    "ALREADY_INGESTED",
    "FAILED_STATUSES",
    "FILE_PROBLEMS",
    "FILE_REASON_CODES",
    "REASON_CODES",
    "FileAccounting",
    "IngestRules",
    "LandingFile",
    "StagedFile",
    "StagingError",
    "check_landing_dir",
    "configure_connection",
    "discover_new_files",
    "file_format_of",
    "ingest_file",
    "ingest_landing_file",
    "ingest_landing_zone",
    "iter_record_batches",
    "landing_paths",
    "load_staged_file",
    "remove_staged_file",
    "remove_stale_staging",
    "stage_landing_file",
    "staging_dir_for",
]
