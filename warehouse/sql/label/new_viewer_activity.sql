-- per-viewer counts of the events ingested in ($since, $through]. A creator's engagement with their own
-- generations does not count (it is no sign of a bot); an event whose generation record has not arrived counts.
-- registered inputs: on a worker, events and generations (its partition's frames); parameters: $since, $through
with

events as (
    select generation_id, viewer_id, event_type, ingested_at from events
),

self_engagement as (
    select generation_id, creator_id as viewer_id from generations
),

new_events as (
    select events.viewer_id, events.event_type
    from events
    anti join self_engagement using (generation_id, viewer_id)
    where events.ingested_at > coalesce($since, '-infinity'::timestamptz)
      and events.ingested_at <= $through
),

final as (
    select
        viewer_id,
        count(*) as events,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'view') as views,
        count(*) filter (where event_type = 'like') as likes
    from new_events
    group by viewer_id
)

select * from final
