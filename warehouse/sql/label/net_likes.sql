-- per generation in `label_touched_generations`: organic viewers whose latest like/unlike (by occurred_at, an
-- unlike winning a tie) is a like, so an unlike cancels the same viewer's earlier like and nobody counts twice;
-- abnormal viewers and the creator excluded; events ingested by $through
-- registered inputs: label_touched_generations
--     (on a worker also events, generations and label_abnormal_viewers: its partition's frames)
-- parameters: $through
with

generations as (
    select generation_id, creator_id from generations
),

label_touched_generations as (
    select generation_id from label_touched_generations
),

label_abnormal_viewers as (
    select viewer_id from label_abnormal_viewers
),

touched as (
    select generations.*
    from generations
    semi join label_touched_generations using (generation_id)
),

like_events as (
    select events.generation_id, events.viewer_id, events.event_type, events.occurred_at
    from events
    inner join touched using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.event_type in ('like', 'unlike')
      and events.ingested_at <= $through
      and coalesce(events.surface <> 'studio', true)
      and events.viewer_id <> touched.creator_id
),

latest as (
    select
        generation_id,
        viewer_id,
        arg_max(event_type, {'at': occurred_at, 'unlike': event_type = 'unlike'}) as last_action
    from like_events
    group by generation_id, viewer_id
),

final as (
    select generation_id, count(*) as likes
    from latest
    where last_action = 'like'
    group by generation_id
)

select * from final
