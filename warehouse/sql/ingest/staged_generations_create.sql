-- the rows of the generation file being loaded, judged: reason_code null = valid (raw kept for every row: the
-- cross-row embedding check may reject a row after its own checks passed)
create or replace temp table ingest_staged (
    row_number bigint not null,
    reason_code varchar,
    detail varchar,
    raw varchar,
    generation_id varchar,
    request_id varchar,
    creator_id varchar,
    prompt varchar,
    model_version varchar,
    created_at timestamptz,
    duration_ms bigint,
    width integer,
    height integer,
    fps double,
    seed bigint,
    reference_inputs struct(kind varchar, uri varchar)[],
    output_uri varchar,
    output_embedding float[],
    training_consent boolean,
    content_flags varchar[],
    extra json
)
