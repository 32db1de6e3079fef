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
