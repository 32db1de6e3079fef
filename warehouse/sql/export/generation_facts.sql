-- one row per generation that has a label or is in a preference pair: everything the export filters on and writes,
-- with the conditioning the generator was given (duration, resolution, fps, seed, reference inputs) as recorded
-- (no creator or viewer ids leave this query; `names_creator` says whether the output_uri or prompt embeds the creator id)
-- registered inputs: stg_generations (temp view, model/stg_generations.sql); parameters: none
with

labels as (
    select generation_id, label, label_version, quality_score, reports
    from labels
),

paired_generations as (
    select chosen_generation_id as generation_id from preference_pairs
    union
    select rejected_generation_id as generation_id from preference_pairs
),

wanted as (
    select generation_id from labels
    union
    select generation_id from paired_generations
),

generations as (
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
        training_consent,
        content_flags
    from stg_generations
),

final as (
    select
        wanted.generation_id,
        generations.generation_id is not null as has_generation,
        generations.request_id,
        generations.prompt,
        generations.model_version,
        generations.created_at,
        generations.duration_ms,
        generations.width,
        generations.height,
        generations.fps,
        generations.seed,
        generations.reference_inputs,
        generations.output_uri,
        generations.training_consent,
        coalesce(len(generations.content_flags), 0) as content_flag_count,
        coalesce(
            contains(generations.output_uri, generations.creator_id)
            or contains(generations.prompt, generations.creator_id),
            false
        ) as names_creator,
        labels.label,
        labels.label_version,
        labels.quality_score,
        labels.reports
    from wanted
    left join generations on generations.generation_id = wanted.generation_id
    left join labels on labels.generation_id = wanted.generation_id
)

select * from final
order by generation_id
