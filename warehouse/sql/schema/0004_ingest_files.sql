-- one row per ingested file content: rows_read = rows_loaded + rows_duplicate + rows_quarantined
create table if not exists ingest_files (
    source_file varchar not null,
    sha256 varchar not null,
    kind varchar not null,
    file_format varchar not null,
    bytes bigint not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_duplicate bigint not null,
    rows_quarantined bigint not null,
    ingested_at timestamptz not null
);
