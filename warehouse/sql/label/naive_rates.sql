-- raw rates per known generation straight from the events (no cleaning, no debiasing): the baselines
-- a label must beat; likes / impressions and views / impressions over every non-studio event
-- registered inputs: none; parameters: none
with

events as (
    select generation_id, event_type, surface from events
),

generations as (
    select generation_id from generations
),

organic as (
    select
        generation_id,
        count(*) filter (where event_type = 'impression') as raw_impressions,
        count(*) filter (where event_type = 'view') as raw_views,
        count(*) filter (where event_type = 'like') as raw_likes
    from events
    where coalesce(surface <> 'studio', true)
    group by generation_id
),

final as (
    select
        generations.generation_id,
        coalesce(organic.raw_impressions, 0) as raw_impressions,
        coalesce(organic.raw_likes, 0)::double / greatest(coalesce(organic.raw_impressions, 0), 1) as naive_like_rate,
        coalesce(organic.raw_views, 0)::double / greatest(coalesce(organic.raw_impressions, 0), 1) as naive_view_rate
    from generations
    left join organic using (generation_id)
)

select * from final
order by generation_id
