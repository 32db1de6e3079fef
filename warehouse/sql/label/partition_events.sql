-- the event columns label aggregation reads, of events ingested in ($since, $through] or (with $touched_only)
-- of the generations in `label_touched_generations` ingested by $through, each with its partition: a hash of
-- generation_id modulo $partitions (events and generation records of one generation share a partition)
-- registered inputs: label_touched_generations; parameters: $partitions, $since, $through, $touched_only
with

events as (
    select generation_id, viewer_id, event_type, surface, position, watch_ms, occurred_at, ingested_at
    from events
),

label_touched_generations as (
    select generation_id from label_touched_generations
),

new_events as (
    select *
    from events
    where not $touched_only
      and ingested_at > coalesce($since, '-infinity'::timestamptz)
      and ingested_at <= $through
),

events_of_touched as (
    select *
    from events
    semi join label_touched_generations using (generation_id)
    where $touched_only
      and ingested_at <= $through
),

final as (
    select *, (hash(generation_id) % $partitions)::integer as partition
    from (select * from new_events union all select * from events_of_touched)
)

select * from final
