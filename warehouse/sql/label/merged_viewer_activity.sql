-- running counts of the viewers with events ingested in ($since, $through]: their stored counts plus the new ones.
-- A creator's engagement with their own generations does not count (it is no sign of a bot).
with

events as (
    select generation_id, viewer_id, event_type, ingested_at from events
),

generations as (
    select generation_id, creator_id from generations
),

label_viewer_activity as (
    select viewer_id, events, impressions, views, likes from label_viewer_activity
),

new_events as (
    select events.viewer_id, events.event_type
    from events
    left join generations using (generation_id)
    where events.ingested_at > coalesce($since, '-infinity'::timestamptz)
      and events.ingested_at <= $through
      and events.viewer_id is distinct from generations.creator_id
),

new_counts as (
    select
        viewer_id,
        count(*) as events,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'view') as views,
        count(*) filter (where event_type = 'like') as likes
    from new_events
    group by viewer_id
),

final as (
    select
        new_counts.viewer_id,
        new_counts.events + coalesce(label_viewer_activity.events, 0) as events,
        new_counts.impressions + coalesce(label_viewer_activity.impressions, 0) as impressions,
        new_counts.views + coalesce(label_viewer_activity.views, 0) as views,
        new_counts.likes + coalesce(label_viewer_activity.likes, 0) as likes
    from new_counts
    left join label_viewer_activity using (viewer_id)
)

select * from final
