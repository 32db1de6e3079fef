-- valid events of the staged file that are new: the first row of each event_id in the file, unless already loaded
-- (the dedup runs on the narrow (event_id, row_number) pairs; the full rows are picked by row_number after)
insert into events (
    event_id, event_type, generation_id, viewer_id, occurred_at, surface, position, watch_ms,
    session_id, app_version, extra, source_file, source_row, ingested_at
)
with valid as (
    select * from ingest_staged
    where reason_code is null
),

first_rows as (
    select
        event_id,
        min(row_number) as row_number
    from valid
    group by event_id
),

new_rows as (
    select first_rows.row_number
    from first_rows
    anti join events on events.event_id = first_rows.event_id
)

select
    valid.event_id,
    valid.event_type,
    valid.generation_id,
    valid.viewer_id,
    valid.occurred_at,
    valid.surface,
    valid.position,
    valid.watch_ms,
    valid.session_id,
    valid.app_version,
    valid.extra,
    $source_file,
    valid.row_number,
    $ingested_at
from valid
semi join new_rows on new_rows.row_number = valid.row_number
