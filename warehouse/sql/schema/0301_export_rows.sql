-- which generation (and pair) went into which export, dataset, split and row: one row per generation per exported row
-- (a DPO row has two: role chosen and rejected); answers "which exports contain generation X" for takedowns
create table if not exists export_rows (
    export_id varchar not null,
    dataset varchar not null,
    split varchar not null,
    row_index bigint not null,
    role varchar not null,
    generation_id varchar not null,
    pair_id varchar,
    label_version varchar not null
);
