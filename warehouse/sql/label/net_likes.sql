-- per (generation in `label_touched_generations`, viewer half, period) cell: organic viewers whose latest
-- like/unlike (by occurred_at, an unlike winning a tie) is a like, so an unlike cancels the same viewer's earlier
-- like and nobody counts twice. `likes`: the latest within the cell's period; `net_likes`: the viewer's latest
-- over the whole window, counted in the period it happened in (summed over cells: the generation's net likes).
-- half and period as in generation_engagement.sql (period 1 only for a generation in the temporal sample);
-- abnormal viewers and the creator excluded; events ingested by $through
-- registered inputs: label_touched_generations (generation_id, temporal_sample)
--     (on a worker also events, generations and label_abnormal_viewers: its partition's frames)
-- parameters: $period_split_ms, $through
with

generations as (
    select generation_id, creator_id, created_at from generations
),

label_touched_generations as (
    select generation_id, temporal_sample from label_touched_generations
),

label_abnormal_viewers as (
    select viewer_id from label_abnormal_viewers
),

touched as (
    select
        generations.generation_id,
        generations.creator_id,
        epoch_ms(generations.created_at) as created_ms,
        coalesce(label_touched_generations.temporal_sample, false) as temporal_sample
    from generations
    inner join label_touched_generations using (generation_id)
),

like_events as (
    select
        events.generation_id,
        events.viewer_id,
        -- the order of a viewer's actions as one number: the time, then an unlike after a like at the
        -- same time; an even key is a like, an odd one an unlike (a number is 2x cheaper to group than a struct)
        epoch_us(events.occurred_at) * 2 + (events.event_type = 'unlike')::bigint as action_key,
        (touched.temporal_sample
            and epoch_ms(events.occurred_at) - touched.created_ms >= $period_split_ms)::integer as period
    from events
    inner join touched using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.event_type in ('like', 'unlike')
      and events.ingested_at <= $through
      and coalesce(events.surface <> 'studio', true)
      and events.viewer_id <> touched.creator_id
),

latest as (
    select
        generation_id,
        (hash(viewer_id) % 2)::integer as half,
        max(action_key) as last_action,
        arg_max(period, action_key) as last_period,
        max(action_key) filter (where period = 0) as last_early,
        max(action_key) filter (where period = 1) as last_late
    from like_events
    group by generation_id, viewer_id
),

by_half as (
    select
        generation_id,
        half,
        count(*) filter (where last_early % 2 = 0) as early_likes,
        count(*) filter (where last_late % 2 = 0) as late_likes,
        count(*) filter (where last_action % 2 = 0 and last_period = 0) as early_net_likes,
        count(*) filter (where last_action % 2 = 0 and last_period = 1) as late_net_likes
    from latest
    group by generation_id, half
),

final as (
    select generation_id, half, 0 as period, early_likes as likes, early_net_likes as net_likes from by_half
    union all
    select generation_id, half, 1 as period, late_likes as likes, late_net_likes as net_likes from by_half
)

select * from final
