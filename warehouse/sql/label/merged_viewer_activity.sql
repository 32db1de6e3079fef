-- running counts of the viewers in `label_new_viewer_activity` (their counts of newly ingested events):
-- the stored counts plus the new ones
-- registered inputs: label_new_viewer_activity; parameters: none
with

label_new_viewer_activity as (
    select viewer_id, events, impressions, views, likes from label_new_viewer_activity
),

label_viewer_activity as (
    select viewer_id, events, impressions, views, likes from label_viewer_activity
),

final as (
    select
        new_counts.viewer_id,
        new_counts.events + coalesce(stored.events, 0) as events,
        new_counts.impressions + coalesce(stored.impressions, 0) as impressions,
        new_counts.views + coalesce(stored.views, 0) as views,
        new_counts.likes + coalesce(stored.likes, 0) as likes
    from label_new_viewer_activity as new_counts
    left join label_viewer_activity as stored using (viewer_id)
)

select * from final
