-- impressions per (generation, surface, position) from viewers the label run of $label_version did not
-- flag, outside the studio (the slots the examination curve weighs): the evaluation puts the truth's
-- view probability on the label's scale with them
-- registered inputs: none; parameters: $label_version
with

events as (
    select generation_id, viewer_id, event_type, surface, position from events
),

label_abnormal_viewers as (
    select viewer_id from label_abnormal_viewers where label_version = $label_version
),

final as (
    select
        generation_id,
        surface,
        coalesce(position, -1) as position,
        count(*) as impressions
    from events
    where event_type = 'impression'
        and coalesce(surface <> 'studio', true)
        and viewer_id not in (select viewer_id from label_abnormal_viewers)
    group by all
)

select * from final
order by generation_id, surface, position
