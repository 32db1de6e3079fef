-- What is already ingested, looked up before a file is loaded: reads `ingest_files`.
-- files: each (source_file, sha256) once, with the size and mtime seen then (no parameters);
-- same_file: whether $source_file with content $sha256 is ingested;
-- same_content: the first file ingested with content $sha256 as a $kind file, if any.

-- name: files
-- what is already ingested: each (source_file, sha256) once, with the size and mtime seen then
select
    source_file,
    sha256,
    bytes,
    file_mtime_ns
from ingest_files

-- name: same_file
-- whether this exact file (same path, same content) is already ingested
select count(*) > 0
from ingest_files
where source_file = $source_file
    and sha256 = $sha256

-- name: same_content
-- the first file already ingested with this content (same sha256 and kind), if any
select
    source_file,
    rows_read
from ingest_files
where sha256 = $sha256
    and kind = $kind
    and status <> 'duplicate_content'
order by ingested_at, source_file
limit 1
