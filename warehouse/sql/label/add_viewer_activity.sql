-- add the events ingested in ($since, $through] to the running per-viewer counts
insert into label_viewer_activity (viewer_id, events, impressions, views, likes)
with

events as (
    select viewer_id, event_type, ingested_at from events
),

new_events as (
    select viewer_id, event_type
    from events
    where ingested_at > coalesce($since, '-infinity'::timestamptz)
      and ingested_at <= $through
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
on conflict (viewer_id) do update set
    events = label_viewer_activity.events + excluded.events,
    impressions = label_viewer_activity.impressions + excluded.impressions,
    views = label_viewer_activity.views + excluded.views,
    likes = label_viewer_activity.likes + excluded.likes
