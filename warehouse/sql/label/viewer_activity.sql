-- running per-viewer event counts, the input of abnormal-viewer detection
-- registered inputs: none; parameters: none
with

label_viewer_activity as (
    select viewer_id, events, impressions, views, likes from label_viewer_activity
),

final as (
    select * from label_viewer_activity
)

select * from final
