-- clean engagement cells of the generations in `label_touched_generations` from the events ingested by $through:
-- one row per (generation, exposure slot) with the count of each event type (views: also watch time and the sums
-- of min(watch_ms / duration_ms, $ratio_cap) and its square). Abnormal viewers (`label_abnormal_viewers`) are
-- excluded everywhere, the creator everywhere but in the studio; the slot is the surface ('other' if none) and,
-- on the feed, the position (pooled from $max_position on; -1 off the feed or without a position).
-- Grouping runs on an integer generation key (string ids are joined back on the small result).
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
    select
        generations.generation_id,
        generations.creator_id,
        generations.duration_ms,
        (row_number() over ())::integer as generation_key
    from generations
    semi join label_touched_generations using (generation_id)
),

clean_events as (
    select
        touched.generation_key,
        events.event_type,
        coalesce(events.surface, 'other') as surface,
        case
            when events.surface = 'feed' and events.position is not null then least(events.position, $max_position)
            else -1
        end::smallint as position,
        events.watch_ms,
        (events.event_type = 'impression')::integer as is_impression,
        (events.event_type = 'view')::integer as is_view,
        least(events.watch_ms::double / touched.duration_ms, $ratio_cap) as watch_ratio
    from events
    inner join touched using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.ingested_at <= $through
      and (events.viewer_id <> touched.creator_id or events.surface = 'studio')
),

cells as (
    -- sums of 0/1 indicators: much cheaper than one filtered aggregate per event type
    select
        generation_key,
        surface,
        position,
        sum(is_impression)::bigint as impressions,
        sum(is_view)::bigint as views,
        coalesce(sum(watch_ms * is_view), 0)::bigint as watch_ms,
        coalesce(sum(watch_ratio * is_view), 0)::double as ratio_sum,
        coalesce(sum(watch_ratio * watch_ratio * is_view), 0)::double as ratio_sq_sum,
        sum((event_type = 'unlike')::integer)::bigint as unlikes,
        sum((event_type = 'favorite')::integer)::bigint as favorites,
        sum((event_type = 'share')::integer)::bigint as shares,
        sum((event_type = 'comment')::integer)::bigint as comments,
        sum((event_type = 'download')::integer)::bigint as downloads,
        sum((event_type = 'dislike')::integer)::bigint as dislikes,
        sum((event_type = 'report')::integer)::bigint as reports,
        sum((event_type = 'select')::integer)::bigint as selects,
        sum((event_type = 'regenerate')::integer)::bigint as regenerates
    from clean_events
    group by generation_key, surface, position
),

final as (
    select touched.generation_id, cells.* exclude (generation_key)
    from cells
    inner join touched using (generation_key)
)

select * from final
