-- the current preference pairs (chosen beats rejected), each traceable to its source and label_version
create table if not exists preference_pairs (
    pair_id varchar not null,
    request_id varchar not null,
    prompt varchar not null,
    chosen_generation_id varchar not null,
    rejected_generation_id varchar not null,
    source varchar not null,
    confidence double not null,
    label_version varchar not null,
    created_at timestamptz not null
);
