-- valid generations of the staged file that are new: the first row of each generation_id in the file, unless
-- already loaded (first delivery wins; dedup on the narrow (generation_id, row_number) pairs)
insert into generations (
    generation_id, request_id, creator_id, prompt, model_version, created_at, duration_ms, width, height, fps,
    seed, reference_inputs, output_uri, output_embedding, training_consent, content_flags, extra,
    source_file, source_row, ingested_at
)
with valid as (
    select * from ingest_staged
    where reason_code is null
),

first_rows as (
    select
        generation_id,
        min(row_number) as row_number
    from valid
    group by generation_id
),

new_rows as (
    select first_rows.row_number
    from first_rows
    anti join generations on generations.generation_id = first_rows.generation_id
)

select
    valid.generation_id,
    valid.request_id,
    valid.creator_id,
    valid.prompt,
    valid.model_version,
    valid.created_at,
    valid.duration_ms,
    valid.width,
    valid.height,
    valid.fps,
    valid.seed,
    valid.reference_inputs,
    valid.output_uri,
    valid.output_embedding,
    valid.training_consent,
    valid.content_flags,
    valid.extra,
    $source_file,
    valid.row_number,
    $ingested_at
from valid
semi join new_rows on new_rows.row_number = valid.row_number
