-- clean engagement cells of the generations in `label_touched_generations` from the events ingested by $through:
-- event counts (views: also watch time and the sums of min(watch_ms / duration_ms, $ratio_cap) and its square)
-- per (generation, event type, studio or organic, exposure slot). Abnormal viewers (`label_abnormal_viewers`)
-- are excluded everywhere, the creator from organic cells; the slot is the surface and, on the feed, the
-- position (pooled from $max_position on; -1 off the feed or without a position)
with

generations as (
    select generation_id, creator_id, duration_ms from generations
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

clean_events as (
    select
        events.generation_id,
        events.event_type,
        coalesce(events.surface = 'studio', false) as is_studio,
        coalesce(events.surface, 'other') as surface,
        case
            when events.surface = 'feed' and events.position is not null then least(events.position, $max_position)
            else -1
        end as position,
        events.watch_ms,
        least(events.watch_ms::double / touched.duration_ms, $ratio_cap) as watch_ratio
    from events
    inner join touched using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.ingested_at <= $through
      and (events.viewer_id <> touched.creator_id or events.surface = 'studio')
),

final as (
    select
        generation_id,
        event_type,
        is_studio,
        surface,
        position,
        count(*) as events,
        sum(watch_ms)::bigint as watch_ms,
        sum(watch_ratio) as ratio_sum,
        sum(watch_ratio * watch_ratio) as ratio_sq_sum
    from clean_events
    group by all
)

select * from final
