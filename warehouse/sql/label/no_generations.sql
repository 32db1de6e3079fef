-- an empty `generations` relation with the columns label aggregation reads (a partition whose events
-- arrived before any of their generation records)
-- registered inputs: none; parameters: none
with

final as (
    select
        null::varchar as generation_id,
        null::varchar as creator_id,
        null::bigint as duration_ms,
        null::timestamptz as created_at,
        null::timestamptz as ingested_at
    where false
)

select * from final
