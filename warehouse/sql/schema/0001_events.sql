-- one row per accepted interaction; event_id unique (duplicates are dropped at ingest)
create table if not exists events (
    event_id varchar not null,
    event_type varchar not null,
    generation_id varchar not null,
    viewer_id varchar not null,
    occurred_at timestamptz not null,
    surface varchar,
    position integer,
    watch_ms bigint,
    session_id varchar,
    app_version varchar,
    extra json,
    source_file varchar not null,
    source_row bigint not null,
    ingested_at timestamptz not null
);
