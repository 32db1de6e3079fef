-- The statements on temp table `ingest_staged` (a file's judged rows, reason_code null = valid) that are the same
-- for every record kind; the per-kind ones are in ingest/staged_events and ingest/staged_generations.
-- from_parquet: a worker's staged Parquet back into it on the coordinator (parameter $files);
-- quarantine: its rejected rows into `quarantine` (parameters $source_file, $kind, $quarantined_at);
-- counts: its rows per reason; drop: free it once the file is loaded.

-- name: from_parquet
-- the judged rows a worker staged as Parquet partitions ($files: a glob), back into `ingest_staged` on the
-- coordinator (the day partition key is only the folder layout: not read back)
insert into ingest_staged by name
select *
from read_parquet($files, hive_partitioning = false)

-- name: quarantine
-- the rejected rows of the file being loaded, with their reason, into the public quarantine table
insert into quarantine (source_file, row_number, kind, reason_code, detail, raw, quarantined_at)
select
    $source_file,
    row_number,
    $kind,
    reason_code,
    detail,
    raw,
    $quarantined_at
from ingest_staged
where reason_code is not null

-- name: counts
-- rows read and rows quarantined per reason in the staged file (reason_code null = valid rows)
select
    reason_code,
    count(*) as row_count
from ingest_staged
group by reason_code

-- name: drop
-- free the staged rows of the file just loaded
drop table if exists ingest_staged
