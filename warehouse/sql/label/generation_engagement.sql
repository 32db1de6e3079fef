-- clean engagement of the generations in `label_touched_generations` from the events ingested by $through: one
-- row per generation with the organic count of each event type (views: also watch time and the sums of
-- min(watch_ms / duration_ms, $ratio_cap) and of its square), the organic impressions weighted by the
-- examination propensity of their exposure slot (`label_adopted_examination`; a slot it lacks weighs 1), and the
-- studio impressions, selects and regenerates. Abnormal viewers (`label_abnormal_viewers`) are excluded
-- everywhere, the creator everywhere but in the studio; the slot is the surface ('other' if none) and, on the
-- feed, the position (pooled from $max_position on; -1 off the feed or without a position). Net likes come from
-- net_likes.sql. Events are first summed per (generation, event type, studio or not), then pivoted.
-- registered inputs: label_touched_generations, label_adopted_examination
--     (on a worker also events, generations and label_abnormal_viewers: its partition's frames)
-- parameters: $max_position, $ratio_cap, $through
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

label_adopted_examination as (
    select surface, position, propensity from label_adopted_examination
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
        coalesce(events.surface = 'studio', false) as in_studio,
        coalesce(events.surface, 'other') as surface,
        case
            when events.surface = 'feed' and events.position is not null then least(events.position, $max_position)
            else -1
        end::integer as position,
        events.watch_ms,
        least(events.watch_ms::double / touched.duration_ms, $ratio_cap) as watch_ratio
    from events
    inner join touched using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.ingested_at <= $through
      and (events.viewer_id <> touched.creator_id or events.surface = 'studio')
),

weighted_events as (
    select
        clean_events.*,
        coalesce(label_adopted_examination.propensity, 1.0) as propensity
    from clean_events
    left join label_adopted_examination using (surface, position)
),

by_type as (
    select
        generation_key,
        event_type,
        in_studio,
        count(*) as events,
        sum(propensity) as weighted_events,
        sum(watch_ms) as watch_ms,
        sum(watch_ratio) as ratio_sum,
        sum(watch_ratio * watch_ratio) as ratio_sq_sum
    from weighted_events
    group by generation_key, event_type, in_studio
),

pivoted as (
    select
        generation_key,
        coalesce(sum(events) filter (where not in_studio and event_type = 'impression'), 0)::bigint as impressions,
        coalesce(sum(weighted_events) filter (where not in_studio and event_type = 'impression'), 0)::double
            as effective_impressions,
        coalesce(sum(events) filter (where not in_studio and event_type = 'view'), 0)::bigint as views,
        coalesce(sum(watch_ms) filter (where not in_studio and event_type = 'view'), 0)::bigint as watch_ms,
        coalesce(sum(ratio_sum) filter (where not in_studio and event_type = 'view'), 0)::double as ratio_sum,
        coalesce(sum(ratio_sq_sum) filter (where not in_studio and event_type = 'view'), 0)::double as ratio_sq_sum,
        coalesce(sum(events) filter (where not in_studio and event_type = 'unlike'), 0)::bigint as unlikes,
        coalesce(sum(events) filter (where not in_studio and event_type = 'favorite'), 0)::bigint as favorites,
        coalesce(sum(events) filter (where not in_studio and event_type = 'share'), 0)::bigint as shares,
        coalesce(sum(events) filter (where not in_studio and event_type = 'comment'), 0)::bigint as comments,
        coalesce(sum(events) filter (where not in_studio and event_type = 'download'), 0)::bigint as downloads,
        coalesce(sum(events) filter (where not in_studio and event_type = 'dislike'), 0)::bigint as dislikes,
        coalesce(sum(events) filter (where not in_studio and event_type = 'report'), 0)::bigint as reports,
        coalesce(sum(events) filter (where in_studio and event_type = 'impression'), 0)::bigint as studio_impressions,
        coalesce(sum(events) filter (where in_studio and event_type = 'select'), 0)::bigint as selects,
        coalesce(sum(events) filter (where in_studio and event_type = 'regenerate'), 0)::bigint as regenerates
    from by_type
    group by generation_key
),

final as (
    select touched.generation_id, pivoted.* exclude (generation_key)
    from pivoted
    inner join touched using (generation_key)
)

select * from final
