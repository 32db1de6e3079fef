-- clean engagement of the generations in `label_touched_generations` from the events ingested by $through, one
-- row per (generation, viewer half, period) cell: the organic count of each event type (views: also watch time,
-- the sums of the capped ratio min(watch_ms / duration_ms, $ratio_cap) and of its square, and the long views:
-- watched to the end or for $long_view_ms, counted only where the duration is known, i.e. at least
-- $min_known_duration_ms), the
-- organic impressions weighted by the examination propensity of their exposure slot (`label_adopted_examination`;
-- a slot it lacks weighs 1), and the studio impressions, selects and regenerates. Abnormal viewers
-- (`label_abnormal_viewers`) are excluded everywhere, the creator everywhere but in the studio; the slot is the
-- surface ('other' if none) and, on the feed, the position (pooled from $max_position on; -1 off the feed or
-- without a position). half = hash(viewer_id) % 2 (a viewer is wholly in one half: split-half reliability);
-- period = 1 for events $period_split_ms or more after the generation's created_at (temporal validity), only
-- for the generations whose `temporal_sample` is true (the diagnostics' fixed subset: they alone are compared
-- across periods); every event of the others is in period 0.
-- Sums are of integers (capped watch times in ms, then divided by the duration; propensities as fixed-point
-- integers, $fixed_point units per 1), so they do not depend on how the scan was split across threads. Net
-- likes come from net_likes.sql. Events are first summed per (cell, event type, studio or not), then pivoted.
-- registered inputs: label_touched_generations (generation_id, temporal_sample), label_adopted_examination
--     (on a worker also events, generations and label_abnormal_viewers: its partition's frames)
-- parameters: $fixed_point, $long_view_ms, $max_position, $min_known_duration_ms, $period_split_ms,
--     $ratio_cap, $through
with

generations as (
    select generation_id, creator_id, duration_ms, created_at from generations
),

label_touched_generations as (
    select generation_id, temporal_sample from label_touched_generations
),

label_abnormal_viewers as (
    select viewer_id from label_abnormal_viewers
),

label_adopted_examination as (
    select surface, position, round(propensity * $fixed_point)::bigint as propensity_fixed
    from label_adopted_examination
),

touched as (
    select
        generations.generation_id,
        generations.creator_id,
        generations.duration_ms,
        (generations.duration_ms * $ratio_cap)::bigint as capped_ms,
        generations.duration_ms >= $min_known_duration_ms as duration_known,
        epoch_ms(generations.created_at) as created_ms,
        coalesce(label_touched_generations.temporal_sample, false) as temporal_sample,
        (row_number() over ())::integer as generation_key
    from generations
    inner join label_touched_generations using (generation_id)
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
        (hash(events.viewer_id) % 2)::integer as half,
        (touched.temporal_sample
            and epoch_ms(events.occurred_at) - touched.created_ms >= $period_split_ms)::integer as period,
        events.watch_ms,
        least(events.watch_ms, touched.capped_ms) as capped_watch_ms,
        touched.duration_known
            and events.watch_ms >= least(touched.duration_ms, $long_view_ms) as long_view
    from events
    inner join touched using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.ingested_at <= $through
      and (events.viewer_id <> touched.creator_id or events.surface = 'studio')
),

weighted_events as (
    select
        clean_events.*,
        coalesce(label_adopted_examination.propensity_fixed, $fixed_point) as propensity_fixed
    from clean_events
    left join label_adopted_examination using (surface, position)
),

by_type as (
    select
        generation_key,
        half,
        period,
        event_type,
        in_studio,
        count(*) as events,
        sum(propensity_fixed) as weighted_events,
        sum(watch_ms) as watch_ms,
        sum(capped_watch_ms) as capped_ms,
        sum(capped_watch_ms * capped_watch_ms) as capped_sq_ms,
        count(*) filter (where long_view) as long_views
    from weighted_events
    group by generation_key, half, period, event_type, in_studio
),

pivoted as (
    select
        generation_key,
        half,
        period,
        coalesce(sum(events) filter (where not in_studio and event_type = 'impression'), 0)::bigint as impressions,
        (coalesce(sum(weighted_events) filter (where not in_studio and event_type = 'impression'), 0)::double
            / $fixed_point) as effective_impressions,
        coalesce(sum(events) filter (where not in_studio and event_type = 'view'), 0)::bigint as views,
        coalesce(sum(watch_ms) filter (where not in_studio and event_type = 'view'), 0)::bigint as watch_ms,
        coalesce(sum(capped_ms) filter (where not in_studio and event_type = 'view'), 0) as capped_ms,
        coalesce(sum(capped_sq_ms) filter (where not in_studio and event_type = 'view'), 0) as capped_sq_ms,
        coalesce(sum(long_views) filter (where not in_studio and event_type = 'view'), 0)::bigint as long_views,
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
    group by generation_key, half, period
),

final as (
    select
        touched.generation_id,
        pivoted.* exclude (generation_key, capped_ms, capped_sq_ms),
        pivoted.capped_ms::double / touched.duration_ms as ratio_sum,
        pivoted.capped_sq_ms::double / touched.duration_ms / touched.duration_ms as ratio_sq_sum
    from pivoted
    inner join touched using (generation_key)
)

select * from final
