-- one row per generated video; generation_id unique (first delivery wins)
create table if not exists generations (
    generation_id varchar not null,
    request_id varchar not null,
    creator_id varchar not null,
    prompt varchar not null,
    model_version varchar not null,
    created_at timestamptz not null,
    duration_ms bigint not null,
    width integer,
    height integer,
    fps double,
    seed bigint,
    reference_inputs struct(kind varchar, uri varchar)[],
    output_uri varchar,
    output_embedding float[],
    training_consent boolean not null default true,
    content_flags varchar[],
    extra json,
    source_file varchar not null,
    source_row bigint not null,
    ingested_at timestamptz not null
);
