-- ingested files per kind, format and status (loaded, empty, duplicate_content, unreadable, ...):
-- every row read is loaded, a duplicate, or quarantined
-- reads: ingest_files; no parameters
create or replace view report_ingest_files as
with

ingest_files as (
    select kind, file_format, coalesce(status, 'loaded') as status, bytes, rows_read, rows_loaded, rows_duplicate, rows_quarantined, ingested_at
    from ingest_files
),

final as (
    select
        kind,
        file_format,
        status,
        count(*) as files,
        sum(bytes) as bytes,
        sum(rows_read) as rows_read,
        sum(rows_loaded) as rows_loaded,
        sum(rows_duplicate) as rows_duplicate,
        sum(rows_quarantined) as rows_quarantined,
        sum(rows_read) - sum(rows_loaded) - sum(rows_duplicate) - sum(rows_quarantined) as rows_unaccounted,
        min(ingested_at) as first_ingested_at,
        max(ingested_at) as last_ingested_at
    from ingest_files
    group by kind, file_format, status
)

select * from final
order by kind, file_format, status
