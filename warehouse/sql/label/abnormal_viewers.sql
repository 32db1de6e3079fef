-- the viewers excluded from labels, with the rule that flagged them
-- registered inputs: none; parameters: none
with

label_abnormal_viewers as (
    select viewer_id, reason, events, like_share, label_version, flagged_at from label_abnormal_viewers
),

final as (
    select * from label_abnormal_viewers
)

select * from final
order by viewer_id
