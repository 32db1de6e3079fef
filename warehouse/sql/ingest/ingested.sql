-- What is already ingested, looked up before a file is loaded: reads `ingest_files`.
-- files: each recorded (source_file, sha256, file_identity) (no parameters);
-- same_file: whether $source_file with content $sha256 (or, for a file recorded with a problem and no hash, with
-- identity $identity) is recorded;
-- same_content: the first file ingested with content $sha256 as a $kind file, if any.

-- name: files
-- what is already recorded: each file's path, content hash (empty for a file recorded with a problem) and the stat
-- identity seen then (device, inode, size, mtime, ctime: unchanged means not rewritten)
select
    source_file,
    sha256,
    file_identity
from ingest_files

-- name: same_file
-- whether this exact file (same path, same content; same identity for a file with a problem) is already recorded
select count(*) > 0
from ingest_files
where source_file = $source_file
    and (
        (sha256 = $sha256 and $sha256 <> '')
        or ($sha256 = '' and sha256 = '' and file_identity = $identity)
    )

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
