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
    ingested_at timestamptz not null,
    -- how ingest handled a landing file: loaded | empty | duplicate_content | unreadable | unsupported_format
    status varchar default 'loaded',
    -- why a file was not loaded row by row (unreadable, unsupported, copy of another file), else null
    detail varchar,
    -- modification time seen at ingest: an unchanged (path, bytes, mtime) is not hashed again
    file_mtime_ns bigint
);
