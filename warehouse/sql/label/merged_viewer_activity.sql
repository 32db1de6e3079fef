-- running counts of the viewers in `label_new_viewer_activity` (their counts of newly ingested events): the
-- stored counts plus the new ones, every position band of those viewers (their stored rows are replaced)
-- registered inputs: label_new_viewer_activity; parameters: none
with

label_new_viewer_activity as (
    select viewer_id, position_band, events, impressions, views, likes from label_new_viewer_activity
),

label_viewer_activity as (
    select viewer_id, position_band, events, impressions, views, likes from label_viewer_activity
),

viewers_with_new_events as (
    select distinct viewer_id from label_new_viewer_activity
),

stored_counts as (
    select label_viewer_activity.*
    from label_viewer_activity
    semi join viewers_with_new_events using (viewer_id)
),

final as (
    select
        viewer_id,
        position_band,
        sum(events)::bigint as events,
        sum(impressions)::bigint as impressions,
        sum(views)::bigint as views,
        sum(likes)::bigint as likes
    from (
        select * from label_new_viewer_activity
        union all
        select * from stored_counts
    )
    group by viewer_id, position_band
)

select * from final
