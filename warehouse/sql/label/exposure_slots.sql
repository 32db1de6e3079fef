-- organic impressions and views per (generation, exposure slot) of the sampled generations (the state keeps
-- the slots of the examination sample only) ingested by $generations_through, with a dense integer index per generation (for the examination fit), in a fixed order
-- (the fit's warm start and its float sums then do not depend on how the scan was split)
-- registered inputs: none; parameters: $generations_through
with

generations as (
    select generation_id, ingested_at from generations
),

label_engagement_slots as (
    select generation_id, surface, position, impressions, views from label_engagement_slots
),

known_generations as (
    select generation_id from generations where ingested_at <= $generations_through
),

final as (
    select
        (dense_rank() over (order by generation_id) - 1)::integer as generation_index,
        generation_id,
        surface,
        position,
        impressions,
        views
    from label_engagement_slots
    semi join known_generations using (generation_id)
)

select * from final
order by generation_id, surface, position
