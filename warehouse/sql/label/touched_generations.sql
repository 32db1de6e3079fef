-- known generations whose labels may change: new events in ($since, $through], new generation records in
-- ($generations_since, $generations_through], or events of viewers in `label_reclassified_viewers`
-- registered inputs: label_reclassified_viewers
-- parameters: $generations_since, $generations_through, $since, $through
with

events as (
    select generation_id, viewer_id, ingested_at from events
),

generations as (
    select generation_id, ingested_at from generations
),

label_reclassified_viewers as (
    select viewer_id from label_reclassified_viewers
),

with_new_events as (
    select distinct generation_id
    from events
    where ingested_at > coalesce($since, '-infinity'::timestamptz)
      and ingested_at <= $through
),

new_records as (
    select generation_id
    from generations
    where ingested_at > coalesce($generations_since, '-infinity'::timestamptz)
      and ingested_at <= $generations_through
),

seen_by_reclassified as (
    select distinct events.generation_id
    from events
    semi join label_reclassified_viewers using (viewer_id)
    where events.ingested_at <= $through
),

candidates as (
    select generation_id from with_new_events
    union
    select generation_id from new_records
    union
    select generation_id from seen_by_reclassified
),

final as (
    select distinct generations.generation_id
    from generations
    semi join candidates using (generation_id)
    where generations.ingested_at <= $generations_through
)

select * from final
