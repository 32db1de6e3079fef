-- valid generations of the staged file that are new: the first row of each generation_id in the file, unless
-- already loaded (first delivery wins)
insert into generations (
    generation_id, request_id, creator_id, prompt, model_version, created_at, duration_ms, width, height, fps,
    seed, reference_inputs, output_uri, output_embedding, training_consent, content_flags, extra,
    source_file, source_row, ingested_at
)
with valid as (
    select * from ingest_staged
    where reason_code is null
),

first_in_file as (
    select * from valid
    qualify row_number() over (partition by generation_id order by row_number) = 1
),

new_generations as (
    select first_in_file.*
    from first_in_file
    anti join generations on generations.generation_id = first_in_file.generation_id
)

select
    generation_id,
    request_id,
    creator_id,
    prompt,
    model_version,
    created_at,
    duration_ms,
    width,
    height,
    fps,
    seed,
    reference_inputs,
    output_uri,
    output_embedding,
    training_consent,
    content_flags,
    extra,
    $source_file,
    row_number,
    $ingested_at
from new_generations
