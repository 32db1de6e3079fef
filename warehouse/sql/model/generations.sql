-- generation facts known at generation time (the model's only inputs), with the request they belong to
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
    from generations
),

final as (
    select * from generations
    order by created_at, generation_id
)

select * from final
