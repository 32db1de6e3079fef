-- number of events ingested in ($since, $through]: checks that the watermark accounts for every row
-- registered inputs: none; parameters: $since, $through
with

events as (
    select ingested_at from events
),

final as (
    select count(*) as events
    from events
    where ingested_at > coalesce($since, '-infinity'::timestamptz)
      and ingested_at <= $through
)

select * from final
