-- the candidates of one request with their current label (if any), for ranking
-- registered inputs: stg_generations (temp view, model/stg_generations.sql); parameters: $request_id
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
    where request_id = $request_id
),

labels as (
    select generation_id, quality_score
    from labels
),

final as (
    select generations.*, labels.quality_score
    from generations
    left join labels using (generation_id)
    order by generations.generation_id
)

select * from final
