-- The record of one landing file's outcome, in its transaction.
-- quarantine_whole_file: a quarantine row 0 for a file that could not be read row by row (parameters $source_file,
-- $kind, $reason_code, $detail, $quarantined_at);
-- ingest_file: its `ingest_files` accounting row (parameters: every column of the row, by name);
-- refresh_identity: the identity now seen for a file found unchanged by content ($source_file, $sha256, $identity).

-- name: quarantine_whole_file
-- a whole file that could not be read row by row (row_number 0 = the file itself), so it is never lost silently
insert into quarantine (source_file, row_number, kind, reason_code, detail, raw, quarantined_at)
values ($source_file, 0, $kind, $reason_code, $detail, null, $quarantined_at)

-- name: ingest_file
-- the accounting row of one landing file: rows_read = rows_loaded + rows_duplicate + rows_quarantined
insert into ingest_files (
    source_file, sha256, kind, file_format, bytes, rows_read, rows_loaded, rows_duplicate, rows_quarantined,
    ingested_at, status, detail, file_mtime_ns, file_identity
)
values (
    $source_file, $sha256, $kind, $file_format, $bytes, $rows_read, $rows_loaded, $rows_duplicate,
    $rows_quarantined, $ingested_at, $status, $detail, $file_mtime_ns, $file_identity
)

-- name: refresh_identity
-- a file hashed again and found unchanged (touched, copied with its content, or recorded before identities were kept):
-- remember the identity seen now, so the next run skips hashing it
update ingest_files
set file_identity = $identity
where source_file = $source_file
    and sha256 = $sha256
    and file_identity is distinct from $identity
