-- clean organic impressions and views of each touched generation per exposure slot: (surface, feed
-- position capped at $max_position); position -1 where the surface has none
with

generations as (
    select generation_id, creator_id from generations
),

label_touched_generations as (
    select generation_id from label_touched_generations
),

label_abnormal_viewers as (
    select viewer_id from label_abnormal_viewers
),

touched as (
    select generations.*
    from generations
    semi join label_touched_generations using (generation_id)
),

organic_events as (
    select
        events.generation_id,
        events.event_type,
        coalesce(events.surface, 'unknown') as surface,
        case when events.position is null then -1 else least(events.position, $max_position) end as position
    from events
    inner join touched using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.ingested_at <= $through
      and events.event_type in ('impression', 'view')
      and coalesce(events.surface <> 'studio', true)
      and events.viewer_id <> touched.creator_id
),

final as (
    select
        generation_id,
        surface,
        position,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'view') as views
    from organic_events
    group by generation_id, surface, position
)

select * from final
