-- running per-viewer event counts by feed position band, the input of abnormal-viewer detection
-- registered inputs: none; parameters: none
with

label_viewer_activity as (
    select viewer_id, position_band, events, impressions, views, likes from label_viewer_activity
),

final as (
    select * from label_viewer_activity
)

select * from final
