-- the accounting row of one landing file: rows_read = rows_loaded + rows_duplicate + rows_quarantined
insert into ingest_files (
    source_file, sha256, kind, file_format, bytes, rows_read, rows_loaded, rows_duplicate, rows_quarantined,
    ingested_at, status, detail, file_mtime_ns
)
values (
    $source_file, $sha256, $kind, $file_format, $bytes, $rows_read, $rows_loaded, $rows_duplicate,
    $rows_quarantined, $ingested_at, $status, $detail, $file_mtime_ns
)
