-- impressions per (generation, exposure slot) from viewers the label run of $label_version did not flag,
-- outside the studio and not by the generation's creator, with slots as the label's examination curve
-- reads them (surface 'other' if none; on the feed the position, -1 without one): the evaluation puts
-- the truth's view probability on the label's scale with them
-- registered inputs: none; parameters: $label_version
with

events as (
    select generation_id, viewer_id, event_type, surface, position from events
),

generations as (
    select generation_id, creator_id from generations
),

label_abnormal_viewers as (
    select viewer_id from label_abnormal_viewers where label_version = $label_version
),

organic as (
    select
        events.generation_id,
        coalesce(events.surface, 'other') as surface,
        case
            when events.surface = 'feed' and events.position is not null then events.position
            else -1
        end::integer as position
    from events
    inner join generations using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.event_type = 'impression'
        and coalesce(events.surface <> 'studio', true)
        and events.viewer_id <> generations.creator_id
),

final as (
    select generation_id, surface, position, count(*) as impressions
    from organic
    group by all
)

select * from final
order by generation_id, surface, position
