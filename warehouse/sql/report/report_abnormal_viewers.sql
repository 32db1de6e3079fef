-- viewers the label stage removed as bots or abnormal (label_abnormal_viewers), per rule, with their events
-- reads: label_abnormal_viewers; no parameters
create or replace view report_abnormal_viewers as
with

label_abnormal_viewers as (
    select viewer_id, reason, events, flagged_at
    from label_abnormal_viewers
),

newest_flag as (
    select viewer_id, reason, events
    from label_abnormal_viewers
    qualify row_number() over (partition by viewer_id order by flagged_at desc, reason) = 1
),

final as (
    select
        reason,
        count(*) as viewers,
        sum(events) as events
    from newest_flag
    group by reason
)

select * from final
order by viewers desc, reason
