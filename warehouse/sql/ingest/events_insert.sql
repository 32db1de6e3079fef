-- valid events of the staged file that are new: the first row of each event_id in the file, unless already loaded
insert into events (
    event_id, event_type, generation_id, viewer_id, occurred_at, surface, position, watch_ms,
    session_id, app_version, extra, source_file, source_row, ingested_at
)
with valid as (
    select * from ingest_staged
    where reason_code is null
),

first_in_file as (
    select * from valid
    qualify row_number() over (partition by event_id order by row_number) = 1
),

new_events as (
    select first_in_file.*
    from first_in_file
    anti join events on events.event_id = first_in_file.event_id
)

select
    event_id,
    event_type,
    generation_id,
    viewer_id,
    occurred_at,
    surface,
    position,
    watch_ms,
    session_id,
    app_version,
    extra,
    $source_file,
    row_number,
    $ingested_at
from new_events
