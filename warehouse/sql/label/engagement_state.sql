-- clean per-generation counts of every generation, with the prompt its pairs carry
with

label_engagement as (
    select
        generation_id, request_id, model_version, duration_ms, impressions, views, watch_ms, likes, unlikes,
        favorites, shares, comments, downloads, dislikes, reports, studio_impressions, selects, regenerates
    from label_engagement
),

generations as (
    select generation_id, prompt from generations
),

final as (
    select label_engagement.*, generations.prompt
    from label_engagement
    inner join generations using (generation_id)
)

select * from final
order by generation_id
