-- per-viewer counts of the events ingested in ($since, $through], by feed position band (floor(log2(1 +
-- position)), the last band pooling the deeper positions; -1 for other surfaces and unknown positions), so
-- a viewer's views can be set against the population's view rate at the same positions. A creator's
-- engagement with their own generations does not count (it is no sign of a bot); an event whose generation
-- record has not arrived counts.
-- registered inputs: on a worker, events and generations (its partition's frames);
-- parameters: $since, $through, $last_position_band
with

events as (
    select generation_id, viewer_id, event_type, surface, position, ingested_at from events
),

self_engagement as (
    select generation_id, creator_id as viewer_id from generations
),

new_events as (
    select
        events.viewer_id,
        events.event_type,
        case
            when events.surface = 'feed' and events.position is not null
                then least(floor(log2(1 + greatest(events.position, 0)))::integer, $last_position_band)
            else -1
        end as position_band
    from events
    anti join self_engagement using (generation_id, viewer_id)
    where events.ingested_at > coalesce($since, '-infinity'::timestamptz)
      and events.ingested_at <= $through
),

final as (
    select
        viewer_id,
        position_band,
        count(*) as events,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'view') as views,
        count(*) filter (where event_type = 'like') as likes
    from new_events
    group by viewer_id, position_band
)

select * from final
