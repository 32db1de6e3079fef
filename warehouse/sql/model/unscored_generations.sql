-- a batch of generations the given model has not scored yet, with the facts its features need
-- registered inputs: stg_generations (temp view, model/stg_generations.sql); parameters: $batch_size, $model_id
with

generations as (
    select
        generation_id,
        request_id,
        created_at,
        prompt,
        model_version,
        duration_ms,
        width,
        height,
        fps,
        reference_inputs,
        output_embedding
    from stg_generations
),

scored as (
    select generation_id
    from scores
    where model_id = $model_id
),

final as (
    select generations.*
    from generations
    anti join scored using (generation_id)
    order by generations.generation_id
    limit $batch_size
)

select * from final
