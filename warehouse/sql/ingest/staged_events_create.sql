-- the rows of the event file being loaded, judged: reason_code null = valid (raw kept only for rejected rows)
create or replace temp table ingest_staged (
    row_number bigint not null,
    reason_code varchar,
    detail varchar,
    raw varchar,
    event_id varchar,
    event_type varchar,
    generation_id varchar,
    viewer_id varchar,
    occurred_at timestamptz,
    surface varchar,
    position integer,
    watch_ms bigint,
    session_id varchar,
    app_version varchar,
    extra json
)
