-- generation facts known at generation time (the model's only inputs), with the request they belong to
-- registered inputs: stg_generations (temp view, model/stg_generations.sql); parameters: none
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

final as (
    select * from generations
    order by created_at, generation_id
)

select * from final
