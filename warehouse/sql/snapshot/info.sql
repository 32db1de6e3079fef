-- what the snapshot holds: one row per copied relation; {snapshot} is the quoted alias of the attached file
create table {snapshot}.snapshot_info (
    relation varchar not null,
    source_kind varchar not null,
    row_count bigint not null,
    snapshot_number bigint not null,
    schema_version varchar,
    source_db varchar not null,
    published_at timestamptz not null
)
