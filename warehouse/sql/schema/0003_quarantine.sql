-- rows that broke the event contract, kept with a reason code and the raw record
create table if not exists quarantine (
    source_file varchar not null,
    row_number bigint not null,
    kind varchar not null,
    reason_code varchar not null,
    detail varchar,
    raw varchar,
    quarantined_at timestamptz not null
);
