-- organic impressions and views per (generation, exposure slot) of the generations in `label_touched_generations`
-- that belong to the examination sample (a stable hash of generation_id divides by $sample_buckets), from the
-- events ingested by $through; abnormal viewers (`label_abnormal_viewers`) and the creator excluded. The slot is
-- the surface ('other' if none) and, on the feed, the position (pooled from $max_position on; -1 off the feed or
-- without a position). The examination curve is fitted on these cells.
-- registered inputs: label_touched_generations
--     (on a worker also events, generations and label_abnormal_viewers: its partition's frames)
-- parameters: $max_position, $sample_buckets, $through
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

sampled as (
    select generations.generation_id, generations.creator_id
    from generations
    semi join label_touched_generations using (generation_id)
    where md5_number_lower(generations.generation_id) % $sample_buckets = 0
),

organic_exposure as (
    select
        events.generation_id,
        coalesce(events.surface, 'other') as surface,
        case
            when events.surface = 'feed' and events.position is not null then least(events.position, $max_position)
            else -1
        end::integer as position,
        events.event_type
    from events
    inner join sampled using (generation_id)
    anti join label_abnormal_viewers using (viewer_id)
    where events.event_type in ('impression', 'view')
      and events.ingested_at <= $through
      and coalesce(events.surface <> 'studio', true)
      and events.viewer_id <> sampled.creator_id
),

final as (
    select
        generation_id,
        surface,
        position,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'view') as views
    from organic_exposure
    group by generation_id, surface, position
)

select * from final
