-- clean organic views per generation and watch-ratio bin, for every generation
with

label_engagement_watch as (
    select generation_id, ratio_bin, views from label_engagement_watch
),

final as (
    select * from label_engagement_watch
)

select * from final
