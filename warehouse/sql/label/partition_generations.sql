-- the generation record columns label aggregation reads, of records ingested by $generations_through, each
-- with its partition (the hash of generation_id modulo $partitions, as in partition_events)
-- registered inputs: none; parameters: $generations_through, $partitions
with

generations as (
    select generation_id, creator_id, duration_ms, created_at, ingested_at from generations
),

final as (
    select
        generation_id,
        creator_id,
        duration_ms,
        created_at,
        ingested_at,
        (hash(generation_id) % $partitions)::integer as partition
    from generations
    where ingested_at <= $generations_through
)

select * from final
